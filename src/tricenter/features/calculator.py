"""The metatensor layer: :py:class:`TripletFeatures`."""

import itertools
from typing import List, Optional, Tuple

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import NeighborListOptions, System

from .contraction import TripletContraction
from .expansion import DensityExpansion
from .hypers import parse_hypers
from .neighbors import (
    Pairs,
    gather_pairs,
    is_ase_atoms,
    pairs_from_atoms,
    systems_with_neighbors,
)


TRIPLET_SAMPLES = [
    "system",
    "center",
    "neighbor_1",
    "neighbor_2",
    "cell_shift_1_a",
    "cell_shift_1_b",
    "cell_shift_1_c",
    "cell_shift_2_a",
    "cell_shift_2_b",
    "cell_shift_2_c",
]
TRIPLET_KEYS = [
    "o3_lambda",
    "o3_sigma",
    "center_type",
    "neighbor_1_type",
    "neighbor_2_type",
]
TRIPLET_PROPERTIES = ["l_1", "n_1", "l_2", "k", "l_3", "n_2", "neighbor_3_type", "n_3"]


class TripletFeatures(torch.nn.Module):
    """Three-centre, one-neighbour features of atomic environments.

    For each centre ``i`` and each ordered pair ``(j, j')`` of its neighbours (``j ==
    j'`` included), the neighbour density of ``i`` is coupled with the expansions of
    the two tagged neighbours (paper Eq. 1, see :ref:`theory`). Hyper-parameters use
    featomic's dictionary format, so the same dictionaries configure featomic's
    ``SphericalExpansion``.

    >>> import ase
    >>> calculator = TripletFeatures(
    ...     cutoff={
    ...         "radius": 2.0,
    ...         "smoothing": {"type": "ShiftedCosine", "width": 0.1},
    ...     },
    ...     density={"type": "Gaussian", "width": 0.2, "center_atom_weight": 0.0},
    ...     basis={
    ...         "type": "TensorProduct",
    ...         "max_angular": 3,
    ...         "radial": {"type": "Gto", "max_radial": 5},
    ...     },
    ... )
    >>> water = ase.Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    >>> features = calculator.compute([water])
    >>> features.keys.names
    ['o3_lambda', 'o3_sigma', 'center_type', 'neighbor_1_type', 'neighbor_2_type']
    >>> block = features.block(
    ...     {
    ...         "o3_lambda": 0,
    ...         "o3_sigma": 1,
    ...         "center_type": 8,
    ...         "neighbor_1_type": 1,
    ...         "neighbor_2_type": 1,
    ...     }
    ... )
    >>> block.values.shape  # 4 ordered (j, j') pairs of H around O
    torch.Size([4, 9936])

    :param cutoff: featomic cutoff: ``{"radius": float, "smoothing": {"type":
        "ShiftedCosine", "width": float} | {"type": "Step"}}``
    :param density: featomic density: ``{"type": "Gaussian", "width": float,
        "center_atom_weight": float}``
    :param basis: featomic basis: ``{"type": "TensorProduct", "max_angular": int,
        "radial": {"type": "Gto", "max_radial": int}}``
    :param atomic_types: atomic types of the keys and of the density channels; when
        ``None`` they are taken from each call's systems (then only
        :py:meth:`compute` works, not the TorchScript ``forward``)
    :param o3_lambdas: angular orders of the blocks; ``[0]`` (the default) gives the
        invariants, without components; larger values add equivariant blocks, and then
        every block (``lambda = 0`` included) has an ``o3_mu`` component
    """

    atomic_types: List[int]
    _properties: List[Labels]
    _sample_names: List[str]
    _key_names: List[str]
    __jit_unused_properties__ = ["hypers"]

    def __init__(
        self,
        cutoff: dict,
        density: dict,
        basis: dict,
        atomic_types: Optional[List[int]] = None,
        o3_lambdas: Optional[List[int]] = None,
    ):
        super().__init__()
        hypers = parse_hypers(cutoff, density, basis)
        self._hypers = hypers
        o3_lambdas = [0] if o3_lambdas is None else sorted(set(o3_lambdas))
        self.expansion = DensityExpansion(hypers)
        self.contraction = TripletContraction(
            hypers.max_angular, hypers.max_radial + 1, o3_lambdas
        )
        # TensorMap blocks must share their components: invariants drop ``o3_mu``
        # only when no equivariant block is requested
        self.invariants_only = o3_lambdas == [0]
        self.cutoff = hypers.radius
        self.options = NeighborListOptions(
            cutoff=hypers.radius, full_list=True, strict=True
        )
        if atomic_types is None:
            self.atomic_types = []
        else:
            if len(atomic_types) == 0 or len(set(atomic_types)) != len(atomic_types):
                raise ValueError(
                    f"`atomic_types` must be unique and not empty, got {atomic_types}"
                )
            self.atomic_types = sorted(int(t) for t in atomic_types)
        self._properties = self._make_properties(self.atomic_types)
        self._sample_names = TRIPLET_SAMPLES
        self._key_names = TRIPLET_KEYS

    @property
    def hypers(self) -> dict:
        """The hyper-parameters, in featomic's format."""
        return self._hypers.as_featomic()

    @torch.jit.unused
    def _make_properties(self, types: List[int]) -> List[Labels]:
        n_radial = self.contraction.n_radial
        rows_by_block: List[List[List[int]]] = [[] for _ in self.contraction.blocks]
        for index, group in enumerate(self.contraction.groups):
            rows = rows_by_block[self.contraction.block_of_group[index]]
            for n_1 in range(n_radial):
                for ell_1, ell_2, k, ell_3 in group.paths:
                    for n_2, a_3, n_3 in itertools.product(
                        range(n_radial), types, range(n_radial)
                    ):
                        rows.append([ell_1, n_1, ell_2, k, ell_3, n_2, a_3, n_3])
        return [
            Labels(
                TRIPLET_PROPERTIES,
                torch.tensor(rows, dtype=torch.int32).reshape(-1, 8),
            )
            for rows in rows_by_block
        ]

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        """The full neighbour list that systems passed to ``forward`` must carry."""
        return [self.options]

    def forward(
        self, systems: List[System], selected_samples: Optional[Labels] = None
    ) -> TensorMap:
        """Triplet features of systems carrying the requested neighbour list.

        :param systems: systems with a neighbour list for
            :py:meth:`requested_neighbor_lists`
        :param selected_samples: centres to compute, with an ``atom`` and optionally
            a ``system`` column
        :return: a TensorMap with keys ``o3_lambda, o3_sigma, center_type,
            neighbor_1_type, neighbor_2_type``, samples ``system, center, neighbor_1,
            neighbor_2`` and the cell shifts of both neighbours, properties ``l_1, n_1,
            l_2, k, l_3, n_2, neighbor_3_type, n_3``
        """
        if len(self.atomic_types) == 0:
            raise ValueError(
                "this calculator was created without `atomic_types`: use compute(), "
                "or create it with atomic_types=[...] to call it directly"
            )
        pairs = gather_pairs(systems, self.options, selected_samples)
        return self._triplets(pairs, self.atomic_types, self._properties, False)

    def _type_index(self, types: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        index = torch.searchsorted(known, types).clamp(max=known.shape[0] - 1)
        wrong = known[index] != types
        if bool(torch.any(wrong)):
            unknown: List[int] = torch.unique(types[wrong]).tolist()
            allowed: List[int] = known.tolist()
            raise ValueError(
                f"atomic types {unknown} are not in this calculator's atomic_types "
                f"{allowed}"
            )
        return index

    def _triplets(
        self,
        pairs: Pairs,
        atomic_types: List[int],
        properties: List[Labels],
        summed: bool,
    ) -> TensorMap:
        values, samples, types = self._contract(pairs, atomic_types, summed, None)
        if summed:
            sample_names = ["system", "atom"]
        else:
            sample_names = self._sample_names
        return self._assemble(
            values, samples, types, sample_names, atomic_types, properties
        )

    def _contract(
        self,
        pairs: Pairs,
        atomic_types: List[int],
        summed: bool,
        out: Optional[List[torch.Tensor]],
    ) -> Tuple[List[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Values of every block (written into ``out`` when given), the samples and
        the ``(center, neighbor_1, neighbor_2)`` type indices of each triplet."""
        device = pairs.vectors.device
        known = torch.tensor(atomic_types, device=device)
        n_types = len(atomic_types)
        n_centers = pairs.centers.shape[0]
        center_index = self._type_index(pairs.center_types.to(device), known)
        neighbor_index = self._type_index(pairs.neighbor_types.to(device), known)

        expansion = self.expansion.pair_expansion(pairs.vectors)
        density = self.expansion.density(
            expansion, pairs.pair_center, neighbor_index, center_index, n_types
        )
        n_lm = density.shape[1]
        n_radial = density.shape[3]
        density = density.reshape(n_centers, n_lm, n_types * n_radial)

        if summed:
            # sum over j and j' of each type: the density itself plays the pair
            expansion = density.reshape(n_centers, n_lm, n_types, n_radial)
            expansion = expansion.transpose(1, 2)
            expansion = expansion.reshape(n_centers * n_types, n_lm, n_radial)
            pair_center = torch.arange(n_centers, device=device).repeat_interleave(
                n_types
            )
            neighbor_index = torch.arange(n_types, device=device).repeat(n_centers)
        else:
            pair_center = pairs.pair_center

        values, first, second = self.contraction(
            expansion, density[pair_center], pair_center, n_centers, out
        )
        triplet_center = pair_center[first]
        if summed:
            samples = pairs.centers[triplet_center]
        else:
            samples = torch.cat(
                [
                    pairs.centers[triplet_center],
                    pairs.neighbors[first].unsqueeze(1),
                    pairs.neighbors[second].unsqueeze(1),
                    pairs.cell_shifts[first],
                    pairs.cell_shifts[second],
                ],
                dim=1,
            )
        types = torch.stack(
            [
                center_index[triplet_center],
                neighbor_index[first],
                neighbor_index[second],
            ],
            dim=1,
        )
        return values, samples.to(torch.int32), types

    def _assemble(
        self,
        values: List[torch.Tensor],
        samples: torch.Tensor,
        types: torch.Tensor,
        sample_names: List[str],
        atomic_types: List[int],
        properties: List[Labels],
    ) -> TensorMap:
        """One block per ``(lambda, sigma)`` and triplet of types; all type keys are
        present, empty where no triplet matches."""
        device = samples.device
        n_types = len(atomic_types)
        keys: List[List[int]] = []
        blocks: List[TensorBlock] = []
        for block_index, (o3_lambda, o3_sigma) in enumerate(self.contraction.blocks):
            block_values = values[block_index]
            if self.invariants_only:
                block_values = block_values[:, 0]
                components: List[Labels] = []
            else:
                mu = torch.arange(-o3_lambda, o3_lambda + 1, device=device)
                components = [Labels(["o3_mu"], mu.reshape(-1, 1).to(torch.int32))]
            for a in range(n_types):
                for b in range(n_types):
                    for c in range(n_types):
                        mask = (
                            (types[:, 0] == a) & (types[:, 1] == b) & (types[:, 2] == c)
                        )
                        keys.append(
                            [
                                o3_lambda,
                                o3_sigma,
                                atomic_types[a],
                                atomic_types[b],
                                atomic_types[c],
                            ]
                        )
                        if bool(torch.all(mask)):
                            # a single block holds everything: no copy
                            kept_values = block_values
                            kept_samples = samples
                        else:
                            kept_values = block_values[mask]
                            kept_samples = samples[mask]
                        blocks.append(
                            TensorBlock(
                                values=kept_values,
                                samples=Labels(
                                    sample_names, kept_samples, assume_unique=True
                                ),
                                components=components,
                                properties=properties[block_index].to(device),
                            )
                        )
        key_labels = Labels(
            self._key_names, torch.tensor(keys, dtype=torch.int32, device=device)
        )
        return TensorMap(key_labels, blocks)

    @torch.jit.unused
    def _prepare(self, systems, selected_samples):
        """Pairs of ASE atoms or metatomic systems, with the atomic types to use."""
        if not isinstance(systems, (list, tuple)):
            systems = [systems]
        # metatensor-core Labels hold numpy arrays; metatensor-torch Labels tensors
        if selected_samples is not None and not isinstance(
            selected_samples.values, torch.Tensor
        ):
            selected_samples = Labels(
                list(selected_samples.names),
                torch.tensor(selected_samples.values.tolist(), dtype=torch.int32),
            )
        if all(is_ase_atoms(system) for system in systems):
            pairs = pairs_from_atoms(systems, self.cutoff, selected_samples)
            present = {int(t) for atoms in systems for t in set(atoms.numbers)}
        else:
            systems = systems_with_neighbors(systems, self.cutoff)
            pairs = gather_pairs(systems, self.options, selected_samples)
            present = {int(t) for system in systems for t in system.types.tolist()}

        if len(self.atomic_types) != 0:
            return pairs, self.atomic_types, self._properties
        types = sorted(present)
        return pairs, types, self._make_properties(types)

    @torch.jit.unused
    def compute(
        self, systems, selected_samples=None, *, max_triplets: int = 10000
    ) -> TensorMap:
        """Triplet features of ASE atoms or metatomic systems.

        Neighbour lists are computed (with vesin) for systems that do not carry one.
        For metatomic systems, values are differentiable with respect to their
        positions and cells; ASE atoms take a faster float64 path. Centres are
        processed in chunks of at most ``max_triplets`` triplets (a centre is never
        split), which bounds the intermediate memory to a few times that of one
        chunk's output; the result itself holds every triplet, so for
        large systems prefer :py:meth:`compute_sum` or a model's fused layer.

        :param systems: an ``ase.Atoms``, a :py:class:`metatomic.torch.System`, or a
            list of them
        :param selected_samples: centres to compute (metatensor or metatensor-torch
            ``Labels``), with an ``atom`` and optionally a ``system`` column
        :param max_triplets: largest number of triplets computed at once
        :return: see :py:meth:`forward`
        """
        pairs, types, properties = self._prepare(systems, selected_samples)
        n_centers = pairs.centers.shape[0]
        counts = torch.bincount(pairs.pair_center, minlength=n_centers)
        cumulative = torch.cumsum(counts * counts, 0)
        chunk_of_center = torch.div(
            cumulative - counts * counts, max(max_triplets, 1), rounding_mode="floor"
        )
        chunk_ids = torch.unique(chunk_of_center)
        if len(chunk_ids) <= 1:
            return self._triplets(pairs, types, properties, False)
        # every chunk writes its rows of one preallocated output: no joining copies
        n_triplets = int((counts * counts).sum())
        sizes = self.contraction.block_sizes(len(types))
        values = [
            pairs.vectors.new_empty((n_triplets, 2 * o3_lambda + 1, size))
            for (o3_lambda, _), size in zip(self.contraction.blocks, sizes)
        ]
        device = pairs.centers.device
        samples = torch.empty(
            (n_triplets, len(self._sample_names)), dtype=torch.int32, device=device
        )
        triplet_types = torch.empty((n_triplets, 3), dtype=torch.long, device=device)
        pair_offsets = torch.cumsum(counts, 0) - counts
        triplet_offsets = cumulative - counts * counts
        for chunk in chunk_ids:
            centers = torch.nonzero(chunk_of_center == chunk)[:, 0]
            first, last = int(centers[0]), int(centers[-1]) + 1
            start = int(pair_offsets[first])
            stop = start + int(counts[first:last].sum())
            chunk_pairs = Pairs(
                pairs.centers[first:last],
                pairs.center_types[first:last],
                pairs.vectors[start:stop],
                pairs.pair_center[start:stop] - first,
                pairs.neighbors[start:stop],
                pairs.neighbor_types[start:stop],
                pairs.cell_shifts[start:stop],
            )
            rows = slice(int(triplet_offsets[first]), int(cumulative[last - 1]))
            out = [block[rows] for block in values]
            _, samples[rows], triplet_types[rows] = self._contract(
                chunk_pairs, types, False, out
            )
        return self._assemble(
            values, samples, triplet_types, self._sample_names, types, properties
        )

    @torch.jit.unused
    def compute_sum(self, systems, selected_samples=None) -> TensorMap:
        """Per-centre sums of the triplet features over ``(j, j')``.

        Since :math:`\\sum_j \\rho_{ij} = \\rho_i`, these are the ν = 3 atom-centred
        invariants (the bispectrum), computed without materialising the triplets.

        :return: same keys and properties as :py:meth:`compute`, samples ``system,
            atom``
        """
        pairs, types, properties = self._prepare(systems, selected_samples)
        return self._triplets(pairs, types, properties, True)

    @torch.jit.unused
    def compute_pairs(self, systems, selected_samples=None) -> Pairs:
        """Centres and pairs, as used internally (see :py:class:`Pairs`)."""
        return self._prepare(systems, selected_samples)[0]

    @torch.jit.unused
    def _by_angular(self, entries, sample_names, key_names) -> TensorMap:
        """One block per ``(l, key)`` from ``(key, values, samples)`` entries, with
        ``values`` of shape ``(n_samples, n_lm, n_properties)``."""
        blocks, keys = [], []
        for row, values, samples in entries:
            n = torch.arange(values.shape[-1], dtype=torch.int32).reshape(-1, 1)
            for ell in range(self._hypers.max_angular + 1):
                mu = torch.arange(-ell, ell + 1, dtype=torch.int32).reshape(-1, 1)
                keys.append([ell, 1] + row)
                blocks.append(
                    TensorBlock(
                        values=values[:, ell**2 : (ell + 1) ** 2],
                        samples=Labels(sample_names, samples.to(torch.int32)),
                        components=[Labels(["o3_mu"], mu)],
                        properties=Labels(["n"], n),
                    )
                )
        keys = Labels(key_names, torch.tensor(keys, dtype=torch.int32))
        return TensorMap(keys, blocks)

    @torch.jit.unused
    def compute_pair_expansion(self, systems, selected_samples=None) -> TensorMap:
        """The single-neighbour expansion :math:`\\langle nlm | \\rho_{ij} \\rangle`.

        Names follow featomic's ``SphericalExpansionByPair`` (without its ``i == i``
        self pairs): keys ``o3_lambda, o3_sigma, first_atom_type,
        second_atom_type``, samples ``system, first_atom, second_atom, cell_shift_a,
        cell_shift_b, cell_shift_c``, components ``o3_mu``, properties ``n``.
        """
        pairs, types, _ = self._prepare(systems, selected_samples)
        values = self.expansion.pair_expansion(pairs.vectors)
        samples = torch.cat(
            [
                pairs.centers[pairs.pair_center],
                pairs.neighbors.unsqueeze(1),
                pairs.cell_shifts,
            ],
            dim=1,
        )
        first_types = pairs.center_types[pairs.pair_center]
        entries = []
        for a in types:
            for b in types:
                mask = (first_types == a) & (pairs.neighbor_types == b)
                entries.append(([a, b], values[mask], samples[mask]))
        names = ["system", "first_atom", "second_atom"]
        names += ["cell_shift_a", "cell_shift_b", "cell_shift_c"]
        key_names = ["o3_lambda", "o3_sigma", "first_atom_type", "second_atom_type"]
        return self._by_angular(entries, names, key_names)

    @torch.jit.unused
    def compute_density(self, systems, selected_samples=None) -> TensorMap:
        """The neighbour density :math:`\\langle a n l m | \\rho_i \\rangle`.

        Names follow featomic's ``SphericalExpansion``: keys ``o3_lambda, o3_sigma,
        center_type, neighbor_type``, samples ``system, atom``, components
        ``o3_mu``, properties ``n``.
        """
        pairs, types, _ = self._prepare(systems, selected_samples)
        known = torch.tensor(types)
        center_index = self._type_index(pairs.center_types, known)
        neighbor_index = self._type_index(pairs.neighbor_types, known)
        expansion = self.expansion.pair_expansion(pairs.vectors)
        density = self.expansion.density(
            expansion, pairs.pair_center, neighbor_index, center_index, len(types)
        )
        entries = []
        for a in types:
            mask = pairs.center_types == a
            for index, b in enumerate(types):
                entries.append(([a, b], density[mask, :, index], pairs.centers[mask]))
        key_names = ["o3_lambda", "o3_sigma", "center_type", "neighbor_type"]
        return self._by_angular(entries, ["system", "atom"], key_names)
