"""Invariant triple products of projected expansions, on a spherical quadrature grid.

For three functions on the sphere given by real spherical-harmonic coefficients,
:math:`a(\\hat{\\mathbf{r}}) = \\sum_{\\ell m} a^{\\ell m}
Y_\\ell^m(\\hat{\\mathbf{r}})` and likewise :math:`b`, :math:`d`, the integrals

.. math::

    G[\\ell_1 \\ell_2 \\ell_3] = \\int a^{\\ell_1}(\\hat{\\mathbf{r}})
        b^{\\ell_2}(\\hat{\\mathbf{r}}) d^{\\ell_3}(\\hat{\\mathbf{r}})
        \\,\\mathrm{d}\\hat{\\mathbf{r}}
    = \\sum_{m_1 m_2 m_3} \\langle \\ell_1 m_1 \\ell_2 m_2 \\ell_3 m_3 \\rangle
        a^{\\ell_1 m_1} b^{\\ell_2 m_2} d^{\\ell_3 m_3}

(with :math:`a^\\ell` the degree-:math:`\\ell` part of :math:`a`) are the
O(3)-invariant triple products of the three coefficient vectors: the real Gaunt
coefficients :math:`\\langle \\ldots \\rangle` are, up to one factor per path, the
Clebsch–Gordan couplings :math:`(\\ell_1 \\otimes \\ell_2)_{k = \\ell_3} \\cdot
\\ell_3`, and they vanish unless :math:`\\ell_1 + \\ell_2 + \\ell_3` is even and the
triangle condition holds. These are exactly the :math:`\\sigma = +1` invariant paths,
so every non-zero invariant path is computed at once, without a loop over paths, as a
sum over a quadrature grid exact for polynomials of degree :math:`3 \\ell_{\\max}`
(Gauss–Legendre in :math:`\\cos\\theta` times a uniform grid in :math:`\\varphi`).
"""

from typing import Dict, List, Tuple

import numpy as np
import torch

from .frame import frame_blocks
from .harmonics import SphericalHarmonics


def gaunt_paths(max_angular: int) -> List[Tuple[int, int, int]]:
    """The ``(l_1, l_2, l_3)`` with a non-zero invariant triple product.

    >>> len(gaunt_paths(3))
    23

    :param max_angular: largest angular channel of each factor
    """
    return [
        (ell_1, ell_2, ell_3)
        for ell_1 in range(max_angular + 1)
        for ell_2 in range(max_angular + 1)
        for ell_3 in range(abs(ell_1 - ell_2), min(ell_1 + ell_2, max_angular) + 1)
        if (ell_1 + ell_2 + ell_3) % 2 == 0
    ]


def sphere_quadrature(degree: int) -> Tuple[np.ndarray, np.ndarray]:
    """Points and weights integrating every polynomial of ``degree`` on the sphere.

    :param degree: largest total degree integrated exactly
    :return: unit vectors ``(n_points, 3)`` and weights ``(n_points,)`` summing to
        :math:`4\\pi`
    """
    n_theta = degree // 2 + 1
    n_phi = degree + 1
    cos_theta, theta_weights = np.polynomial.legendre.leggauss(n_theta)
    phi = 2 * np.pi * np.arange(n_phi) / n_phi
    sin_theta = np.sqrt(1 - cos_theta**2)
    points = np.stack(
        [
            sin_theta[:, None] * np.cos(phi)[None, :],
            sin_theta[:, None] * np.sin(phi)[None, :],
            np.broadcast_to(cos_theta[:, None], (n_theta, n_phi)),
        ],
        axis=-1,
    ).reshape(-1, 3)
    weights = np.repeat(theta_weights * 2 * np.pi / n_phi, n_phi)
    return points, weights


class _Block(torch.nn.Module):
    """Gaunt coefficients of the paths that share ``(l_2, l_3)``: one matrix from
    ``(m_2, m_3)`` to ``(path, m_1)``."""

    def __init__(self, ell_2: int, ell_3: int, matrix: torch.Tensor):
        super().__init__()
        self.start_2 = ell_2 * ell_2
        self.stop_2 = (ell_2 + 1) * (ell_2 + 1)
        self.start_3 = ell_3 * ell_3
        self.stop_3 = (ell_3 + 1) * (ell_3 + 1)
        self.register_buffer("matrix", matrix)


class _Group(torch.nn.Module):
    """The paths that share ``l_1``: where their ``(m_1, path)`` columns are."""

    def __init__(self, ell_1: int, n_paths: int, columns: List[int]):
        super().__init__()
        self.start = ell_1 * ell_1
        self.stop = (ell_1 + 1) * (ell_1 + 1)
        self.n_paths = n_paths
        self.register_buffer("columns", torch.tensor(columns, dtype=torch.long))


