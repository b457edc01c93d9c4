"""Invariant triple products of projected expansions: true scalars and pseudoscalars.

For three functions on the sphere given by real spherical-harmonic coefficients,
:math:`a(\\hat{\\mathbf{r}}) = \\sum_{\\ell m} a^{\\ell m}
Y_\\ell^m(\\hat{\\mathbf{r}})` and likewise :math:`b`, :math:`d`, the integrals

.. math::

    T[\\ell_1 \\ell_2 \\ell_3] = \\int a^{\\ell_1}(\\hat{\\mathbf{r}})
        b^{\\ell_2}(\\hat{\\mathbf{r}}) d^{\\ell_3}(\\hat{\\mathbf{r}})
        \\,\\mathrm{d}\\hat{\\mathbf{r}}
    = \\sum_{m_1 m_2 m_3} \\langle \\ell_1 m_1 \\ell_2 m_2 \\ell_3 m_3 \\rangle
        a^{\\ell_1 m_1} b^{\\ell_2 m_2} d^{\\ell_3 m_3}

(with :math:`a^\\ell` the degree-:math:`\\ell` part of :math:`a`) are the
O(3)-invariant triple products of the three coefficient vectors: the real Gaunt
coefficients :math:`\\langle \\ldots \\rangle` are, up to one factor per path, the
Clebsch–Gordan couplings :math:`(\\ell_1 \\otimes \\ell_2)_{k = \\ell_3} \\cdot
\\ell_3`, and they vanish unless :math:`\\ell_1 + \\ell_2 + \\ell_3` is even and the
triangle condition holds: these are the :math:`\\sigma = +1` paths. They are integrated
exactly on a quadrature grid of degree :math:`3 \\ell_{\\max}` (Gauss–Legendre in
:math:`\\cos\\theta` times a uniform grid in :math:`\\varphi`).

The paths with :math:`\\ell_1 + \\ell_2 + \\ell_3` odd (:math:`\\sigma = -1`) give the
pseudoscalars

.. math::

    P[\\ell_1 \\ell_2 \\ell_3] = \\sum_{m_1 m_2 m_3}
        C^{\\ell_3 m_3}_{\\ell_1 m_1, \\ell_2 m_2}
        a^{\\ell_1 m_1} b^{\\ell_2 m_2} d^{\\ell_3 m_3},

with the real Clebsch–Gordan coefficients of :py:mod:`tricenter.features.cg`: they are
invariant under proper rotations and change sign under inversion (for
:math:`\\ell_1 = \\ell_2 = \\ell_3 = 1`, :math:`P = (\\mathbf{a} \\times \\mathbf{b})
\\cdot \\mathbf{d}` up to a factor). Both kinds are computed together, without a loop
over paths.
"""

from typing import List, Optional, Tuple

import numpy as np
import torch

from .cg import real_clebsch_gordan
from .harmonics import SphericalHarmonics


def gaunt_paths(max_angular: int) -> List[Tuple[int, int, int]]:
    """The ``(l_1, l_2, l_3)`` with a non-zero Gaunt coefficient (:math:`\\sigma = +1`).

    >>> len(gaunt_paths(3))
    23

    :param max_angular: largest angular channel of each factor
    """
    return [path for path in _triangles(max_angular) if sum(path) % 2 == 0]


def pseudoscalar_paths(max_angular: int) -> List[Tuple[int, int, int]]:
    """The ``(l_1, l_2, l_3)`` of the :math:`\\sigma = -1` triple products.

    >>> pseudoscalar_paths(2)
    [(1, 1, 1), (1, 2, 2), (2, 1, 2), (2, 2, 1)]

    :param max_angular: largest angular channel of each factor
    """
    return [path for path in _triangles(max_angular) if sum(path) % 2 == 1]


