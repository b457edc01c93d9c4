"""Triplet features: the pure-torch core and the metatensor calculator on top of it.

The core modules take and return plain tensors: :py:mod:`.hypers` (featomic-style
hyper-parameters), :py:mod:`.radial` and :py:mod:`.harmonics` (the basis),
:py:mod:`.cg` (Clebsch–Gordan coefficients), :py:mod:`.expansion` (pair expansion and
neighbour density), :py:mod:`.contraction` (the triplet contraction),
:py:mod:`.neighbors` (pairs of centres and neighbours) and :py:mod:`.core`
(:py:class:`TripletCore`, which joins them, and which the models use). The
metatensor layer is :py:mod:`.calculator` (:py:class:`TripletFeatures`), with
:py:mod:`.blocks` (labels and blocks), :py:mod:`.batches` (ASE input, chunks of
centres) and :py:mod:`.maps` (pair expansion and density as TensorMaps).
"""

from .hypers import PAPER_HYPERS


__all__ = ["PAPER_HYPERS", "TripletCore", "TripletFeatures"]


def __getattr__(name):
    # torch and metatensor load only when the calculator or the core is first used
    if name == "TripletFeatures":
        from .calculator import TripletFeatures

        return TripletFeatures
    if name == "TripletCore":
        from .core import TripletCore

        return TripletCore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
