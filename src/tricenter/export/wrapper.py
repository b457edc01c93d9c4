"""The metatomic side of a tricenter energy model: the module that engines run."""

from typing import Dict, List, Optional

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import ModelOutput, NeighborListOptions, System


class MetatomicEnergyModel(torch.nn.Module):
    """The metatomic side of a tricenter energy model.

    Wraps any module with the tricenter energy-model interface: attributes ``cutoff``
    (Å) and ``atomic_types``, ``requested_neighbor_lists()``, and
    ``forward(systems, selected_atoms)`` returning per-centre energies
    ``(n_centers,)`` in eV, latent features ``(n_centers, n_latent)`` and the centres
    ``(n_centers, 2)`` as ``[system, atom]``.

    :param model: the energy model
    """

    atomic_types: List[int]

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        for name in ("cutoff", "atomic_types", "requested_neighbor_lists"):
            if not hasattr(model, name):
                raise TypeError(
                    f"{type(model).__name__} is not a tricenter energy model: it has "
                    f"no `{name}`"
                )
        self.model = model
        self.cutoff = float(model.cutoff)
        self.atomic_types = [int(t) for t in model.atomic_types]
        # Labels that never change, built here: Labels.single() / range() inside a
        # scripted forward make AtomisticModel.save fail
        self.energy_properties = Labels(["energy"], torch.tensor([[0]]))
        self.single_key = Labels(["_"], torch.tensor([[0]]))

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        """The neighbour lists of the wrapped model (one full list)."""
        return self.model.requested_neighbor_lists()

    def _per_system_or_atom(
        self,
        values: torch.Tensor,
        centers: torch.Tensor,
        n_systems: int,
        per_atom: bool,
        properties: Labels,
    ) -> TensorMap:
        device = values.device
        if per_atom:
            samples = Labels(["system", "atom"], centers.to(torch.int32).to(device))
        else:
            summed = torch.zeros(
                (n_systems, values.shape[1]), dtype=values.dtype, device=device
            )
            values = summed.index_add(0, centers[:, 0].to(device), values)
            systems = torch.arange(n_systems, dtype=torch.int32, device=device)
            samples = Labels(["system"], systems.reshape(-1, 1))
        block = TensorBlock(
            values=values,
            samples=samples,
            components=[],
            properties=properties.to(device),
        )
        return TensorMap(self.single_key.to(device), [block])

    def forward(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> Dict[str, TensorMap]:
        results: Dict[str, TensorMap] = {}
        if len(outputs) == 0:
            return results
        energies, latent, centers = self.model(systems, selected_atoms)
        n_systems = len(systems)
        if "energy" in outputs:
            results["energy"] = self._per_system_or_atom(
                energies.reshape(-1, 1),
                centers,
                n_systems,
                outputs["energy"].sample_kind == "atom",
                self.energy_properties,
            )
        if "feature" in outputs:
            properties = Labels(
                ["feature"],
                torch.arange(latent.shape[1], dtype=torch.int32).reshape(-1, 1),
            )
            results["feature"] = self._per_system_or_atom(
                latent,
                centers,
                n_systems,
                outputs["feature"].sample_kind == "atom",
                properties,
            )
        return results
