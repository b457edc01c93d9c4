"""Periodic silicon with DFT energies and forces, from the ``pyxtal-ff`` package.

The PyPI package ``pyxtal-ff`` 0.2.2 (MIT licence) ships DFT data of random
symmetric silicon crystals of 1–16 atoms. tricenter reads the files where pip put
them, without importing ``pyxtal_ff`` (whose import loads its own models and old
dependencies); install the package without its dependencies::

    python -m pip install --no-deps pyxtal-ff==0.2.2

:py:func:`read_silicon` gives ``ase.Atoms`` with energy (eV) and forces (eV/Å),
without the structures that the file holds twice; :py:func:`silicon_split` is the
fixed, seeded train / validation / test split; :py:func:`write_silicon_split`
writes it as extended XYZ files that ``tricenter train`` and ``mtt train`` both
read.
"""

import importlib.metadata
import json
import os
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import ase
import ase.io
import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator

from .shipped import file_sha256


#: the PyPI distribution that holds the data
PACKAGE = "pyxtal-ff"
#: the version whose files tricenter knows (see :py:data:`SILICON_SHA256`)
PACKAGE_VERSION = "0.2.2"
#: the command that installs it
INSTALL = f"python -m pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}"
#: the data folder inside the installed distribution
FOLDER = "pyxtal_ff/datasets/Si/PyXtal"
#: SHA-256 of the data files of ``pyxtal-ff`` 0.2.2. ``Si_train.json`` (5352
#: structures, the energies below -4 eV/atom) is a subset of ``Si.json`` (6887);
#: ``Si4.json`` … ``Si16.json`` partition ``Si.json`` by the size of the search
SILICON_SHA256 = {
    "Si_train.json": "644d9cb112d4ebb018627bdfe7fd50ddcb4df5b1756f130b35b81f34c72433b0",
    "Si.json": "75e9d257fe9219ab36260553a9928d8f68726dce5568781ce5cae81aeb94ed67",
    "Si4.json": "288d2c8702b04da1715c12d0428d647bd65c218cdc0b6b078ff9dbc94d20f898",
    "Si6.json": "08074e20c70f611bd34908a534c63df0712ba56b0c537f6b3e1692defcee847b",
    "Si8.json": "c7b3b77b4a432e6e27587d66cff235c977bd06c9c6014c0f941e9c627a24110e",
    "Si16.json": "06f48b7b2411b162ca137fadda1920149bfa0b2d2d7adcbd037ddfcb5834a84e",
}
#: fractions of the train / validation / test split and its seed
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
SPLIT_SEED = 0
#: relative volume difference below which two structures with the same number of
#: atoms and the same stored energy are one structure written twice
DUPLICATE_VOLUME_TOLERANCE = 1e-3


def silicon_path(name: str = "Si_train.json", *, verify: bool = True) -> Path:
    """Path of a silicon data file of the installed ``pyxtal-ff``.

    :param name: one of the keys of :py:data:`SILICON_SHA256`
    :param verify: check the file's SHA-256 against that of version 0.2.2
    :raises ModuleNotFoundError: when ``pyxtal-ff`` is not installed (the message
        gives the command that installs it)
    :raises ValueError: for an unknown name or a file whose content differs
    :raises FileNotFoundError: when the installed package lacks the file
    """
    if name not in SILICON_SHA256:
        raise ValueError(
            f"no silicon data file '{name}' in {PACKAGE}: choose one of "
            f"{sorted(SILICON_SHA256)}"
        )
    try:
        distribution = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError as error:
        raise ModuleNotFoundError(
            f"the silicon data come from the package '{PACKAGE}', which is not "
            f"installed; install it without its dependencies: {INSTALL}"
        ) from error
    path = Path(str(distribution.locate_file(f"{FOLDER}/{name}")))
    if not path.is_file():
        raise FileNotFoundError(
            f"'{path}' is missing from {PACKAGE} {distribution.version}; "
            f"reinstall it: {INSTALL}"
        )
    if verify and file_sha256(path) != SILICON_SHA256[name]:
        raise ValueError(
            f"'{path}' ({PACKAGE} {distribution.version}) differs from the file of "
            f"{PACKAGE} {PACKAGE_VERSION} that tricenter knows; install that "
            f"version: {INSTALL}"
        )
    return path


def _array(value) -> np.ndarray:
    # arrays are stored as monty's {"@module": "numpy", "data": ...} or as lists
    if isinstance(value, dict):
        value = value["data"]
    return np.asarray(value, dtype=np.float64)