def _triangles(max_angular: int) -> List[Tuple[int, int, int]]:
    return [
        (ell_1, ell_2, ell_3)
        for ell_1 in range(max_angular + 1)
        for ell_2 in range(max_angular + 1)
        for ell_3 in range(abs(ell_1 - ell_2), min(ell_1 + ell_2, max_angular) + 1)
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


def _coefficients(max_angular: int, paths: List[Tuple[int, int, int]]) -> List:
    """``(2 l_1 + 1, 2 l_2 + 1, 2 l_3 + 1)`` coupling of each path: real Gaunt
    coefficients for even paths, real Clebsch–Gordan coefficients for odd ones."""
    points, weights = sphere_quadrature(3 * max_angular)
    harmonics = SphericalHarmonics(max_angular)(torch.from_numpy(points)).numpy()
    coefficients = []
    for ell_1, ell_2, ell_3 in paths:
        if (ell_1 + ell_2 + ell_3) % 2 == 0:
            blocks = [
                harmonics[:, ell * ell : (ell + 1) ** 2]
                for ell in (ell_1, ell_2, ell_3)
            ]
            coefficients.append(np.einsum("g,ga,gb,gc->abc", weights, *blocks))
        else:
            coefficients.append(real_clebsch_gordan(ell_1, ell_2, ell_3))
    return coefficients


class GauntTriplets(torch.nn.Module):
    """Invariant triple products of every ordered pair of tagged neighbours.

    For a centre :math:`i` with tagged pairs :math:`j, j'` (``j = j'`` included),
    channel :math:`c` and path :math:`p = (\\ell_1, \\ell_2, \\ell_3)` with coupling
    coefficients :math:`G^p` (Gaunt for :math:`\\sigma = +1`, Clebsch–Gordan for
    :math:`\\sigma = -1`), the output is computed in three products:

    .. math::

        Q_i^{c}[p, m_1, m_2] = \\sum_{m_3} G^p_{m_1 m_2 m_3} d_i^{c \\ell_3 m_3},
        \\quad
        X_{ij'}^{c}[p, m_1] = \\sum_{m_2} Q_i^{c}[p, m_1, m_2]
            b_{ij'}^{c \\ell_2 m_2}, \\quad
        T_{ijj'}^{c}[p] = \\sum_{m_1} a_{ij}^{c \\ell_1 m_1} X_{ij'}^{c}[p, m_1].

    The first is one matrix product over all centres; the second is one batched
    product per :math:`\\ell_2` (all paths and :math:`\\ell_1` together), the third
    one per :math:`\\ell_1`, over the tagged pairs of each centre and channel: a few
    large products rather than one per path or per :math:`(\\ell_1, \\ell_2)`.
    Centres are batched by their number of tagged pairs, so that no block is
    padded. No tensor grows with the number of tagged pairs times
    :math:`(2\\ell + 1)^2`.

    :param max_angular: largest angular channel
    :param parity: also compute the :math:`\\sigma = -1` paths
        (:py:func:`pseudoscalar_paths`), after the :math:`\\sigma = +1` ones
    """

    def __init__(self, max_angular: int, parity: bool = False):
        super().__init__()
        n_ell = max_angular + 1
        even = gaunt_paths(max_angular)
        odd = pseudoscalar_paths(max_angular) if parity else []
        #: the paths, in the order of the output: σ = +1 first
        self.paths = even + odd
        self.n_even = len(even)
        coefficients = _coefficients(max_angular, self.paths)
        # the paths of each (l_1, l_2), in output order
        n_lm = n_ell * n_ell
        paths_of = {
            (ell_1, ell_2): [
                p for p, path in enumerate(self.paths) if path[:2] == (ell_1, ell_2)
            ]
            for ell_1 in range(n_ell)
            for ell_2 in range(n_ell)
        }
        # Q = G d, grouped by l_2: rows (l_1, m_1, p), columns m_2, where
        # Q[m_1, p, m_2] = sum over m_3 of G^p[m_1, m_2, m_3] d[l_3 m_3]; the paths
        # of each (l_1, l_2) come in output order, so σ = +1 before σ = −1
        columns: List[np.ndarray] = []
        column_path: List[np.ndarray] = []
        #: the σ = +1 paths and all paths of each (l_1, l_2), by l_1 then l_2
        self.rows_of: List[List[Tuple[int, int]]] = [[] for _ in range(n_ell)]
        row_sizes: List[List[int]] = []
        for ell_2 in range(n_ell):
            row_sizes.append([])
            for ell_1 in range(n_ell):
                paths = paths_of[(ell_1, ell_2)]
                block = np.zeros((n_lm, 2 * ell_1 + 1, len(paths), 2 * ell_2 + 1))
                for k, p in enumerate(paths):
                    ell_3 = self.paths[p][2]
                    block[ell_3 * ell_3 : (ell_3 + 1) ** 2, :, k, :] = coefficients[
                        p
                    ].transpose(2, 0, 1)
                columns.append(block.reshape(n_lm, -1))
                path_index = np.array(paths, dtype=np.int64)[None, :, None]
                column_path.append(np.broadcast_to(path_index, block.shape[1:]))
                n_even = sum(1 for p in paths if p < self.n_even)
                self.rows_of[ell_1].append((n_even, len(paths)))
                row_sizes[ell_2].append((2 * ell_1 + 1) * len(paths))
        #: rows of the partner products of each l_2, by l_1
        self.row_sizes = row_sizes
        #: the σ = +1 and σ = −1 paths of each l_1
        self.parity_widths = [
            [sum(e for e, _ in rows), sum(t - e for e, t in rows)]
            for rows in self.rows_of
        ]
        # constants of the coupling, rebuilt from max_angular and parity: not saved
        self.register_buffer(
            "density_matrix",
            torch.from_numpy(np.concatenate(columns, axis=1)),
            persistent=False,
        )
        self.register_buffer(
            "column_path",
            torch.from_numpy(np.concatenate([c.reshape(-1) for c in column_path])),
            persistent=False,
        )
        self.ell_sizes = [2 * ell + 1 for ell in range(n_ell)]
        self.coupled_sizes = [
            sum(rows) * (2 * ell_2 + 1) for ell_2, rows in enumerate(self.row_sizes)
        ]

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # models saved before the coupling constants were left out of the state
        for name in ("density_matrix", "order"):
            state_dict.pop(prefix + name, None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

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
        :return: ``(n_triplets, n_channels, n_paths)`` triple products and the
            centre of each triplet ``(n_triplets,)``, ordered by the number of
            tagged pairs of the centre, then by centre, ``j`` and ``j'``
        """
        even, odd, center = self.parts(first, second, density, tag_center, None)
        return torch.cat([even, odd], dim=2), center

    def parts(
        self,
        first: torch.Tensor,
        second: torch.Tensor,
        density: torch.Tensor,
        tag_center: torch.Tensor,
        path_scale: Optional[torch.Tensor],
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The products of :py:meth:`forward`, each parity in its own contiguous
        tensor, optionally scaled per path (at no cost: the scale goes into the
        coupling constants).

        :param path_scale: ``(n_paths,)`` factor of each path, or ``None``
        :return: ``(n_triplets, n_channels, n_even)`` σ = +1 products,
            ``(n_triplets, n_channels, n_paths - n_even)`` σ = −1 products, and the
            centre of each triplet ``(n_triplets,)``
        """
        n_centers = density.shape[0]
        n_channels = density.shape[1]
        n_odd = len(self.paths) - self.n_even
        counts = torch.bincount(tag_center, minlength=n_centers)
        if tag_center.shape[0] == 0:
            return (
                density.new_zeros((0, n_channels, self.n_even)),
                density.new_zeros((0, n_channels, n_odd)),
                tag_center,
            )
        matrix = self.density_matrix.to(density.dtype)
        if path_scale is not None:
            matrix = matrix * path_scale.to(density.dtype)[self.column_path]
        # (centre, c, (rows, m_2)) per l_2: G contracted with the density once,
        # one product per l_2 (a split of one product would copy its gradient)
        flat = density.reshape(n_centers * n_channels, -1)
        coupled = [
            (flat @ block).reshape(n_centers, n_channels, -1)
            for block in matrix.split(self.coupled_sizes, dim=1)
        ]
        # centres with the same number of tagged pairs make one batch of equal
        # blocks: no padding, one group of products per distinct count
        sizes: List[int] = torch.unique(counts[counts > 0]).tolist()
        evens: List[torch.Tensor] = []
        odds: List[torch.Tensor] = []
        centers: List[torch.Tensor] = []
        pair_count = counts[tag_center]
        for n in sizes:
            chosen = torch.nonzero(counts == n).reshape(-1)
            block_first, block_second, block_coupled = first, second, coupled
            if len(sizes) != 1:
                rows = torch.nonzero(pair_count == n).reshape(-1)
                block_first, block_second = first[rows], second[rows]
            if chosen.shape[0] != n_centers:
                block_coupled = [c.index_select(0, chosen) for c in coupled]
            even, odd = self._equal_blocks(block_first, block_second, block_coupled, n)
            evens.append(even)
            odds.append(odd)
            centers.append(torch.repeat_interleave(chosen, n * n))
        return _joined(evens), _joined(odds), _joined(centers)

    def _equal_blocks(
        self,
        first: torch.Tensor,
        second: torch.Tensor,
        coupled: List[torch.Tensor],
        n: int,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Triple products of centres that all have ``n`` tagged pairs.

        :param first: ``(n_centers * n, n_channels, n_lm)``, by centre
        :param second: ``(n_centers * n, n_channels, n_lm)``
        :param coupled: ``(n_centers, n_channels, n_coupled)`` for each l_2, the
            density contracted with the coupling coefficients
        :return: the σ = +1 products ``(n_centers * n * n, n_channels, n_even)`` and
            the σ = −1 products ``(n_centers * n * n, n_channels, n_paths -
            n_even)``, by centre, ``j`` then ``j'``
        """
        n_centers, n_channels = coupled[0].shape[0], coupled[0].shape[1]
        n_batch = n_centers * n_channels
        seconds = _by_center(second, n_centers, n).split(self.ell_sizes, dim=2)
        firsts = _by_center(first, n_centers, n).split(self.ell_sizes, dim=2)
        # one product per l_2: (centre c, j', m_2) @ (centre c, m_2, (l_1, m_1, p)),
        # split by l_1
        partners: List[List[torch.Tensor]] = []
        for ell_2, size in enumerate(self.ell_sizes):
            matrix = coupled[ell_2].reshape(n_batch, -1, size)
            partner = _product(seconds[ell_2], matrix.transpose(1, 2))
            partners.append(partner.split(self.row_sizes[ell_2], dim=2))
        # (centre, j, j', c, p) blocks of each parity, l_1 by l_1: output order
        blocks: List[List[torch.Tensor]] = [[], []]
        for ell_1, size in enumerate(self.ell_sizes):
            # (centre c, m_1, j', (l_2, p)): the rows of l_1 of every l_2, the
            # σ = +1 paths of every l_2 first
            pieces: List[List[torch.Tensor]] = [[], []]
            for ell_2, (n_even, n_paths) in enumerate(self.rows_of[ell_1]):
                rows = partners[ell_2][ell_1].reshape(n_batch, n, size, n_paths)
                halves = rows.split([n_even, n_paths - n_even], dim=3)
                for parity, half in enumerate(halves):
                    if half.shape[3] > 0:
                        pieces[parity].append(half.transpose(1, 2))
            partner = _joined(pieces[0] + pieces[1], 3)
            n_even, n_odd = self.parity_widths[ell_1]
            # (centre c, j, m_1) @ (centre c, m_1, (j', l_2, p)), both parities in
            # one product
            product = _product(firsts[ell_1], partner.reshape(n_batch, size, -1))
            product = product.reshape(n_centers, n_channels, n, n, n_even + n_odd)
            # every l_1 has σ = +1 paths (l_1, 0, l_1); l_1 = 0 has no σ = −1 path
            parts = [product]
            if n_odd > 0:
                parts = list(product.split([n_even, n_odd], dim=4))
            for parity, part in enumerate(parts):
                blocks[parity].append(part.permute(0, 2, 3, 1, 4))
        even = _joined(blocks[0], 4).reshape(n_centers * n * n, n_channels, -1)
        if len(blocks[1]) == 0:
            return even, even.new_zeros((even.shape[0], n_channels, 0))
        odd = _joined(blocks[1], 4).reshape(n_centers * n * n, n_channels, -1)
        return even, odd


def _product(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Batched matrix product; a broadcast product when the contracted size is 1
    (faster than ``bmm`` for such thin matrices)."""
    if first.shape[2] == 1:
        return first * second
    return torch.bmm(first, second)


def _joined(tensors: List[torch.Tensor], dim: int = 0) -> torch.Tensor:
    """``torch.cat`` that leaves a single tensor as it is (no copy)."""
    if len(tensors) == 1:
        return tensors[0]
    return torch.cat(tensors, dim=dim)


def _by_center(values: torch.Tensor, n_centers: int, n: int) -> torch.Tensor:
    """``(n_centers * n, n_channels, n_lm)`` rows as ``(n_centers * n_channels, n,
    n_lm)`` blocks."""
    blocks = values.unflatten(0, [n_centers, n]).transpose(1, 2)
    return blocks.reshape(n_centers * values.shape[1], n, values.shape[2])
