"""Data sets shipped inside the package.

=====================  ============================================================
name                   content
=====================  ============================================================
``"b8-pbe-pairs"``     the paper's PBE/cc-pVDZ energies and gradients of B8 pairs
                       0–1499 (3000 frames), from the paper authors' public data
``"b8-xtb-pairs"``     4000 B8 pairs (8000 frames) labelled by tricenter with
                       GFN2-xTB
=====================  ============================================================

Their content, fields, units, source and licence are in ``data/README.md`` next to
the files and on the documentation's data page;
:py:func:`tricenter.datasets.read_pairs` gives both in the same units and fields.
"""

import hashlib
from importlib.resources import files
from pathlib import Path

from .extxyz import read_extxyz


SHIPPED = {
    "b8-pbe-pairs": "b8-pbe-pairs-0000-1499.xyz.gz",
    "b8-xtb-pairs": "b8-xtb-pairs.xyz.gz",
}
#: SHA-256 of each shipped (compressed) file, as stated in ``data/README.md``
SHA256 = {
    "b8-pbe-pairs": "f9bc5ad246fa9c7d437f1b20b95c9bd1dd1560d936a9dac31d7d765207a99df6",
    "b8-xtb-pairs": "e81863b31a5a1fa65cea6c4a5ea2ca16179f4d2658f2133e78f0f09b5beedb5d",
}


def file_sha256(path) -> str:
    """SHA-256 of a file's bytes, as hexadecimal digits.

    :param path: the file
    """
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shipped_path(name: str, *, verify: bool = False) -> Path:
    """Path of a shipped data file.

    >>> shipped_path("b8-pbe-pairs", verify=True).name
    'b8-pbe-pairs-0000-1499.xyz.gz'

    :param name: one of ``"b8-pbe-pairs"``, ``"b8-xtb-pairs"``
    :param verify: check the file's SHA-256 against the one it was shipped with
    :return: path of the gzip-compressed extended XYZ file
    :raises ValueError: for an unknown name, or a file whose checksum differs
    """
    if name not in SHIPPED:
        raise ValueError(
            f"no shipped data set called '{name}': choose one of {sorted(SHIPPED)}"
        )
    path = Path(str(files("tricenter.datasets") / "data" / SHIPPED[name]))
    if verify:
        checksum = file_sha256(path)
        if checksum != SHA256[name]:
            raise ValueError(
                f"'{path}' is damaged or was changed: its SHA-256 is {checksum}, "
                f"the shipped file's is {SHA256[name]}; reinstall tricenter"
            )
    return path


def read_shipped(name: str, index=":") -> list:
    """Frames of a shipped data set, see :py:func:`shipped_path`, read with
    :py:func:`~tricenter.datasets.extxyz.read_extxyz`.

    >>> frames = read_shipped("b8-pbe-pairs", ":2")
    >>> [int(frame.info["label"]) for frame in frames], len(frames[0])
    ([0, 1], 8)
    """
    return read_extxyz(shipped_path(name), index)
