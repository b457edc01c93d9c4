"""The metatensor layer: :py:class:`TripletFeatures`, on the pure-torch
:py:class:`~tricenter.features.core.TripletCore`."""

from typing import Iterator, List, Optional, Tuple

import torch
from metatensor.torch import Labels, TensorMap
from metatomic.torch import NeighborListOptions, System

from .batches import center_chunks, prepare_pairs, torch_labels, warn_if_no_neighbors
from .blocks import TRIPLET_SAMPLES, assemble, triplet_properties
from .contraction import TripletContraction
from .core import TripletCore
from .expansion import DensityExpansion
from .hypers import parse_hypers
from .maps import density_map, pair_expansion_map
from .neighbors import Pairs, gather_pairs


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

    Hyper-parameters are keyword-only, as in featomic.
    """

    atomic_types: List[int]
    _properties: List[Labels]
    _sample_names: List[str]
    __jit_unused_properties__ = ["hypers", "expansion", "contraction"]

    def __init__(
        self,
        *,
        cutoff: dict,
        density: dict,
        basis: dict,
        atomic_types: Optional[List[int]] = None,
        o3_lambdas: Optional[List[int]] = None,
    ):
        super().__init__()
        hypers = parse_hypers(cutoff, density, basis)
        self._hypers = hypers
        #: the pure-torch core (:py:class:`~tricenter.features.core.TripletCore`)
        self.core = TripletCore(hypers, o3_lambdas)
        # TensorMap blocks must share their components: invariants drop ``o3_mu``
        # only when no equivariant block is requested
        self.invariants_only = all(
            o3_lambda == 0 for o3_lambda, _ in self.core.contraction.blocks
        )
        self.cutoff = hypers.radius
        if atomic_types is None:
            self.atomic_types = []
        else:
            if len(atomic_types) == 0 or len(set(atomic_types)) != len(atomic_types):
                raise ValueError(
                    f"`atomic_types` must be unique and not empty, got {atomic_types}"
                )
            self.atomic_types = sorted(int(t) for t in atomic_types)
        self._properties = triplet_properties(self.core.contraction, self.atomic_types)
        self._sample_names = TRIPLET_SAMPLES

    @property
    def hypers(self) -> dict:
        """The hyper-parameters, in featomic's format."""
        return self._hypers.as_featomic()

    @property
    def expansion(self) -> DensityExpansion:
        """The core's pair expansion and density."""
        return self.core.expansion

    @property
    def contraction(self) -> TripletContraction:
        """The core's triplet contraction."""
        return self.core.contraction

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        """The full neighbour list that systems passed to ``forward`` must carry."""
        return self.core.requested_neighbor_lists()

    def forward(
        self,
        systems: List[System],
        selected_samples: Optional[Labels] = None,
        selected_keys: Optional[Labels] = None,
    ) -> TensorMap:
        """Triplet features of systems carrying the requested neighbour list.

        :param systems: systems with a neighbour list for
            :py:meth:`requested_neighbor_lists`
        :param selected_samples: centres to compute, with an ``atom`` and optionally
            a ``system`` column
        :param selected_keys: blocks to return: ``Labels`` whose names are some of
            the key names (for instance only ``o3_lambda``, or only
            ``center_type``); a block is returned when its key matches one of the
            entries on these names. All blocks when ``None``
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
        pairs = gather_pairs(systems, self.core.options, selected_samples)
        values, samples, types = self._contract(pairs, self.atomic_types, False, None)
        return assemble(
            self.core.contraction.blocks,
            values,
            samples,
            types,
            self._sample_names,
            self.atomic_types,
            self._properties,
            self.invariants_only,
            selected_keys,
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
        known = torch.tensor(atomic_types, device=pairs.vectors.device)
        expansions = self.core(pairs, known)
        if summed:
            n_types = len(atomic_types)
            triplets = self.core.summed(expansions.density)
            # pseudo-pair ``i * n_types + a`` stands for the neighbours of type a
            triplet_center = torch.div(triplets.first, n_types, rounding_mode="floor")
            first_type = triplets.first % n_types
            second_type = triplets.second % n_types
            samples = pairs.centers[triplet_center]
        else:
            triplets = self.core.triplets(expansions, out)
            first, second = triplets.first, triplets.second
            triplet_center = pairs.pair_center[first]
            first_type = expansions.pair_type[first]
            second_type = expansions.pair_type[second]
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
            [expansions.center_type[triplet_center], first_type, second_type], dim=1
        )
        return triplets.values, samples.to(torch.int32), types

    @torch.jit.unused
    def _prepare(self, systems, selected_samples):
        """Systems, pairs, atomic types and property labels of a computation."""
        systems, pairs, present = prepare_pairs(
            systems, selected_samples, self.core.options
        )
        if len(self.atomic_types) != 0:
            return systems, pairs, self.atomic_types, self._properties
        return (
            systems,
            pairs,
            present,
            triplet_properties(self.core.contraction, present),
        )

    @torch.jit.unused
    def compute(
        self,
        systems,
        selected_samples=None,
        *,
        selected_keys=None,
        max_triplets: int = 10000,
    ) -> TensorMap:
        """Triplet features of ASE atoms or metatomic systems.

        Neighbour lists are computed (with vesin) for systems that do not carry one.
        For metatomic systems, values are differentiable with respect to their
        positions and cells; ASE atoms take a faster float64 path. Centres are
        processed in chunks of at most ``max_triplets`` triplets (a centre is never
        split), which bounds the intermediate memory to a fraction of one chunk's
        output; the result itself holds every triplet (7344 numbers per triplet at
        the paper's hypers), so for large systems iterate over
        :py:meth:`compute_chunks`, or use :py:meth:`compute_sum` or a model's fused
        layer.

        Warns (``UserWarning``) when no centre has a neighbour within the cutoff,
        so that the result is empty.

        :param systems: an ``ase.Atoms``, a :py:class:`metatomic.torch.System`, or a
            list of them
        :param selected_samples: centres to compute (metatensor or metatensor-torch
            ``Labels``), with an ``atom`` and optionally a ``system`` column
        :param selected_keys: blocks to return (metatensor or metatensor-torch
            ``Labels``), see :py:meth:`forward`
        :param max_triplets: largest number of triplets computed at once
        :return: see :py:meth:`forward`
        """
        systems, pairs, types, properties = self._prepare(systems, selected_samples)
        warn_if_no_neighbors(systems, pairs, self.cutoff)
        selected_keys = torch_labels(selected_keys)
        n_triplets, chunks = center_chunks(pairs, max_triplets)
        if len(chunks) <= 1:
            values, samples, triplet_types = self._contract(pairs, types, False, None)
        else:
            # every chunk writes its rows of one preallocated output: no joining
            # copies
            sizes = self.core.contraction.block_sizes(len(types))
            values = [
                pairs.vectors.new_empty((n_triplets, 2 * o3_lambda + 1, size))
                for (o3_lambda, _), size in zip(self.core.contraction.blocks, sizes)
            ]
            device = pairs.centers.device
            samples = torch.empty(
                (n_triplets, len(self._sample_names)), dtype=torch.int32, device=device
            )
            triplet_types = torch.empty(
                (n_triplets, 3), dtype=torch.long, device=device
            )
            for chunk in chunks:
                out = [block[chunk.rows] for block in values]
                _, samples[chunk.rows], triplet_types[chunk.rows] = self._contract(
                    chunk.pairs, types, False, out
                )
        return self._triplet_map(
            values, samples, triplet_types, types, properties, selected_keys
        )

    @torch.jit.unused
    def _triplet_map(
        self, values, samples, triplet_types, types, properties, selected_keys
    ) -> TensorMap:
        """The ``TensorMap`` of contracted triplets, for :py:meth:`compute` and
        :py:meth:`compute_chunks`."""
        return assemble(
            self.core.contraction.blocks,
            values,
            samples,
            triplet_types,
            self._sample_names,
            types,
            properties,
            self.invariants_only,
            selected_keys,
        )

    @torch.jit.unused
    def compute_chunks(
        self,
        systems,
        selected_samples=None,
        *,
        selected_keys=None,
        max_triplets: int = 10000,
    ) -> Iterator[TensorMap]:
        """The triplet features of :py:meth:`compute`, one chunk of centres at a time.

        Each ``TensorMap`` holds the triplets of consecutive centres, at most
        ``max_triplets`` of them (a centre is never split, so a centre with more
        triplets makes a chunk of its own), with the same keys and properties as
        :py:meth:`compute`; joining the blocks of all chunks along the samples gives
        :py:meth:`compute`'s. Each chunk owns its memory: a caller that keeps only
        what it derives from a chunk needs memory for one chunk at a time, whatever
        the number of centres.

        Inputs are checked and neighbour lists computed when this is called; the
        triplets of a chunk, when the iterator reaches it. There is one chunk (with
        empty blocks) when no centre has a neighbour, and none without centres.

        >>> import metatensor.torch as mts
        >>> import torch
        >>> from tricenter import PAPER_HYPERS
        >>> from tricenter.datasets import b8_pairs
        >>> calculator = TripletFeatures(**PAPER_HYPERS)
        >>> frames = b8_pairs(3)  # 6 clusters; 49 triplets around each central atom
        >>> central = mts.Labels(["atom"], torch.tensor([[0]], dtype=torch.int32))
        >>> chunks = calculator.compute_chunks(
        ...     frames, selected_samples=central, max_triplets=100
        ... )
        >>> [len(chunk.block(0).samples) for chunk in chunks]
        [98, 98, 98]

        :param systems: see :py:meth:`compute`
        :param selected_samples: see :py:meth:`compute`
        :param selected_keys: see :py:meth:`compute`
        :param max_triplets: largest number of triplets of a chunk
        :return: an iterator over ``TensorMap``, one per chunk, in centre order
        """
        systems, pairs, types, properties = self._prepare(systems, selected_samples)
        warn_if_no_neighbors(systems, pairs, self.cutoff)
        selected_keys = torch_labels(selected_keys)
        _, chunks = center_chunks(pairs, max_triplets)

        def chunk_maps():
            for chunk in chunks:
                values, samples, triplet_types = self._contract(
                    chunk.pairs, types, False, None
                )
                yield self._triplet_map(
                    values, samples, triplet_types, types, properties, selected_keys
                )

        return chunk_maps()

    @torch.jit.unused
    def compute_sum(
        self, systems, selected_samples=None, *, selected_keys=None
    ) -> TensorMap:
        """Per-centre sums of the triplet features over ``(j, j')``.

        Since :math:`\\sum_j \\rho_{ij} = \\rho_i`, these are the ν = 3 atom-centred
        invariants (the bispectrum), computed without materialising the triplets.

        :param selected_keys: blocks to return, see :py:meth:`forward`
        :return: same keys and properties as :py:meth:`compute`, samples ``system,
            atom``
        """
        _, pairs, types, properties = self._prepare(systems, selected_samples)
        values, samples, triplet_types = self._contract(pairs, types, True, None)
        return assemble(
            self.core.contraction.blocks,
            values,
            samples,
            triplet_types,
            ["system", "atom"],
            types,
            properties,
            self.invariants_only,
            torch_labels(selected_keys),
        )

    @torch.jit.unused
    def compute_pairs(self, systems, selected_samples=None) -> Pairs:
        """Centres and pairs, as used internally (see :py:class:`Pairs`)."""
        return self._prepare(systems, selected_samples)[1]

    @torch.jit.unused
    def compute_pair_expansion(self, systems, selected_samples=None) -> TensorMap:
        """The single-neighbour expansion :math:`\\langle nlm | \\rho_{ij} \\rangle`.

        Names follow featomic's ``SphericalExpansionByPair`` (without its ``i == i``
        self pairs): keys ``o3_lambda, o3_sigma, first_atom_type,
        second_atom_type``, samples ``system, first_atom, second_atom, cell_shift_a,
        cell_shift_b, cell_shift_c``, components ``o3_mu``, properties ``n``.
        """
        _, pairs, types, _ = self._prepare(systems, selected_samples)
        return pair_expansion_map(self.core, pairs, types)

    @torch.jit.unused
    def compute_density(self, systems, selected_samples=None) -> TensorMap:
        """The neighbour density :math:`\\langle a n l m | \\rho_i \\rangle`.

        Names follow featomic's ``SphericalExpansion``: keys ``o3_lambda, o3_sigma,
        center_type, neighbor_type``, samples ``system, atom``, components
        ``o3_mu``, properties ``n``.
        """
        _, pairs, types, _ = self._prepare(systems, selected_samples)
        return density_map(self.core, pairs, types)
