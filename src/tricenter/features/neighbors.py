"""From metatomic systems (or ASE atoms) to the flat pair tensors of the core.

Neighbour lists are full lists (both ``ij`` and ``ji``) with cell shifts, as requested
through metatomic's ``NeighborListOptions``; periodic images of the same neighbour are
distinct pairs. Everything here is TorchScript-compatible except
:py:func:`systems_with_neighbors`, which prepares systems in Python.
"""

from typing import List, NamedTuple, Optional

import numpy as np
import torch
from metatensor.torch import Labels, TensorBlock
from metatomic.torch import NeighborListOptions, System


class Pairs(NamedTuple):
    """Centres and centre–neighbour pairs of a batch of systems.

    Pairs are sorted by centre; ``centers`` index atoms in the concatenated systems.
    """

    #: ``(n_centers, 2)`` system index and atom index of each centre
    centers: torch.Tensor
    #: ``(n_centers,)`` atomic type of each centre
    center_types: torch.Tensor
    #: ``(n_pairs, 3)`` vector from centre to neighbour (with cell shift), in Å
    vectors: torch.Tensor
    #: ``(n_pairs,)`` index of the pair's centre in ``centers``
    pair_center: torch.Tensor
    #: ``(n_pairs,)`` atom index of the neighbour in its system
    neighbors: torch.Tensor
    #: ``(n_pairs,)`` atomic type of the neighbour
    neighbor_types: torch.Tensor
    #: ``(n_pairs, 3)`` cell shift of the neighbour
    cell_shifts: torch.Tensor


def check_systems(systems: List[System]):
    """Refuse inputs that would give NaN or silently wrong features."""
    if len(systems) == 0:
        return
    dtype = systems[0].positions.dtype
    device = systems[0].positions.device
    for index, system in enumerate(systems):
        if system.positions.dtype != dtype or system.positions.device != device:
            raise ValueError(
                f"all systems must share dtype and device: system 0 has {dtype} on "
                f"{device}, system {index} has {system.positions.dtype} on "
                f"{system.positions.device}"
            )
        if not bool(torch.all(torch.isfinite(system.positions))):
            raise ValueError(f"system {index} has non-finite positions")
        if not bool(torch.all(torch.isfinite(system.cell))):
            raise ValueError(f"system {index} has a non-finite cell")


def gather_pairs(
    systems: List[System],
    options: NeighborListOptions,
    selected_samples: Optional[Labels] = None,
) -> Pairs:
    """Collect the pairs of the selected centres of all systems.

    :param systems: systems carrying a neighbour list for ``options``
    :param options: full neighbour list options with the expansion's cutoff
    :param selected_samples: centres to keep, with an ``atom`` column and optionally
        a ``system`` column; all atoms when ``None``
    """
    check_systems(systems)
    if len(systems) == 0:
        empty = torch.zeros(0, dtype=torch.long)
        return Pairs(
            torch.zeros((0, 2), dtype=torch.long),
            empty,
            torch.zeros((0, 3), dtype=torch.float64),
            empty,
            empty,
            empty,
            torch.zeros((0, 3), dtype=torch.long),
        )
    device = systems[0].positions.device
    centers: List[torch.Tensor] = []
    center_types: List[torch.Tensor] = []
    vectors: List[torch.Tensor] = []
    pair_center: List[torch.Tensor] = []
    neighbors: List[torch.Tensor] = []
    neighbor_types: List[torch.Tensor] = []
    cell_shifts: List[torch.Tensor] = []
    n_centers = 0
    for index, system in enumerate(systems):
        n_atoms = system.positions.shape[0]
        atoms = torch.arange(n_atoms, device=device)
        if selected_samples is not None:
            selection = selected_samples.values.to(device)
            keep = torch.ones(selection.shape[0], dtype=torch.bool, device=device)
            if "system" in selected_samples.names:
                column = selected_samples.names.index("system")
                keep = selection[:, column] == index
            column = selected_samples.names.index("atom")
            chosen = selection[keep, column]
            if bool(torch.any((chosen < 0) | (chosen >= n_atoms))):
                raise ValueError(
                    f"selected_samples names atoms outside system {index} "
                    f"({n_atoms} atoms)"
                )
            atoms = torch.unique(chosen)

        neighbor_list = system.get_neighbor_list(options)
        samples = neighbor_list.samples.values.to(torch.long)
        values = neighbor_list.values.reshape(-1, 3)

        center_index = torch.full((n_atoms,), -1, dtype=torch.long, device=device)
        center_index[atoms] = torch.arange(atoms.shape[0], device=device) + n_centers
        pair_centers = center_index[samples[:, 0]]
        keep = pair_centers >= 0
        pair_centers = pair_centers[keep]
        order = torch.sort(pair_centers, stable=True).indices
        kept = samples[keep][order]
        if bool(torch.any(torch.linalg.vector_norm(values[keep], dim=1) < 1e-6)):
            raise ValueError(
                f"system {index} has two atoms at the same position within the cutoff"
            )

        centers.append(torch.stack([torch.full_like(atoms, index), atoms], dim=1))
        center_types.append(system.types[atoms].to(torch.long))
        vectors.append(values[keep][order])
        pair_center.append(pair_centers[order])
        neighbors.append(kept[:, 1])
        neighbor_types.append(system.types[kept[:, 1]].to(torch.long))
        cell_shifts.append(kept[:, 2:5])
        n_centers += atoms.shape[0]

    return Pairs(
        torch.cat(centers),
        torch.cat(center_types),
        torch.cat(vectors),
        torch.cat(pair_center),
        torch.cat(neighbors),
        torch.cat(neighbor_types),
        torch.cat(cell_shifts),
    )


