"""The pure-torch core: from pairs of centres and neighbours to triplet features.

:py:class:`TripletCore` takes and returns plain tensors (through the named tuples
:py:class:`~tricenter.features.neighbors.Pairs`, :py:class:`Expansions` and
:py:class:`Triplets`). The models of :py:mod:`tricenter.models` and the metatensor
calculator :py:class:`~tricenter.features.calculator.TripletFeatures` are both built
on it.

>>> import torch
>>> from tricenter.features.hypers import PAPER_HYPERS, parse_hypers
>>> from tricenter.features.neighbors import Pairs
>>> core = TripletCore(parse_hypers(**PAPER_HYPERS))
>>> pairs = Pairs(  # one boron centre with two boron neighbours
...     centers=torch.tensor([[0, 0]]),
...     center_types=torch.tensor([5]),
...     vectors=torch.tensor([[1.6, 0.0, 0.0], [0.0, 1.7, 0.0]], dtype=torch.float64),
...     pair_center=torch.tensor([0, 0]),
...     neighbors=torch.tensor([1, 2]),
...     neighbor_types=torch.tensor([5, 5]),
...     cell_shifts=torch.zeros((2, 3), dtype=torch.long),
... )
>>> expansions = core(pairs, torch.tensor([5]))
>>> expansions.density.shape  # (n_centers, n_lm, n_types * n_radial)
torch.Size([1, 16, 6])
>>> core.invariants(core.triplets(expansions).values).shape  # 4 ordered pairs
torch.Size([4, 7344])
"""

from typing import List, NamedTuple, Optional

import torch
from ase.data import chemical_symbols
from metatomic.torch import NeighborListOptions

from .contraction import TripletContraction
from .expansion import DensityExpansion
from .hypers import ExpansionHypers
from .neighbors import Pairs


class Expansions(NamedTuple):
    """Pair expansions and neighbour densities of a batch of centres."""

    #: ``(n_pairs, n_lm, n_radial)`` expansion of each pair, sorted by centre
    expansion: torch.Tensor
    #: ``(n_centers, n_lm, n_types * n_radial)`` neighbour density of each centre
    density: torch.Tensor
    #: ``(n_pairs,)`` index of each pair's centre
    pair_center: torch.Tensor
    #: ``(n_pairs,)`` type index of each pair's neighbour
    pair_type: torch.Tensor
    #: ``(n_centers, 2)`` system and atom index of each centre
    centers: torch.Tensor
    #: ``(n_centers,)`` type index of each centre
    center_type: torch.Tensor


class Triplets(NamedTuple):
    """Triplet features of every ordered pair ``(j, j')`` of every centre."""

    #: one ``(n_triplets, 2 lambda + 1, n_properties)`` tensor per ``(lambda,
    #: sigma)`` block, in the order of the contraction's ``blocks``
    values: List[torch.Tensor]
    #: ``(n_triplets,)`` index of the pair of ``j``
    first: torch.Tensor
    #: ``(n_triplets,)`` index of the pair of ``j'``
    second: torch.Tensor


