"""Models built on triplet features, and the baselines of the paper's Table 1."""

from ..features.hypers import PAPER_HYPERS
from .baselines import BispectrumEnergyModel, FeatureEnergyModel, NiceFeatures
from .deepset import (
    EnergyModel,
    PerTypeHeads,
    TripletEncoder,
    TripletEnergyModel,
    TripletVectorModel,
)
from .layers import mlp
from .potential import POTENTIAL_HYPERS, TripletPotential


__all__ = [
    "PAPER_HYPERS",
    "POTENTIAL_HYPERS",
    "BispectrumEnergyModel",
    "EnergyModel",
    "FeatureEnergyModel",
    "NiceFeatures",
    "PerTypeHeads",
    "TripletEncoder",
    "TripletEnergyModel",
    "TripletPotential",
    "TripletVectorModel",
    "mlp",
]
