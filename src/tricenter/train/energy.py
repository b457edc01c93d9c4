"""Energy models in training: energies and forces of batches, the energy loss, the
scales fitted on training data, and errors.
"""

from typing import List, Optional, Sequence, Tuple

import ase.data
import numpy as np
import torch
from metatensor.torch import Labels

from ..features.neighbors import with_gradients
from .loop import BatchLoss


def selection(n_systems: int, atoms: Optional[Sequence[int]], device=None):
    """``Labels`` of the described centres: ``atoms`` of every system, or ``None``
    (every atom).

    :param n_systems: number of systems
    :param atoms: atom indices described in each system, or ``None``
    :param device: device of the labels
    """
    if atoms is None:
        return None
    values = [[s, a] for s in range(n_systems) for a in atoms]
    return Labels(
        ["system", "atom"], torch.tensor(values, dtype=torch.int32, device=device)
    )


def predict_energies(
    model: torch.nn.Module,
    systems: list,
    atoms: Optional[Sequence[int]] = None,
    forces: bool = False,
    create_graph: bool = False,
) -> Tuple[torch.Tensor, Optional[List[torch.Tensor]]]:
    """Structure energies (sum of the per-atom energies of the described centres)
    and, optionally, forces ``-dE/dR``.

    :param model: an energy model
    :param systems: metatomic systems with the model's neighbour lists
    :param atoms: atom indices described in each system (``None``: all)
    :param forces: compute forces too
    :param create_graph: keep the graph of the forces (to train on them)
    :return: ``(n_systems,)`` energies and a list of ``(n_atoms, 3)`` forces
    """
    if forces:
        systems = with_gradients(systems)
    per_atom, _, centers = model(systems, selection(len(systems), atoms))
    energies = torch.zeros(len(systems), dtype=per_atom.dtype, device=per_atom.device)
    energies = energies.index_add(0, centers[:, 0].to(torch.long), per_atom)
    if not forces:
        return energies, None
    positions = [system.positions for system in systems]
    gradients = torch.autograd.grad(
        energies.sum(), positions, create_graph=create_graph, allow_unused=True
    )
    result = []
    for position, gradient in zip(positions, gradients):
        result.append(-torch.zeros_like(position) if gradient is None else -gradient)
    return energies, result


def type_counts(model, frames: list, atoms) -> np.ndarray:
    """``(n_frames, n_types)`` number of described centres of each of the model's
    types in each frame.

    :param model: an energy model (it knows its ``atomic_types``)
    :param frames: the structures
    :param atoms: atom indices described in each frame (``None``: all)
    :raises ValueError: when a frame holds an element the model does not know
    """
    types = [int(t) for t in model.atomic_types]
    counts = np.zeros((len(frames), len(types)))
    for i, frame in enumerate(frames):
        numbers = frame.numbers if atoms is None else frame.numbers[list(atoms)]
        unknown = sorted(set(int(n) for n in numbers) - set(types))
        if unknown:
            raise ValueError(
                f"training frame {i} contains "
                f"{', '.join(ase.data.chemical_symbols[n] for n in unknown)}, but "
                "the model supports only "
                f"{', '.join(ase.data.chemical_symbols[t] for t in types)}"
            )
        counts[i] = (np.asarray(numbers)[:, None] == np.asarray(types)).sum(0)
    return counts


def fit_energy_scales(model, energies: np.ndarray, frames: list, atoms) -> None:
    """Set a model's per-type energy shifts (least squares on the counts of centre
    types) and its energy scale (std of the residual per centre) from training
    data.

    :param model: an energy model with ``energy_shift`` and ``energy_scale``
    :param energies: ``(n_frames,)`` training energies
    :param frames: the training structures
    :param atoms: atom indices described in each frame (``None``: all)
    :raises ValueError: when a frame holds an element the model does not know
    """
    counts = type_counts(model, frames, atoms)
    shifts, *_ = np.linalg.lstsq(counts, energies, rcond=None)
    residual = energies - counts @ shifts
    scale = np.sqrt(np.mean(residual**2) / np.mean(counts.sum(1)))
    with torch.no_grad():
        model.energy_shift.copy_(torch.as_tensor(shifts))
        model.energy_scale.fill_(float(scale) if scale > 0 else 1.0)