def _empty_neighbors(system: System) -> TensorBlock:
    names = ["first_atom", "second_atom", "cell_shift_a", "cell_shift_b"]
    names.append("cell_shift_c")
    return TensorBlock(
        values=system.positions.new_zeros((0, 3, 1)),
        samples=Labels(names, torch.zeros((0, 5), dtype=torch.int32)),
        components=[Labels(["xyz"], torch.tensor([[0], [1], [2]]))],
        properties=Labels(["distance"], torch.tensor([[0]])),
    )


def systems_with_neighbors(
    systems,
    cutoff: float,
    dtype: Optional[torch.dtype] = None,
    device: Optional[torch.device] = None,
    positions_requires_grad: bool = False,
    cell_requires_grad: bool = False,
) -> List[System]:
    """Convert ASE atoms (or metatomic systems) and attach full neighbour lists.

    Systems that already carry a neighbour list with the right options keep it.

    :param systems: an ``ase.Atoms``, a :py:class:`metatomic.torch.System`, or a list
        of them
    :param cutoff: neighbour list cutoff, in Å
    :param dtype: dtype of converted ASE atoms (default: float64)
    :param device: device of converted ASE atoms
    :param positions_requires_grad: whether converted positions require gradients
        (the neighbour vectors are then built once, for one backward pass; see
        :py:func:`with_gradients` for repeated evaluations)
    :param cell_requires_grad: whether converted cells require gradients
    """
    from metatomic.torch import systems_to_torch
    from vesin.metatomic import NeighborList

    if not isinstance(systems, (list, tuple)):
        systems = [systems]
    dtype = torch.float64 if dtype is None else dtype
    options = NeighborListOptions(cutoff=cutoff, full_list=True, strict=True)
    calculator = NeighborList(options, length_unit="Angstrom")
    result = []
    for index, system in enumerate(systems):
        # metatomic systems are TorchScript classes, which isinstance cannot test
        if not hasattr(system, "known_neighbor_lists"):
            positions = getattr(system, "positions", None)
            if positions is None:
                raise TypeError(
                    f"system {index} is a {type(system).__name__}; expected "
                    "ase.Atoms or metatomic.torch.System"
                )
            if not torch.all(torch.isfinite(torch.as_tensor(positions))):
                raise ValueError(f"system {index} has non-finite positions")
            system = systems_to_torch(
                system,
                dtype=dtype,
                device=device,
                positions_requires_grad=positions_requires_grad,
                cell_requires_grad=cell_requires_grad,
            )
        elif not bool(torch.all(torch.isfinite(system.positions))):
            raise ValueError(f"system {index} has non-finite positions")
        if options not in system.known_neighbor_lists():
            if len(system) == 0:
                # vesin refuses empty systems; their neighbour list is empty
                system.add_neighbor_list(options, _empty_neighbors(system))
            else:
                calculator.add_neighbor_list(system)
        result.append(system)
    return result


def with_gradients(
    systems: List[System], positions: bool = True, cell: bool = False
) -> List[System]:
    """Copies of systems whose positions (and cell) are fresh leaves requiring
    gradients, with every neighbour list's vectors recomputed from them.

    Neighbour vectors computed once from differentiable positions tie all later
    evaluations to one autograd graph, which a second backward pass finds freed.
    Training on forces calls this for every batch instead.

    :param systems: systems carrying their neighbour lists
    :param positions: whether the new positions require gradients
    :param cell: whether the new cells require gradients
    """
    result = []
    for system in systems:
        new = System(
            types=system.types,
            positions=system.positions.detach().clone().requires_grad_(positions),
            cell=system.cell.detach().clone().requires_grad_(cell),
            pbc=system.pbc,
        )
        for options in system.known_neighbor_lists():
            block = system.get_neighbor_list(options)
            samples = block.samples.values.to(torch.long)
            shifts = samples[:, 2:5].to(new.positions.dtype)
            vectors = (
                new.positions[samples[:, 1]]
                - new.positions[samples[:, 0]]
                + shifts @ new.cell
            )
            new.add_neighbor_list(
                options,
                TensorBlock(
                    values=vectors.reshape(-1, 3, 1),
                    samples=block.samples,
                    components=block.components,
                    properties=block.properties,
                ),
            )
        result.append(new)
    return result


