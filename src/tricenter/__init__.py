"""Complete three-centre (triplet) descriptors of atomic environments."""

from . import _compat
from .features.hypers import PAPER_HYPERS


_compat.install()


__version__ = "0.1.0.dev0"
__all__ = ["PAPER_HYPERS", "TripletFeatures"]


def __getattr__(name):
    # torch and metatensor load only when the calculator is first used, so that
    # ``tricenter --help`` and ``tricenter label`` start quickly
    if name == "TripletFeatures":
        from .features.calculator import TripletFeatures

        return TripletFeatures
    raise AttributeError(f"module 'tricenter' has no attribute {name!r}")
