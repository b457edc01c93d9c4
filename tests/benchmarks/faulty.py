"""A tricenter factory whose forces are wrong: part of its energy uses detached
positions, so autograd misses that part of the forces."""

from typing import List, Optional, Tuple

import torch
from metatensor.torch import Labels
from metatomic.torch import NeighborListOptions, System

from tricenter.models import TripletEnergyModel


class DetachedPositions(torch.nn.Module):
    """A triplet energy model plus ``0.1 |r_i|²`` per atom, computed from
    positions cut off the autograd graph."""

    atomic_types: List[int]

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model
        self.cutoff = model.cutoff
        self.atomic_types = model.atomic_types

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        return self.model.requested_neighbor_lists()

    def forward(
        self, systems: List[System], selected_atoms: Optional[Labels] = None
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        energies, latent, centers = self.model(systems, selected_atoms)
        extra = torch.zeros_like(energies)
        for index, system in enumerate(systems):
            mine = centers[:, 0] == index
            positions = system.positions.detach()[centers[mine, 1]]
            extra[mine] = 0.1 * (positions**2).sum(dim=1)
        return energies + extra, latent, centers


def detached_positions(atomic_types, cutoff, dtype, **basis):
    hypers = {
        "cutoff": {
            "radius": cutoff,
            "smoothing": {"type": "ShiftedCosine", "width": 0.5},
        },
        "density": {"type": "Gaussian", "width": 0.5, "center_atom_weight": 0.0},
        "basis": {
            "type": "TensorProduct",
            "max_angular": 1,
            "radial": {"type": "Gto", "max_radial": 1},
        },
    }
    model = TripletEnergyModel(hypers, atomic_types, latent=8, encoder_hidden=[8])
    return DetachedPositions(model.to(dtype))
