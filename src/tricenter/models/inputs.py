"""From systems to the per-pair tensors that the triplet models contract."""

from typing import Dict, List, Optional

import torch
from metatensor.torch import Labels
from metatomic.torch import NeighborListOptions, System

from ..features.core import Expansions, TripletCore
from ..features.hypers import parse_hypers
from ..features.neighbors import gather_pairs


class TripletInputs(torch.nn.Module):
    """Pair expansions and neighbour densities of the selected centres.

    :param hypers: featomic-style ``{"cutoff": ..., "density": ..., "basis": ...}``
    :param atomic_types: atomic types the model knows (centres and neighbours)
    """

    atomic_types: List[int]

    def __init__(self, hypers: Dict, atomic_types: List[int]):
        super().__init__()
        unknown = set(hypers) - {"cutoff", "density", "basis"}
        if unknown:
            raise ValueError(
                f"unknown hyper-parameter groups {sorted(unknown)}: expected cutoff, "
                "density and basis"
            )
        if len(atomic_types) == 0 or len(set(atomic_types)) != len(atomic_types):
            raise ValueError(
                f"`atomic_types` must be unique and not empty, got {atomic_types}"
            )
        #: the pure-torch core (:py:class:`~tricenter.features.core.TripletCore`)
        self.features = TripletCore(
            parse_hypers(hypers["cutoff"], hypers["density"], hypers["basis"])
        )
        self.cutoff = self.features.cutoff
        self.atomic_types = sorted(int(t) for t in atomic_types)
        self.n_types = len(self.atomic_types)
        self.register_buffer("types", torch.tensor(self.atomic_types, dtype=torch.long))
        #: number of invariant triplet features per pair of neighbour types
        self.n_features = self.features.contraction.n_invariant_features(self.n_types)

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        """The full neighbour list the systems must carry."""
        return self.features.requested_neighbor_lists()

    def forward(
        self, systems: List[System], selected_atoms: Optional[Labels]
    ) -> Expansions:
        """Expansions of the selected centres of systems carrying the neighbour list
        of :py:meth:`requested_neighbor_lists`.

        :raises ValueError: for atomic types the model does not know
        """
        pairs = gather_pairs(systems, self.features.options, selected_atoms)
        return self.features(pairs, self.types)

    def summed(self, density: torch.Tensor) -> torch.Tensor:
        """Invariant triplet features summed over ``(j, j')`` of each type pair.

        The density of each neighbour type plays the part of a single pair, so this
        never builds the triplets. By the sum rule these are the ν = 3 invariants.

        :param density: ``(n_centers, n_lm, n_types * n_radial)``
        :return: ``(n_centers, n_types, n_types, n_features)``
        """
        values = self.features.summed(density).values
        result = self.features.invariants(values)
        return result.reshape(density.shape[0], self.n_types, self.n_types, -1)
