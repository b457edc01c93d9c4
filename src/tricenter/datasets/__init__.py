"""Structures and data sets: generated degenerate pairs and the data shipped with
the package."""

from .shipped import read_extxyz, read_shipped, shipped_path
from .structures import (
    b8_pair,
    b8_pairs,
    power_spectrum_pair,
    power_spectrum_pairs,
    radial_pair,
    radial_pairs,
)


__all__ = [
    "b8_pair",
    "b8_pairs",
    "power_spectrum_pair",
    "power_spectrum_pairs",
    "radial_pair",
    "radial_pairs",
    "read_extxyz",
    "read_shipped",
    "shipped_path",
]
