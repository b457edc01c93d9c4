"""Complete three-centre (triplet) descriptors of atomic environments."""

__version__ = "0.1.0.dev0"

from .calculator import TripletFeatures  # noqa: E402
from .hypers import PAPER_HYPERS  # noqa: E402


__all__ = ["PAPER_HYPERS", "TripletFeatures"]