def is_ase_atoms(system) -> bool:
    """Whether ``system`` is an ``ase.Atoms`` rather than a metatomic system."""
    return hasattr(system, "get_positions") and not hasattr(
        system, "known_neighbor_lists"
    )


def pairs_from_atoms(frames, cutoff: float, selected_samples=None) -> Pairs:
    """Centres and pairs of ASE atoms, straight from vesin (no metatomic systems).

    The fast path of :py:meth:`tricenter.TripletFeatures.compute` for ASE input: one
    neighbour-list call per frame and vectorised bookkeeping, float64.

    :param frames: list of ``ase.Atoms``
    :param cutoff: neighbour list cutoff, in Å
    :param selected_samples: centres to keep (``atom`` and optionally ``system``
        columns), or ``None`` for all atoms
    """
    import vesin

    calculator = vesin.NeighborList(cutoff=cutoff, full_list=True)
    if selected_samples is not None:
        names = list(selected_samples.names)
        selection = np.asarray(selected_samples.values.tolist(), dtype=np.int64)
        selection = selection.reshape(-1, len(names))
        atom_column = selection[:, names.index("atom")]
        system_column = (
            selection[:, names.index("system")] if "system" in names else None
        )

    centers, center_types, vectors, pair_center = [], [], [], []
    neighbors, neighbor_types, cell_shifts = [], [], []
    n_centers = 0
    for index, atoms in enumerate(frames):
        positions = np.asarray(atoms.positions, dtype=np.float64)
        if not np.all(np.isfinite(positions)):
            raise ValueError(f"system {index} has non-finite positions")
        numbers = np.asarray(atoms.numbers, dtype=np.int64)
        n_atoms = len(numbers)
        atoms_kept = np.arange(n_atoms)
        if selected_samples is not None:
            keep = np.ones(len(atom_column), dtype=bool)
            if system_column is not None:
                keep = system_column == index
            atoms_kept = np.unique(atom_column[keep])
            if np.any((atoms_kept < 0) | (atoms_kept >= n_atoms)):
                raise ValueError(
                    f"selected_samples names atoms outside system {index} "
                    f"({n_atoms} atoms)"
                )
        if n_atoms == 0 or len(atoms_kept) == 0:
            continue

        cell = np.asarray(atoms.cell[:], dtype=np.float64)
        first, second, shifts = calculator.compute(
            points=positions, box=cell, periodic=list(atoms.pbc), quantities="ijS"
        )
        center_index = np.full(n_atoms, -1)
        center_index[atoms_kept] = np.arange(len(atoms_kept)) + n_centers
        kept = center_index[first] >= 0
        first, second, shifts = first[kept], second[kept], shifts[kept]
        pair_vectors = positions[second] - positions[first] + shifts @ cell
        if np.any(np.linalg.norm(pair_vectors, axis=1) < 1e-6):
            raise ValueError(
                f"system {index} has two atoms at the same position within the cutoff"
            )

        centers.append(np.stack([np.full_like(atoms_kept, index), atoms_kept], axis=1))
        center_types.append(numbers[atoms_kept])
        vectors.append(pair_vectors)
        pair_center.append(center_index[first])
        neighbors.append(second)
        neighbor_types.append(numbers[second])
        cell_shifts.append(shifts)
        n_centers += len(atoms_kept)

    if n_centers == 0:
        return gather_pairs([], NeighborListOptions(cutoff, True, True))

    pair_center = np.concatenate(pair_center)
    order = np.argsort(pair_center, kind="stable")

    def tensor(arrays, reorder=True):
        joined = np.concatenate(arrays)
        return torch.from_numpy(joined[order] if reorder else joined)

    return Pairs(
        tensor(centers, reorder=False).to(torch.long),
        tensor(center_types, reorder=False).to(torch.long),
        tensor(vectors),
        torch.from_numpy(pair_center[order]).to(torch.long),
        tensor(neighbors).to(torch.long),
        tensor(neighbor_types).to(torch.long),
        tensor(cell_shifts).to(torch.long),
    )
