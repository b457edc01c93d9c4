"""Three-centre, one-neighbour (triplet) features, in plain torch.

For a centre :math:`i` and an ordered pair of its neighbours :math:`(j, j')`,

.. math::

    T_{ijj'}[n_1 l_1; n_2 l_2; k; a n_3 l_3]^{\\lambda\\mu} = \\sum_{M m_3}
        C^{\\lambda\\mu}_{kM, l_3 m_3}
        \\sum_{m_1 m_2} C^{kM}_{l_1 m_1, l_2 m_2}
        \\langle n_1 l_1 m_1 | \\rho_{ij} \\rangle
        \\langle n_2 l_2 m_2 | \\rho_{ij'} \\rangle
        \\langle a n_3 l_3 m_3 | \\rho_i \\rangle,

with parity :math:`\\sigma = (-1)^{l_1 + l_2 + l_3 + \\lambda}`; for invariants
(:math:`\\lambda = 0`), :math:`l_3 = k`. The sums are regrouped (recoupled) as

.. math::

    T_{ijj'} = \\sum_{m_1} \\langle n_1 l_1 m_1 | \\rho_{ij} \\rangle
        X_{ij'}[m_1; \\ldots],

where :math:`X_{ij'}` depends on a single pair. Every triplet of a centre is then one
batched matrix product over the centre's pairs: no loop over atoms, pairs or triplets.
"""

from typing import List, Optional, Tuple

import torch

from .cg import real_clebsch_gordan
from .spans import span_product, triplet_spans


class Coupling(torch.nn.Module):
    """One coupling path ``(l_1, l_2) -> k, (k, l_3) -> lambda``.

    :param ell_1: angular channel of the first tagged neighbour
    :param ell_2: angular channel of the second tagged neighbour
    :param k: coupled channel of the two tagged neighbours
    :param ell_3: angular channel of the neighbour density
    :param o3_lambda: angular order of the result
    """

    def __init__(self, ell_1: int, ell_2: int, k: int, ell_3: int, o3_lambda: int):
        super().__init__()
        self.ell_1 = ell_1
        self.ell_2 = ell_2
        self.k = k
        self.ell_3 = ell_3
        # first component of each channel in the packed (l, m) axis
        self.start_2 = ell_2 * ell_2
        self.start_3 = ell_3 * ell_3
        first = torch.from_numpy(real_clebsch_gordan(ell_1, ell_2, k))
        second = torch.from_numpy(real_clebsch_gordan(k, ell_3, o3_lambda))
        self.register_buffer("weights", torch.einsum("abM,Mcu->abcu", first, second))

    def partner(
        self, pair_expansion: torch.Tensor, center_density: torch.Tensor
    ) -> torch.Tensor:
        """Per-pair factor :math:`X_{ij'}` of this path.

        :param pair_expansion: ``(n_pairs, n_lm, n_radial)``
        :param center_density: ``(n_pairs, n_lm, n_density)``, the density of each
            pair's centre
        :return: ``(n_pairs, 2 l_1 + 1, 2 lambda + 1, n_radial * n_density)``
        """
        second = pair_expansion[:, self.start_2 : self.start_2 + 2 * self.ell_2 + 1]
        third = center_density[:, self.start_3 : self.start_3 + 2 * self.ell_3 + 1]
        weights = self.weights.to(pair_expansion.dtype)
        partial = torch.einsum("abcu,pbn->pacun", weights, second)
        result = torch.einsum("pacun,pcf->paunf", partial, third)
        shape = result.shape
        return result.reshape(shape[0], shape[1], shape[2], shape[3] * shape[4])


class CouplingGroup(torch.nn.Module):
    """The paths of one block (``lambda``, ``sigma``) that share ``l_1``.

    :param paths: ``(l_1, l_2, k, l_3)`` of each path, all with the same ``l_1``
    :param o3_lambda: angular order of the result
    """

    def __init__(self, paths: List[Tuple[int, int, int, int]], o3_lambda: int):
        super().__init__()
        self.ell_1 = paths[0][0]
        self.paths = paths
        self.n_paths = len(paths)
        self.couplings = torch.nn.ModuleList(
            [Coupling(a, b, k, c, o3_lambda) for a, b, k, c in paths]
        )

    def size(self, n_radial: int, n_types: int) -> int:
        """Number of features of this group per angular component."""
        return self.n_paths * n_radial * n_radial * n_radial * n_types

    def partner(
        self, pair_expansion: torch.Tensor, center_density: torch.Tensor
    ) -> torch.Tensor:
        """Per-pair factors of all paths, concatenated along the last axis.

        :return: ``(n_pairs, 2 l_1 + 1, 2 lambda + 1, n_group_features)``
        """
        partners: List[torch.Tensor] = []
        for coupling in self.couplings:
            partners.append(coupling.partner(pair_expansion, center_density))
        return torch.cat(partners, dim=-1)


