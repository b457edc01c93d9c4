"""Triplet features: the pure-torch core and the metatensor calculator on top of it.

The core modules take and return plain tensors: :py:mod:`.hypers` (featomic-style
hyper-parameters), :py:mod:`.radial` and :py:mod:`.harmonics` (the basis),
:py:mod:`.cg` (Clebsch–Gordan coefficients), :py:mod:`.expansion` (pair expansion and
neighbour density), :py:mod:`.contraction` (the triplet contraction) and
:py:mod:`.neighbors` (pairs of centres and neighbours). :py:mod:`.calculator` wraps
them into :py:class:`TripletFeatures`, which returns metatensor ``TensorMap``.
"""

from .hypers import PAPER_HYPERS


__all__ = ["PAPER_HYPERS", "TripletFeatures"]


def __getattr__(name):
    # torch and metatensor load only when the calculator is first used
    if name == "TripletFeatures":
        from .calculator import TripletFeatures

        return TripletFeatures
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
