"""Training data: labelled structures read from extxyz files, seeded splits that keep
pairs together, and shuffled batches of whole pairs.

>>> from tricenter.train.data import split_groups
>>> split = split_groups([0, 0, 1, 1, 2, 2, 3, 3], (0.5, 0.25, 0.25), seed=0)
>>> sorted(len(v) for v in split.values())
[2, 2, 4]
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import ase.data
import numpy as np
import torch

from ..datasets import read_extxyz, shipped_path
from .config import ENERGY_UNITS, FORCE_UNITS, SHIPPED_PREFIX


@dataclass
class Dataset:
    """Structures with energies (eV) and optionally forces (eV/Å).

    :param frames: ``ase.Atoms`` structures
    :param energies: ``(n_frames,)`` energies minus the reference, in eV
    :param forces: per-frame ``(n_atoms, 3)`` forces in eV/Å, or ``None``
    :param groups: ``(n_frames,)`` group (pair) of each frame; groups share a split
    :param path: the file the (first) frames come from
    :param sources: ``(file, index in the file)`` of each frame (``None``: frame
        ``i`` is frame ``i`` of ``path``)
    """

    frames: list
    energies: np.ndarray
    forces: Optional[List[np.ndarray]]
    groups: np.ndarray
    path: Path
    sources: Optional[List[Tuple[Path, int]]] = None

    def where(self, i: int) -> str:
        """Where frame ``i`` comes from, for messages: ``frame N of 'file'``."""
        path, index = (self.path, i) if self.sources is None else self.sources[i]
        return f"frame {int(index)} of '{path}'"


def data_path(path: str) -> Path:
    """The file named by ``data.path``: a path, or ``shipped:NAME`` for a data set
    shipped with tricenter (see :py:func:`tricenter.datasets.shipped_path`).

    >>> data_path("shipped:b8-pbe-pairs").name
    'b8-pbe-pairs-0000-1499.xyz.gz'

    :raises FileNotFoundError: when there is no such file
    """
    if path.startswith(SHIPPED_PREFIX):
        return shipped_path(path[len(SHIPPED_PREFIX) :])
    resolved = Path(path)
    if not resolved.is_file():
        raise FileNotFoundError(
            f"data.path: no file '{resolved}' (relative paths start from "
            f"'{Path.cwd()}'); set data.path to an extxyz file or to "
            f"'{SHIPPED_PREFIX}NAME' for a shipped data set"
        )
    return resolved


def load_dataset(data) -> Dataset:
    """Read the structures and labels described by a
    :py:class:`~tricenter.train.config.DataConfig`.

    :raises FileNotFoundError: when ``data.path`` names no file
    :raises ValueError: when a frame lacks the energy, forces or pair label
    """
    path = data_path(data.path)
    index = ":" if data.max_frames is None else f":{int(data.max_frames)}"
    frames = read_extxyz(path, index)
    if len(frames) == 0:
        raise ValueError(f"no structures in '{path}' (data.path)")
    positions = np.arange(len(frames))
    if data.indices is not None:
        positions = np.asarray(data.indices, dtype=int)
        if len(positions) and positions.max() >= len(frames):
            raise ValueError(
                f"indices: frame {positions.max()} asked for, but '{path}' has "
                f"{len(frames)} frames"
            )
        frames = [frames[i] for i in positions]
    energies = []
    for i, frame in enumerate(frames):
        if data.energy_key in frame.info:
            energies.append(float(frame.info[data.energy_key]))
        elif data.energy_key == "energy" and frame.calc is not None:
            energies.append(frame.calc.get_potential_energy())
        else:
            raise ValueError(
                f"frame {positions[i]} of '{path}' has no energy '{data.energy_key}' "
                f"in its info (keys: {sorted(frame.info)}); set data.energy_key"
            )
    energies = (np.asarray(energies) - data.energy_reference) * ENERGY_UNITS[
        data.energy_unit
    ]

    forces = None
    if data.forces_key is not None and (
        data.forces_required or any(_has_forces(f, data.forces_key) for f in frames)
    ):
        forces = []
        factor = FORCE_UNITS[data.forces_unit]
        factor = -factor if data.forces_are_gradients else factor
        for i, frame in enumerate(frames):
            if data.forces_key in frame.arrays:
                values = frame.arrays[data.forces_key]
            elif _has_forces(frame, data.forces_key):
                values = frame.calc.get_forces()
            else:
                raise ValueError(
                    f"frame {positions[i]} of '{path}' has no '{data.forces_key}' "
                    f"array (arrays: {sorted(frame.arrays)}); set data.forces_key"
                )
            forces.append(factor * np.asarray(values))

    if data.pair_key is not None:
        labels = []
        for i, frame in enumerate(frames):
            if data.pair_key not in frame.info:
                raise ValueError(
                    f"frame {positions[i]} of '{path}' has no '{data.pair_key}' in "
                    f"its info (keys: {sorted(frame.info)}); set data.pair_key"
                )
            labels.append(frame.info[data.pair_key])
        _, groups = np.unique(np.asarray(labels), return_inverse=True)
    elif data.consecutive_pairs:
        groups = np.arange(len(frames)) // 2
    else:
        groups = np.arange(len(frames))
    groups = np.asarray(groups).reshape(-1)
    return Dataset(
        frames,
        energies,
        forces,
        groups,
        path,
        [(path.resolve(), int(i)) for i in positions],
    )


def _has_forces(frame, key: str) -> bool:
    if key in frame.arrays:
        return True
    return key == "forces" and frame.calc is not None and "forces" in frame.calc.results


def _concatenate(parts: List[Dataset]) -> Dataset:
    if len({p.forces is None for p in parts}) > 1:
        raise ValueError(
            "the training, validation and test files must all have forces or all "
            "lack them; "
            + ", ".join(
                f"'{p.path}': {'no ' if p.forces is None else ''}forces" for p in parts
            )
        )
    groups, offset = [], 0
    for part in parts:
        groups.append(part.groups + offset)
        offset += int(part.groups.max()) + 1
    return Dataset(
        [f for p in parts for f in p.frames],
        np.concatenate([p.energies for p in parts]),
        None if parts[0].forces is None else [f for p in parts for f in p.forces],
        np.concatenate(groups),
        parts[0].path,
        [s for p in parts for s in p.sources],
    )


def load_parts(config) -> Tuple[Dataset, Dict[str, np.ndarray]]:
    """The data of a :py:class:`~tricenter.train.config.Config` and its split.

    ``config.data`` is split by :py:func:`split_groups` with the fractions of
    ``config.split``; a validation or test set given as its own section is read
    from its file and appended.

    :return: the dataset of all parts and the frame indices of ``train``, ``val``
        and ``test`` in it
    :raises ValueError: when a structure (a frame of a file) lands in two parts
    """
    dataset = load_dataset(config.data)
    split = split_groups(
        dataset.groups,
        (config.split.train, config.split.val, config.split.test),
        config.split.seed,
    )
    parts = [dataset]
    for name, section in (("val", config.validation), ("test", config.test)):
        if section is None:
            continue
        start = sum(len(p.frames) for p in parts)
        parts.append(load_dataset(section))
        split[name] = np.arange(start, start + len(parts[-1].frames))
    dataset = _concatenate(parts) if len(parts) > 1 else dataset
    seen = {}
    for name in ("train", "val", "test"):
        for i in split[name]:
            source = dataset.sources[i]
            if seen.setdefault(source, name) != name:
                raise ValueError(
                    f"{dataset.where(i)} is in both the {seen[source]} and the "
                    f"{name} set; choose disjoint files or indices"
                )
    return dataset, split


def _symbols(numbers) -> str:
    return ", ".join(ase.data.chemical_symbols[int(n)] for n in sorted(numbers))


def check_types(
    atomic_types: Sequence[int], dataset: Dataset, indices: Sequence[int], part: str
):
    """Refuse structures with elements the model does not know.

    :param atomic_types: the atomic numbers the model knows
    :param dataset: the data
    :param indices: frames of ``dataset`` to check
    :param part: what these frames are (``"train"``, ``"val"``, ``"test"``)
    :raises ValueError: naming the first such frame, its unknown elements and the
        known ones
    """
    known = {int(t) for t in atomic_types}
    for i in indices:
        unknown = set(int(n) for n in dataset.frames[i].numbers) - known
        if unknown:
            raise ValueError(
                f"{dataset.where(i)} ({part} set) contains "
                f"{_symbols(unknown)} (atomic number "
                f"{', '.join(str(n) for n in sorted(unknown))}), but the model "
                f"supports only {_symbols(known)}; add the element to "
                "model.atomic_types or remove the frame"
            )


def split_groups(
    groups: Sequence[int], fractions: Tuple[float, float, float], seed: int
) -> Dict[str, np.ndarray]:
    """Seeded split of frames into ``train``, ``val`` and ``test`` by group.

    Frames of a group (the partners of a pair) always land in the same part.

    :param groups: ``(n_frames,)`` group label of each frame
    :param fractions: fractions of groups in train, val and test
    :param seed: seed of the permutation
    :return: frame indices of each part
    """
    groups = np.asarray(groups)
    unique = np.unique(groups)
    order = np.random.default_rng(seed).permutation(len(unique))
    n_test = int(round(fractions[2] * len(unique)))
    n_val = int(round(fractions[1] * len(unique)))
    parts = {
        "test": unique[order[:n_test]],
        "val": unique[order[n_test : n_test + n_val]],
        "train": unique[order[n_test + n_val :]],
    }
    return {
        name: np.nonzero(np.isin(groups, chosen))[0] for name, chosen in parts.items()
    }


def group_batches(
    groups: np.ndarray, batch_size: int, generator: torch.Generator
) -> List[np.ndarray]:
    """Shuffled batches of item positions, ``batch_size`` whole groups per batch.

    :param groups: ``(n_items,)`` group label of each item
    :param batch_size: groups per batch
    :param generator: the source of the shuffle (its state advances)
    """
    unique, inverse = np.unique(groups, return_inverse=True)
    order = torch.randperm(len(unique), generator=generator).numpy()
    by_group = np.argsort(inverse, kind="stable")
    members = np.split(by_group, np.cumsum(np.bincount(inverse))[:-1])
    batches = []
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        batches.append(np.concatenate([members[g] for g in chosen]))
    return batches
