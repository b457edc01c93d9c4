"""Single-neighbour expansion and neighbour density, in plain torch.

.. math::

    \\langle n l m | \\rho_{ij} \\rangle = f_c(r_{ij}) R_{nl}(r_{ij})
        Y_l^m(\\hat{\\mathbf{r}}_{ij}), \\qquad
    \\langle a n l m | \\rho_i \\rangle = \\sum_{j \\in A_i,\\, a_j = a}
        \\langle n l m | \\rho_{ij} \\rangle

plus, when ``center_atom_weight`` is not zero, the centre's own Gaussian in the channel
of its type. These match featomic's ``SphericalExpansionByPair`` and
``SphericalExpansion``.
"""

import torch

from .harmonics import SphericalHarmonics
from .hypers import ExpansionHypers
from .radial import RadialSpline


class DensityExpansion(torch.nn.Module):
    """Pair expansion and type-resolved neighbour density.

    Angular components are packed along one axis of size ``(max_angular + 1) ** 2``,
    channel ``l`` occupying ``l**2 .. (l + 1)**2``.

    :param hypers: expansion hyper-parameters
    """

    def __init__(self, hypers: ExpansionHypers):
        super().__init__()
        self.max_angular = hypers.max_angular
        self.n_radial = hypers.max_radial + 1
        self.cutoff = hypers.radius
        self.center_atom_weight = hypers.center_atom_weight
        self.radial = RadialSpline(hypers)
        self.harmonics = SphericalHarmonics(hypers.max_angular)

        ells = [ell for ell in range(self.max_angular + 1) for _ in range(2 * ell + 1)]
        self.register_buffer("ell_of_lm", torch.tensor(ells, dtype=torch.long))
        # featomic places the centre at r = 0, where only l = 0 survives
        at_origin = self.radial(torch.zeros(1, dtype=torch.float64))[0, 0]
        self.register_buffer("center_radial", at_origin / (4 * torch.pi) ** 0.5)

    def pair_expansion(self, vectors: torch.Tensor) -> torch.Tensor:
        """:math:`\\langle n l m | \\rho_{ij} \\rangle` for each pair.

        :param vectors: ``(n_pairs, 3)`` vectors from centre to neighbour, in Å,
            non-zero and shorter than the cutoff
        :return: ``(n_pairs, (max_angular + 1) ** 2, max_radial + 1)``
        """
        distances = torch.linalg.vector_norm(vectors, dim=1)
        radial = self.radial(distances)
        angular = self.harmonics(vectors)
        return radial[:, self.ell_of_lm, :] * angular.unsqueeze(-1)

    def density(
        self,
        pair_expansion: torch.Tensor,
        pair_center: torch.Tensor,
        pair_neighbor_type: torch.Tensor,
        center_type: torch.Tensor,
        n_types: int,
    ) -> torch.Tensor:
        """:math:`\\langle a n l m | \\rho_i \\rangle` for each centre.

        :param pair_expansion: ``(n_pairs, n_lm, n_radial)`` from
            :py:meth:`pair_expansion`
        :param pair_center: ``(n_pairs,)`` index of each pair's centre
        :param pair_neighbor_type: ``(n_pairs,)`` type index of each pair's neighbour
        :param center_type: ``(n_centers,)`` type index of each centre
        :param n_types: number of atomic types (density channels)
        :return: ``(n_centers, n_lm, n_types, n_radial)``
        """
        n_centers = center_type.shape[0]
        n_lm = pair_expansion.shape[1]
        flat = torch.zeros(
            (n_centers * n_types, n_lm, self.n_radial),
            dtype=pair_expansion.dtype,
            device=pair_expansion.device,
        )
        flat = flat.index_add(
            0, pair_center * n_types + pair_neighbor_type, pair_expansion
        )
        density = flat.reshape(n_centers, n_types, n_lm, self.n_radial)
        density = density.transpose(1, 2)
        if self.center_atom_weight != 0.0:
            own = torch.nn.functional.one_hot(center_type, n_types)
            center = self.center_atom_weight * self.center_radial.to(density.dtype)
            density = density.clone()
            density[:, 0] += own.to(density.dtype).unsqueeze(-1) * center
        return density