class GauntTriplets(torch.nn.Module):
    """Invariant triple products of every ordered pair of tagged neighbours.

    For a centre :math:`i` with tagged pairs :math:`j, j'` (``j = j'`` included),
    channel :math:`c` and path :math:`p = (\\ell_1, \\ell_2, \\ell_3)` of
    :py:func:`gaunt_paths`, the output is
    :math:`\\int a_{ij}^{c \\ell_1} b_{ij'}^{c \\ell_2} d_i^{c \\ell_3}`, computed
    in two products:

    .. math::

        X_{ij'}^{c}[p, m_1] = \\sum_{m_2 m_3}
            \\langle \\ell_1 m_1 \\ell_2 m_2 \\ell_3 m_3 \\rangle
            b_{ij'}^{c \\ell_2 m_2} d_i^{c \\ell_3 m_3}, \\qquad
        T_{ijj'}^{c}[p] = \\sum_{m_1} a_{ij}^{c \\ell_1 m_1} X_{ij'}^{c}[p, m_1].

    The first is one matrix product per ``(l_2, l_3)`` over all tagged pairs, with
    the real Gaunt coefficients (integrated exactly on a spherical quadrature grid at
    construction); the second is one batched product per ``l_1`` over the blocks of
    tagged pairs of each centre. Neither builds a zero-padded coefficient tensor.

    :param max_angular: largest angular channel
    """

    def __init__(self, max_angular: int):
        super().__init__()
        n_ell = max_angular + 1
        points, weights = sphere_quadrature(3 * max_angular)
        harmonics = SphericalHarmonics(max_angular)(torch.from_numpy(points))
        gaunt = torch.einsum(
            "ga,gb,gc,g->abc",
            harmonics,
            harmonics,
            harmonics,
            torch.from_numpy(weights),
        )
        self.paths = gaunt_paths(max_angular)
        blocks: List[_Block] = []
        # column of (path, m_1) in the concatenated outputs of the blocks
        column: Dict[Tuple[int, int], int] = {}
        for ell_2 in range(n_ell):
            for ell_3 in range(n_ell):
                in_block = [
                    index
                    for index, path in enumerate(self.paths)
                    if path[1] == ell_2 and path[2] == ell_3
                ]
                if len(in_block) == 0:
                    continue
                pieces = []
                for index in in_block:
                    ell_1 = self.paths[index][0]
                    for m_1 in range(2 * ell_1 + 1):
                        column[(index, m_1)] = len(column)
                    piece = gaunt[
                        ell_1 * ell_1 : (ell_1 + 1) ** 2,
                        ell_2 * ell_2 : (ell_2 + 1) ** 2,
                        ell_3 * ell_3 : (ell_3 + 1) ** 2,
                    ]
                    pieces.append(piece.permute(1, 2, 0).flatten(0, 1))
                blocks.append(_Block(ell_2, ell_3, torch.cat(pieces, dim=1)))
        self.blocks = torch.nn.ModuleList(blocks)
        groups: List[_Group] = []
        for ell_1 in range(n_ell):
            in_group = [i for i, path in enumerate(self.paths) if path[0] == ell_1]
            columns = [
                column[(index, m_1)]
                for m_1 in range(2 * ell_1 + 1)
                for index in in_group
            ]
            groups.append(_Group(ell_1, len(in_group), columns))
        self.groups = torch.nn.ModuleList(groups)

    def forward(
        self,
        first: torch.Tensor,
        second: torch.Tensor,
        density: torch.Tensor,
        tag_center: torch.Tensor,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """
        :param first: ``(n_tagged, n_channels, n_lm)`` coefficients :math:`a_{ij}`
        :param second: ``(n_tagged, n_channels, n_lm)`` coefficients
            :math:`b_{ij'}`
        :param density: ``(n_centers, n_channels, n_lm)`` coefficients :math:`d_i`
        :param tag_center: ``(n_tagged,)`` centre of each tagged pair,
            non-decreasing
        :return: ``(n_triplets, n_channels, n_paths)`` triple products, ordered by
            centre, ``j`` then ``j'``, and the centre of each triplet
            ``(n_triplets,)``
        """
        n_centers = density.shape[0]
        n_channels = density.shape[1]
        n_tagged = first.shape[0]
        slot, triplet_slot, n_max = frame_blocks(tag_center, n_centers)
        if n_max == 0:
            return density.new_zeros((0, n_channels, len(self.paths))), triplet_slot
        own_density = density[tag_center]
        partial: List[torch.Tensor] = []
        for block in self.blocks:
            second_ell = second[:, :, block.start_2 : block.stop_2]
            density_ell = own_density[:, :, block.start_3 : block.stop_3]
            outer = (second_ell.unsqueeze(3) * density_ell.unsqueeze(2)).flatten(2, 3)
            partial.append(outer @ block.matrix.to(outer.dtype))
        partner = torch.cat(partial, dim=2)

        center = torch.div(triplet_slot, n_max * n_max, rounding_mode="floor")
        first_rank = torch.div(triplet_slot, n_max, rounding_mode="floor") % n_max
        second_rank = triplet_slot % n_max
        results: List[torch.Tensor] = []
        for group in self.groups:
            # (centre, c, j, m1) @ (centre, c, m1, (j', path))
            own = _blocks(first[:, :, group.start : group.stop], slot, n_centers, n_max)
            own = own.permute(0, 2, 1, 3)
            columns = partner.index_select(2, group.columns)
            columns = columns.reshape(n_tagged, n_channels, -1, group.n_paths)
            columns = _blocks(columns, slot, n_centers, n_max).permute(0, 2, 3, 1, 4)
            product = own @ columns.flatten(3, 4)
            product = product.unflatten(3, [n_max, group.n_paths])
            results.append(product[center, :, first_rank, second_rank])
        return torch.cat(results, dim=2), center


def _blocks(
    values: torch.Tensor, slot: torch.Tensor, n_centers: int, n_max: int
) -> torch.Tensor:
    """``(n_tagged, ...)`` rows placed in ``(n_centers, n_max, ...)`` blocks."""
    if values.shape[0] != n_centers * n_max:
        shape = [n_centers * n_max] + list(values.shape[1:])
        values = values.new_zeros(shape).index_copy(0, slot, values)
    return values.unflatten(0, [n_centers, n_max])