def duplicates(frames: Sequence[ase.Atoms]) -> np.ndarray:
    """Which structures repeat an earlier one: same number of atoms, same energy
    as stored, volume within :py:data:`DUPLICATE_VOLUME_TOLERANCE` (relative).

    :param frames: structures with an energy
    :return: ``(n_frames,)`` boolean mask, true for every repetition after the
        first occurrence
    """
    n_atoms = np.array([len(frame) for frame in frames])
    energies = np.array([frame.get_potential_energy() for frame in frames])
    volumes = np.array([frame.get_volume() for frame in frames])
    order = np.lexsort((np.arange(len(frames)), energies, n_atoms))
    same = (np.diff(n_atoms[order]) == 0) & (np.diff(energies[order]) == 0)
    close = np.abs(np.diff(volumes[order])) <= DUPLICATE_VOLUME_TOLERANCE * np.abs(
        volumes[order][1:]
    )
    repeated = np.zeros(len(frames), dtype=bool)
    repeated[order[1:]] = same & close
    return repeated


def read_silicon(
    name: str = "Si_train.json",
    *,
    drop_duplicates: bool = True,
    max_structures: Optional[int] = None,
) -> list[ase.Atoms]:
    """Silicon structures with DFT energies and forces.

    Each structure is periodic (cell in Å), with its total energy (eV) and forces
    (eV/Å) in a :py:class:`~ase.calculators.singlepoint.SinglePointCalculator`,
    and its provenance in ``info``: ``source`` (``"pyxtal-ff 0.2.2"``), ``file``
    (the path inside the package) and ``index`` (its position in the file).
    ``Si_train.json`` holds 95 structures twice (see :py:func:`duplicates`); they
    are dropped by default, leaving 5257.

    :param name: the file, see :py:func:`silicon_path`
    :param drop_duplicates: keep only the first occurrence of each structure
    :param max_structures: read only the first structures of the file
    :raises ModuleNotFoundError: when ``pyxtal-ff`` is not installed
    """
    path = silicon_path(name)
    version = importlib.metadata.version(PACKAGE)
    with path.open() as stream:
        records = json.load(stream)
    frames = []
    for index, record in enumerate(records[:max_structures]):
        atoms = ase.Atoms(
            symbols=record["elements"],
            scaled_positions=_array(record["coords"]),
            cell=_array(record["lattice"]),
            pbc=True,
        )
        atoms.calc = SinglePointCalculator(
            atoms,
            energy=float(record["energy"]),
            forces=_array(record["force"]).reshape(len(atoms), 3),
        )
        atoms.info.update(
            source=f"{PACKAGE} {version}", file=f"{FOLDER}/{name}", index=index
        )
        frames.append(atoms)
    if drop_duplicates:
        keep = ~duplicates(frames)
        frames = [frame for frame, kept in zip(frames, keep) if kept]
    return frames


def silicon_split(
    frames: Sequence[ase.Atoms],
    fractions: Tuple[float, float, float] = SPLIT_FRACTIONS,
    seed: int = SPLIT_SEED,
) -> Dict[str, list]:
    """The fixed train / validation / test split of structures.

    A seeded permutation of the structures (``numpy.random.default_rng(seed)``)
    gives the first ``round(fractions[2] * n)`` to ``test``, the next
    ``round(fractions[1] * n)`` to ``val`` and the rest to ``train``; each
    structure is in exactly one part. With the defaults on
    :py:func:`read_silicon`'s 5257 structures: 4205 / 526 / 526.

    >>> import ase
    >>> parts = silicon_split([ase.Atoms("Si") for _ in range(10)])
    >>> {name: len(part) for name, part in parts.items()}
    {'train': 8, 'val': 1, 'test': 1}

    :param frames: the structures (duplicates already dropped)
    :param fractions: fractions of train, validation and test
    :param seed: seed of the permutation
    :return: ``{"train", "val", "test"}`` lists of the same ``ase.Atoms``
    :raises ValueError: for fractions that are negative or do not sum to 1
    """
    if min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"split fractions must be >= 0 and sum to 1, got {fractions}")
    order = np.random.default_rng(seed).permutation(len(frames))
    n_test = int(round(fractions[2] * len(frames)))
    n_val = int(round(fractions[1] * len(frames)))
    chosen = {
        "train": np.sort(order[n_test + n_val :]),
        "val": np.sort(order[n_test : n_test + n_val]),
        "test": np.sort(order[:n_test]),
    }
    return {part: [frames[i] for i in rows] for part, rows in chosen.items()}


def write_silicon_split(folder: "str | os.PathLike", **split) -> Dict[str, Path]:
    """Write :py:func:`silicon_split` of :py:func:`read_silicon` as ``train.xyz``,
    ``val.xyz`` and ``test.xyz`` (extended XYZ; ``energy`` in eV and ``forces`` in
    eV/Å, read back by ASE, ``tricenter train`` and metatrain's ``mtt train``).

    :param folder: where to write (created when missing)
    :param split: ``fractions`` and ``seed`` of :py:func:`silicon_split`
    :return: the path of each part
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for part, frames in silicon_split(read_silicon(), **split).items():
        paths[part] = folder / f"{part}.xyz"
        ase.io.write(paths[part], frames, format="extxyz")
    return paths
