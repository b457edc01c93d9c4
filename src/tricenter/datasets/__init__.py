"""Structures and data sets: generated degenerate pairs and the data shipped with
the package."""

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
]