def coupling_paths(max_angular: int, o3_lambda: int) -> List[Tuple[int, int, int, int]]:
    """All ``(l_1, l_2, k, l_3)`` with every channel ``<= max_angular``.

    >>> len(coupling_paths(3, 0))
    34
    """
    paths = []
    for ell_1 in range(max_angular + 1):
        for ell_2 in range(max_angular + 1):
            for k in range(abs(ell_1 - ell_2), min(ell_1 + ell_2, max_angular) + 1):
                lowest = abs(k - o3_lambda)
                for ell_3 in range(lowest, min(k + o3_lambda, max_angular) + 1):
                    paths.append((ell_1, ell_2, k, ell_3))
    return paths


class TripletIndices(torch.nn.Module):
    """Placement of pairs and triplets in per-centre padded batches."""

    def forward(
        self, pair_center: torch.Tensor, n_centers: int
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """
        :param pair_center: ``(n_pairs,)`` centre index of each pair, non-decreasing
        :param n_centers: number of centres
        :return: ``first_pair`` and ``second_pair`` ``(n_triplets,)``, the pairs
            :math:`(ij, ij')` of each triplet, ordered by centre then ``j`` then
            ``j'``; ``pair_slot`` ``(n_pairs,)``, each pair's row in the padded
            ``(n_centers * max_neighbors)`` layout; ``triplet_slot``
            ``(n_triplets,)``, each triplet's row in the padded
            ``(n_centers * max_neighbors**2)`` layout; and ``max_neighbors``.
        """
        device = pair_center.device
        counts = torch.bincount(pair_center, minlength=n_centers)
        if pair_center.shape[0] == 0:
            max_neighbors = 0
        else:
            max_neighbors = int(counts.max())
        offsets = torch.cumsum(counts, 0) - counts
        n_pairs = pair_center.shape[0]
        position = torch.arange(n_pairs, device=device) - offsets[pair_center]
        pair_slot = pair_center * max_neighbors + position

        partners = counts[pair_center]
        first_pair = torch.repeat_interleave(
            torch.arange(n_pairs, device=device), partners
        )
        triplet_offsets = torch.cumsum(partners, 0) - partners
        n_triplets = first_pair.shape[0]
        rank = torch.arange(n_triplets, device=device) - triplet_offsets[first_pair]
        second_pair = offsets[pair_center[first_pair]] + rank
        triplet_slot = pair_slot[first_pair] * max_neighbors + rank
        return first_pair, second_pair, pair_slot, triplet_slot, max_neighbors


def _pad(values: torch.Tensor, slot: torch.Tensor, n_rows: int) -> torch.Tensor:
    shape = [n_rows] + list(values.shape[1:])
    padded = torch.zeros(shape, dtype=values.dtype, device=values.device)
    return padded.index_copy(0, slot, values)


class TripletContraction(torch.nn.Module):
    """Triplet features of all ``(lambda, sigma)`` blocks, and their fused projection.

    :param max_angular: largest angular channel of the expansion
    :param n_radial: number of radial functions
    :param o3_lambdas: angular orders to compute (``[0]`` for invariants)
    """

    blocks: List[Tuple[int, int]]
    block_of_group: List[int]

    def __init__(self, max_angular: int, n_radial: int, o3_lambdas: List[int]):
        super().__init__()
        self.max_angular = max_angular
        self.n_radial = n_radial
        self.indices = TripletIndices()
        #: numbers in the product of one group over one span of centres in
        #: :py:meth:`forward` (8 MiB in float64): larger spans leave the cache and
        #: fault in fresh memory, smaller ones cost more calls (each a parallel
        #: region, which costs most where threads outnumber free cores)
        self.span_numbers = 1 << 20

        # blocks ordered by lambda, then sigma = +1 before sigma = -1
        self.blocks = []
        groups: List[CouplingGroup] = []
        block_of_group: List[int] = []
        for o3_lambda in o3_lambdas:
            if o3_lambda < 0 or o3_lambda > 2 * max_angular:
                raise ValueError(
                    f"o3_lambda={o3_lambda} is out of range for max_angular="
                    f"{max_angular}"
                )
            for o3_sigma in (1, -1):
                paths = [
                    path
                    for path in coupling_paths(max_angular, o3_lambda)
                    if (-1) ** (sum(path) - path[2] + o3_lambda) == o3_sigma
                ]
                if len(paths) == 0:
                    continue
                self.blocks.append((o3_lambda, o3_sigma))
                for ell_1 in range(max_angular + 1):
                    same = [path for path in paths if path[0] == ell_1]
                    if len(same) != 0:
                        groups.append(CouplingGroup(same, o3_lambda))
                        block_of_group.append(len(self.blocks) - 1)
        self.groups = torch.nn.ModuleList(groups)
        self.block_of_group = block_of_group

    @torch.jit.unused
    def n_invariant_features(self, n_types: int) -> int:
        """Width of the concatenated invariant blocks, the input of :py:meth:`linear`.

        :param n_types: number of atomic types in the neighbour density
        """
        sizes = self.block_sizes(n_types)
        return sum(
            size for (o3_lambda, _), size in zip(self.blocks, sizes) if o3_lambda == 0
        )

    def block_sizes(self, n_types: int) -> List[int]:
        """Number of properties of each block.

        :param n_types: number of atomic types in the neighbour density
        """
        sizes = [0 for _ in self.blocks]
        for index, group in enumerate(self.groups):
            sizes[self.block_of_group[index]] += group.size(self.n_radial, n_types)
        return sizes

    def forward(
        self,
        pair_expansion: torch.Tensor,
        center_density: torch.Tensor,
        pair_center: torch.Tensor,
        n_centers: int,
        out: Optional[List[torch.Tensor]] = None,
    ) -> Tuple[List[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Triplet features of every ordered pair of neighbours of every centre.

        :param pair_expansion: ``(n_pairs, n_lm, n_radial)``, pairs sorted by centre
        :param center_density: ``(n_pairs, n_lm, n_types * n_radial)``, the density
            of each pair's centre
        :param pair_center: ``(n_pairs,)`` centre index of each pair, non-decreasing
        :param n_centers: number of centres
        :param out: tensors to write the blocks into (shapes as returned), for
            instance rows of a larger output; new tensors when ``None``
        :return: one ``(n_triplets, 2 lambda + 1, n_properties)`` tensor per block,
            and ``first_pair``, ``second_pair`` ``(n_triplets,)``
        """
        indices = self.indices(pair_center, n_centers)
        first, second = indices[0], indices[1]
        n_triplets = first.shape[0]
        n_types = center_density.shape[2] // self.n_radial
        sizes = self.block_sizes(n_types)
        blocks: List[torch.Tensor] = []
        for block_index, (o3_lambda, _) in enumerate(self.blocks):
            shape = [n_triplets, 2 * o3_lambda + 1, sizes[block_index]]
            if out is None:
                blocks.append(pair_expansion.new_empty(shape))
            else:
                if list(out[block_index].shape) != shape:
                    raise ValueError(
                        f"out[{block_index}] has shape {list(out[block_index].shape)}"
                        f", expected {shape}"
                    )
                blocks.append(out[block_index])
        if n_triplets == 0:
            return blocks, first, second

        # a group's product for every triplet would be as large as the output:
        # computing it span by span keeps it in cache, and the output is written
        # once. Under autograd every copy into the output keeps a node that clones
        # the output's gradient, so there is then a single span.
        needs_grad = torch.is_grad_enabled() and (
            pair_expansion.requires_grad or center_density.requires_grad
        )
        if needs_grad:
            span_triplets = n_triplets
        else:
            widest = 1
            for index, group in enumerate(self.groups):
                o3_lambda = self.blocks[self.block_of_group[index]][0]
                width = group.size(self.n_radial, n_types) * (2 * o3_lambda + 1)
                widest = max(widest, width)
            span_triplets = max(1, self.span_numbers // widest)
        spans = triplet_spans(pair_center, n_centers, span_triplets)

        offsets = [0 for _ in self.blocks]
        for index, group in enumerate(self.groups):
            ell_1 = group.ell_1
            own = pair_expansion[:, ell_1 * ell_1 : ell_1 * ell_1 + 2 * ell_1 + 1]
            partner = group.partner(pair_expansion, center_density)
            block = self.block_of_group[index]
            width = self.n_radial * partner.shape[3]
            target = blocks[block][:, :, offsets[block] : offsets[block] + width]
            offsets[block] += width
            for span in spans:
                span_product(own, partner, pair_center, target, span)
        return blocks, first, second

    def linear(
        self,
        pair_expansion: torch.Tensor,
        center_density: torch.Tensor,
        pair_center: torch.Tensor,
        pair_type: torch.Tensor,
        n_centers: int,
        weights: torch.Tensor,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Linear map of the invariant triplet features, without materialising them.

        Equal to ``T @ weights[a_j, a_j'].T`` with ``T`` the concatenated invariant
        blocks of :py:meth:`forward`, but the weights are contracted with the
        per-pair factors first, so memory grows as ``n_triplets * width``.

        :param pair_expansion: ``(n_pairs, n_lm, n_radial)``, pairs sorted by centre
        :param center_density: ``(n_pairs, n_lm, n_types * n_radial)``
        :param pair_center: ``(n_pairs,)`` centre index of each pair, non-decreasing
        :param pair_type: ``(n_pairs,)`` type index of each pair's neighbour
        :param n_centers: number of centres
        :param weights: ``(n_types, n_types, width, n_invariant_features)``, one
            matrix per pair of neighbour types ``(a_j, a_j')``
        :return: ``(n_triplets, width)``, and ``first_pair``, ``second_pair``
        """
        first, second, pair_slot, triplet_slot, max_neighbors = self.indices(
            pair_center, n_centers
        )
        n_rows = n_centers * max_neighbors
        n_types = weights.shape[0]
        width = weights.shape[2]
        n_pairs = pair_expansion.shape[0]

        # one slice of the weights per group; groups sharing l_1 are summed, since
        # they multiply the same pair factor
        own_by_ell: List[torch.Tensor] = []
        projected_by_ell: List[torch.Tensor] = []
        for ell_1 in range(self.max_angular + 1):
            first_lm = ell_1 * ell_1
            own_by_ell.append(pair_expansion[:, first_lm : first_lm + 2 * ell_1 + 1])
            projected_by_ell.append(
                torch.zeros(
                    (n_pairs, n_types, 2 * ell_1 + 1, self.n_radial, width),
                    dtype=pair_expansion.dtype,
                    device=pair_expansion.device,
                )
            )

        start = 0
        n_types_density = center_density.shape[2] // self.n_radial
        for index, group in enumerate(self.groups):
            # TorchScript unrolls this loop and accepts no `continue` in it
            if self.blocks[self.block_of_group[index]][0] == 0:
                size = group.size(self.n_radial, n_types_density)
                group_weights = weights[..., start : start + size]
                group_weights = group_weights.reshape(
                    n_types, n_types, width, self.n_radial, size // self.n_radial
                )
                start += size
                partner = group.partner(pair_expansion, center_density)[:, :, 0]
                if n_types == 1:
                    # one type: no masked copies, which autograd would keep alive
                    projected = torch.einsum(
                        "pmf,aqnf->pamnq", partner, group_weights[:, 0]
                    )
                else:
                    projected = torch.zeros_like(projected_by_ell[group.ell_1])
                    for second_type in range(n_types):
                        mask = pair_type == second_type
                        projected[mask] = torch.einsum(
                            "pmf,aqnf->pamnq",
                            partner[mask],
                            group_weights[:, second_type],
                        )
                projected_by_ell[group.ell_1] = (
                    projected_by_ell[group.ell_1] + projected
                )

        if start != weights.shape[-1]:
            raise ValueError(
                f"`weights` has {weights.shape[-1]} features, the invariant triplet "
                f"features have {start}"
            )

        one_hot = torch.nn.functional.one_hot(pair_type, n_types).to(
            pair_expansion.dtype
        )
        own = torch.cat([value.flatten(1) for value in own_by_ell], dim=1)
        n_own = own.shape[1]
        own = (one_hot.unsqueeze(-1) * own.unsqueeze(1)).flatten(1)
        projected = torch.cat(
            [value.flatten(2, 3) for value in projected_by_ell], dim=2
        )
        projected = projected.reshape(n_pairs, n_types * n_own, width)
        own = _pad(own, pair_slot, n_rows)
        projected = _pad(projected, pair_slot, n_rows)
        own = own.reshape(n_centers, max_neighbors, n_types * n_own)
        projected = projected.reshape(n_centers, max_neighbors, n_types * n_own, width)
        result = torch.einsum("csd,ctdq->cstq", own, projected)
        n_padded = n_centers * max_neighbors * max_neighbors
        result = result.reshape(n_padded, width)[triplet_slot]
        return result, first, second
