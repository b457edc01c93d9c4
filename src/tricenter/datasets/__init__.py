"""Structures and data sets: generated degenerate pairs, the data shipped with the
package, and periodic silicon read from ``pyxtal-ff``."""

from .extxyz import read_extxyz
from .pairs import (
    BOHR_ANGSTROM,
    HARTREE_EV,
    PBE_REFERENCE_HA,
    pbe_pairs,
    read_pairs,
)
from .shipped import SHA256, file_sha256, read_shipped, shipped_path
from .silicon import read_silicon, silicon_path, silicon_split, write_silicon_split
from .structures import (
    b8_pair,
    b8_pairs,
    power_spectrum_pair,
    power_spectrum_pairs,
    radial_pair,
    radial_pairs,
)


__all__ = [
    "BOHR_ANGSTROM",
    "HARTREE_EV",
    "PBE_REFERENCE_HA",
    "SHA256",
    "b8_pair",
    "b8_pairs",
    "file_sha256",
    "pbe_pairs",
    "power_spectrum_pair",
    "power_spectrum_pairs",
    "radial_pair",
    "radial_pairs",
    "read_extxyz",
    "read_pairs",
    "read_shipped",
    "read_silicon",
    "shipped_path",
    "silicon_path",
    "silicon_split",
    "write_silicon_split",
]
