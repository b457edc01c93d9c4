"""Models built on triplet features, and the baselines of the paper's Table 1."""

from .baselines import BispectrumEnergyModel, FeatureEnergyModel, NiceFeatures
from .deepset import (
    EnergyModel,
    PerTypeHeads,
    TripletEncoder,
    TripletEnergyModel,
    TripletVectorModel,
)
from .mlp import mlp


#: the hyper-parameters of the paper (7344 invariant triplet features per type pair)
PAPER_HYPERS = {
    "cutoff": {"radius": 2.0, "smoothing": {"type": "ShiftedCosine", "width": 0.1}},
    "density": {"type": "Gaussian", "width": 0.2, "center_atom_weight": 0.0},
    "basis": {
        "type": "TensorProduct",
        "max_angular": 3,
        "radial": {"type": "Gto", "max_radial": 5},
    },
}

__all__ = [
    "PAPER_HYPERS",
    "BispectrumEnergyModel",
    "EnergyModel",
    "FeatureEnergyModel",
    "NiceFeatures",
    "PerTypeHeads",
    "TripletEncoder",
    "TripletEnergyModel",
    "TripletVectorModel",
    "mlp",
]
