"""Data sets shipped inside the package, and the one extended XYZ reader.

=====================  ============================================================
name                   content
=====================  ============================================================
``"b8-pbe-pairs"``     the paper's PBE/cc-pVDZ energies and gradients of B8 pairs
                       0–1499 (3000 frames), from the paper authors' public data
``"b8-xtb-pairs"``     4000 B8 pairs (8000 frames) labelled by tricenter with
                       GFN2-xTB
=====================  ============================================================
"""

import gzip
import io
from importlib.resources import files
from pathlib import Path

import ase
import ase.io


SHIPPED = {
    "b8-pbe-pairs": "b8-pbe-pairs-0000-1499.xyz.gz",
    "b8-xtb-pairs": "b8-xtb-pairs.xyz.gz",
}


def shipped_path(name: str) -> Path:
    """Path of a shipped data file.

    :param name: one of ``"b8-pbe-pairs"``, ``"b8-xtb-pairs"``
    :return: path of the gzip-compressed extended XYZ file
    """
    if name not in SHIPPED:
        raise ValueError(
            f"no shipped data set called '{name}': choose one of {sorted(SHIPPED)}"
        )
    return Path(str(files("tricenter.datasets") / "data" / SHIPPED[name]))


def read_extxyz(path, index=":") -> list:
    """Frames of an extended XYZ file, gzip-compressed or not.

    A compressed file is decompressed in memory first: ASE seeks back and forth in a
    gzip stream, which makes reading thousands of frames take minutes instead of
    seconds.

    :param path: path of a ``.xyz`` or ``.xyz.gz`` file
    :param index: which frames, as for :py:func:`ase.io.read`
    :return: a list of :py:class:`ase.Atoms`
    """
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "rt") as stream:
            frames = ase.io.read(io.StringIO(stream.read()), index, format="extxyz")
    else:
        frames = ase.io.read(path, index, format="extxyz")
    return frames if isinstance(frames, list) else [frames]


def read_shipped(name: str, index=":") -> list:
    """Frames of a shipped data set, see :py:func:`shipped_path`.

    >>> frames = read_shipped("b8-pbe-pairs", ":2")
    >>> [int(frame.info["label"]) for frame in frames], len(frames[0])
    ([0, 1], 8)
    """
    return read_extxyz(shipped_path(name), index)
