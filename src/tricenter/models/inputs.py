"""From systems to the per-pair tensors that the triplet models contract."""

from typing import Dict, List, Optional, Tuple

import torch
from metatensor.torch import Labels
from metatomic.torch import System

from ..features.calculator import TripletFeatures
from ..features.neighbors import gather_pairs


class TripletInputs(torch.nn.Module):
    """Pair expansions and neighbour densities of the selected centres.

    :param hypers: featomic-style ``{"cutoff": ..., "density": ..., "basis": ...}``
    :param atomic_types: atomic types the model knows (centres and neighbours)
    """

    def __init__(self, hypers: Dict, atomic_types: List[int]):
        super().__init__()
        unknown = set(hypers) - {"cutoff", "density", "basis"}
        if unknown:
            raise ValueError(
                f"unknown hyper-parameter groups {sorted(unknown)}: expected cutoff, "
                "density and basis"
            )
        self.features = TripletFeatures(
            cutoff=hypers["cutoff"],
            density=hypers["density"],
            basis=hypers["basis"],
            atomic_types=atomic_types,
        )
        self.atomic_types: List[int] = self.features.atomic_types
        self.n_types = len(self.atomic_types)
        self.register_buffer("types", torch.tensor(self.atomic_types, dtype=torch.long))
        #: number of invariant triplet features per pair of neighbour types
        self.n_features = self.features.contraction.n_invariant_features(self.n_types)

    def forward(
        self, systems: List[System], selected_atoms: Optional[Labels]
    ) -> Tuple[
        torch.Tensor,
        torch.Tensor,
        torch.Tensor,
        torch.Tensor,
        torch.Tensor,
        torch.Tensor,
    ]:
        """
        :return: ``expansion`` ``(n_pairs, n_lm, n_radial)``, ``density``
            ``(n_centers, n_lm, n_types * n_radial)``, ``pair_center`` and
            ``pair_type`` ``(n_pairs,)``, ``centers`` ``(n_centers, 2)`` and
            ``center_type`` ``(n_centers,)`` (type indices)
        """
        pairs = gather_pairs(systems, self.features.options, selected_atoms)
        device = self.types.device
        center_type = self.features._type_index(
            pairs.center_types.to(device), self.types
        )
        pair_type = self.features._type_index(
            pairs.neighbor_types.to(device), self.types
        )
        n_centers = pairs.centers.shape[0]
        expansion = self.features.expansion.pair_expansion(pairs.vectors)
        density = self.features.expansion.density(
            expansion, pairs.pair_center, pair_type, center_type, self.n_types
        )
        density = density.reshape(n_centers, density.shape[1], -1)
        return (
            expansion,
            density,
            pairs.pair_center,
            pair_type,
            pairs.centers,
            center_type,
        )

    def summed(self, density: torch.Tensor) -> torch.Tensor:
        """Invariant triplet features summed over ``(j, j')`` of each type pair.

        The density of each neighbour type plays the part of a single pair, so this
        never builds the triplets. By the sum rule these are the ν = 3 invariants.

        :param density: ``(n_centers, n_lm, n_types * n_radial)``
        :return: ``(n_centers, n_types, n_types, n_features)``
        """
        n_centers = density.shape[0]
        n_lm = density.shape[1]
        n_types = self.n_types
        device = density.device
        expansion = density.reshape(n_centers, n_lm, n_types, -1).transpose(1, 2)
        expansion = expansion.reshape(n_centers * n_types, n_lm, -1)
        pair_center = torch.arange(n_centers, device=device).repeat_interleave(n_types)
        values, _, _ = self.features.contraction(
            expansion, density[pair_center], pair_center, n_centers
        )
        invariants: List[torch.Tensor] = []
        for index, block in enumerate(self.features.contraction.blocks):
            if block[0] == 0:
                invariants.append(values[index][:, 0])
        result = torch.cat(invariants, dim=1)
        return result.reshape(n_centers, n_types, n_types, -1)