class TripletCore(torch.nn.Module):
    """Expansion, density and triplet contraction, on plain tensors.

    Atomic types are an input, not a setting: each call gives the sorted atomic
    types that label the density channels, and the returned type indices point
    into them. :py:meth:`forward`, :py:meth:`triplets`, :py:meth:`summed` and
    :py:meth:`invariants` are all available after ``torch.jit.script``.

    :param hypers: expansion hyper-parameters (from
        :py:func:`~tricenter.features.hypers.parse_hypers`)
    :param o3_lambdas: angular orders of the triplet blocks; ``[0]`` (the default)
        for invariants
    """

    symbols: List[str]

    def __init__(self, hypers: ExpansionHypers, o3_lambdas: Optional[List[int]] = None):
        super().__init__()
        o3_lambdas = [0] if o3_lambdas is None else sorted(set(o3_lambdas))
        self.expansion = DensityExpansion(hypers)
        self.contraction = TripletContraction(
            hypers.max_angular, hypers.max_radial + 1, o3_lambdas
        )
        self.cutoff = hypers.radius
        self.options = NeighborListOptions(
            cutoff=hypers.radius, full_list=True, strict=True
        )
        # element symbols for error messages, readable from TorchScript
        self.symbols = list(chemical_symbols)

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        """The full neighbour list that the pairs come from."""
        return [self.options]

    def symbol(self, atomic_type: int) -> str:
        """Element symbol of an atomic number (``"?"`` outside the periodic table).

        :param atomic_type: atomic number
        """
        if 0 < atomic_type < len(self.symbols):
            return self.symbols[atomic_type]
        return "?"

    @torch.jit.export
    def type_index(
        self, types: torch.Tensor, atomic_types: torch.Tensor
    ) -> torch.Tensor:
        """Position of each type in ``atomic_types``.

        :param types: ``(n,)`` atomic types
        :param atomic_types: ``(n_types,)`` sorted, unique known types
        :return: ``(n,)`` indices into ``atomic_types``
        :raises ValueError: for types not in ``atomic_types``, naming them
        """
        types = types.to(atomic_types.device)
        index = torch.searchsorted(atomic_types, types)
        index = index.clamp(max=atomic_types.shape[0] - 1)
        wrong = atomic_types[index] != types
        if bool(torch.any(wrong)):
            unknown: List[int] = torch.unique(types[wrong]).tolist()
            known: List[int] = atomic_types.tolist()
            unknown_names = ", ".join([self.symbol(t) for t in unknown])
            known_names = ", ".join([f"{self.symbol(t)} ({t})" for t in known])
            raise ValueError(
                f"atomic types {unknown} ({unknown_names}) are not supported: the "
                f"supported types are {known_names}"
            )
        return index

    def forward(self, pairs: Pairs, atomic_types: torch.Tensor) -> Expansions:
        """Pair expansions and type-resolved neighbour densities.

        :param pairs: centres and pairs, sorted by centre
        :param atomic_types: ``(n_types,)`` sorted, unique atomic types of the
            density channels; every centre and neighbour type must be one of them
        """
        center_type = self.type_index(pairs.center_types, atomic_types)
        pair_type = self.type_index(pairs.neighbor_types, atomic_types)
        n_centers = pairs.centers.shape[0]
        expansion = self.expansion.pair_expansion(pairs.vectors)
        density = self.expansion.density(
            expansion,
            pairs.pair_center,
            pair_type,
            center_type,
            atomic_types.shape[0],
        )
        n_channels = atomic_types.shape[0] * self.expansion.n_radial
        density = density.reshape(n_centers, density.shape[1], n_channels)
        return Expansions(
            expansion, density, pairs.pair_center, pair_type, pairs.centers, center_type
        )

    @torch.jit.export
    def triplets(
        self, expansions: Expansions, out: Optional[List[torch.Tensor]] = None
    ) -> Triplets:
        """Triplet features of every ordered pair of neighbours of every centre.

        :param expansions: output of :py:meth:`forward`
        :param out: tensors to write the blocks into, for instance rows of a larger
            output; new tensors when ``None``
        """
        pair_center = expansions.pair_center
        values, first, second = self.contraction(
            expansions.expansion,
            expansions.density[pair_center],
            pair_center,
            expansions.density.shape[0],
            out,
        )
        return Triplets(values, first, second)

    @torch.jit.export
    def summed(self, density: torch.Tensor) -> Triplets:
        """Triplet features summed over the ``(j, j')`` of each pair of types.

        The density of each neighbour type plays the part of one pair, so the
        triplets are never built; by the sum rule these are the ν = 3 invariants.
        The ``n_types`` pseudo-pairs of centre ``i`` have indices ``i * n_types +
        a``, so each centre has ``n_types ** 2`` rows, ordered by ``(a, b)``.

        :param density: ``(n_centers, n_lm, n_types * n_radial)``
        """
        n_centers = density.shape[0]
        n_lm = density.shape[1]
        n_radial = self.contraction.n_radial
        n_types = density.shape[2] // n_radial
        expansion = density.reshape(n_centers, n_lm, n_types, n_radial).transpose(1, 2)
        expansion = expansion.reshape(n_centers * n_types, n_lm, n_radial)
        pair_center = torch.arange(n_centers, device=density.device)
        pair_center = pair_center.repeat_interleave(n_types)
        values, first, second = self.contraction(
            expansion, density[pair_center], pair_center, n_centers
        )
        return Triplets(values, first, second)

    @torch.jit.export
    def invariants(self, values: List[torch.Tensor]) -> torch.Tensor:
        """The ``lambda = 0`` blocks side by side.

        :param values: blocks, as in :py:attr:`Triplets.values`
        :return: ``(n_triplets, n_invariant_features)``
        """
        invariants: List[torch.Tensor] = []
        for index, block in enumerate(self.contraction.blocks):
            if block[0] == 0:
                invariants.append(values[index][:, 0])
        return torch.cat(invariants, dim=1)