def calibrate(model, systems: list, atoms) -> None:
    """Set the input scales of a model's features from (training) systems.

    :param model: an energy model of :py:func:`tricenter.models.build.build_model`
    :param systems: training systems (the first 64 are used)
    :param atoms: atom indices described in each system (``None``: all)
    """
    sample = systems[:64]
    model.calibrate(sample, selection(len(sample), atoms))


def energy_loss(
    model,
    systems: list,
    energies: torch.Tensor,
    forces: Optional[List[torch.Tensor]],
    atoms,
    forces_weight: float,
) -> BatchLoss:
    """The batch loss of :py:func:`~tricenter.train.loop.fit` for an energy model on
    systems: squared errors of energies (and forces), in units of the model's energy
    scale.

    :param model: the energy model
    :param systems: all systems, with neighbour lists
    :param energies: ``(n_systems,)`` target energies
    :param forces: per-system ``(n_atoms, 3)`` target forces, or ``None``
    :param atoms: atom indices described in each system (``None``: all)
    :param forces_weight: weight of the force term (0: energies only)
    """

    def loss(indices: np.ndarray, training: bool):
        batch = [systems[i] for i in indices]
        use_forces = forces is not None and forces_weight > 0
        predicted, predicted_forces = predict_energies(
            model, batch, atoms, forces=use_forces, create_graph=training
        )
        scale = model.energy_scale
        target = energies[torch.as_tensor(indices, dtype=torch.long)]
        value = ((predicted - target) / scale).pow(2).sum()
        if use_forces:
            for i, f in zip(indices, predicted_forces):
                value = (
                    value + forces_weight * ((f - forces[i]) / scale).pow(2).sum() / 3
                )
        if not training:
            value = value.detach()
        return value, torch.tensor(float(len(indices)))

    return loss


def evaluate_energies(
    model,
    systems: list,
    energies: np.ndarray,
    atoms,
    forces: Optional[List[np.ndarray]] = None,
) -> dict:
    """Errors of a model's energies (eV and eV/atom) and, optionally, forces
    (eV/Å, over every Cartesian component).

    :param model: the energy model
    :param systems: systems with neighbour lists
    :param energies: ``(n_systems,)`` reference energies in eV
    :param atoms: atom indices described in each system (``None``: all)
    :param forces: per-system ``(n_atoms, 3)`` reference forces in eV/Å, or ``None``
    :return: ``{"rmse", "mae", "rmse_per_atom", "mae_per_atom"}`` and, with
        forces, ``{"forces_rmse", "forces_mae"}``
    """
    predicted, force_errors = [], []
    for start in range(0, len(systems), 64):
        batch = systems[start : start + 64]
        with torch.enable_grad():
            e, f = predict_energies(model, batch, atoms, forces=forces is not None)
        predicted.append(e.detach().cpu().double().numpy())
        if forces is not None:
            for i, value in enumerate(f):
                reference = np.asarray(forces[start + i])
                force_errors.append(value.detach().cpu().double().numpy() - reference)
    error = np.concatenate(predicted) - energies
    n_atoms = np.array(
        [len(s.positions) if atoms is None else len(atoms) for s in systems]
    )
    result = {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "rmse_per_atom": float(np.sqrt(np.mean((error / n_atoms) ** 2))),
        "mae_per_atom": float(np.mean(np.abs(error / n_atoms))),
    }
    if forces is not None:
        components = np.concatenate([e.reshape(-1) for e in force_errors])
        result["forces_rmse"] = float(np.sqrt(np.mean(components**2)))
        result["forces_mae"] = float(np.mean(np.abs(components)))
    return result
