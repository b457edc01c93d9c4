"""
Triplet features and the environments the bispectrum cannot tell apart
=======================================================================

This example computes three-centre, one-neighbour features for a pair of B8 clusters
whose central atoms have *identical* bispectra, and shows that the triplets tell them
apart as soon as a non-linear function is applied before summing over neighbour pairs.
"""

# %%
import matplotlib.pyplot as plt
import metatensor.torch as mts
import torch

from tricenter import TripletFeatures
from tricenter.datasets.structures import b8_pairs


# %%
# The hyper-parameters of the paper, in featomic's format
# --------------------------------------------------------

calculator = TripletFeatures(
    cutoff={"radius": 2.0, "smoothing": {"type": "ShiftedCosine", "width": 0.1}},
    density={"type": "Gaussian", "width": 0.2, "center_atom_weight": 0.0},
    basis={
        "type": "TensorProduct",
        "max_angular": 3,
        "radial": {"type": "Gto", "max_radial": 5},
    },
    atomic_types=[5],
)

# %%
# Two partners of a bispectrum-degenerate pair. Only the central atom (atom 0) is
# described; it has 7 neighbours, so 49 ordered pairs ``(j, j')``.

plus, minus = b8_pairs(1, seed=12345)
center = mts.Labels(["atom"], torch.tensor([[0]], dtype=torch.int32))
triplets = calculator.compute([plus, minus], selected_samples=center)
print(triplets)

block = triplets.block({"o3_sigma": 1})
print("samples:", block.samples.names)
print("properties:", block.properties.names, len(block.properties))

# %%
# ``selected_keys`` keeps only the blocks that match some of the key names, here the
# proper (``o3_sigma = 1``) invariants.

proper = mts.Labels(["o3_sigma"], torch.tensor([[1]], dtype=torch.int32))
print(calculator.compute([plus, minus], center, selected_keys=proper).keys)

# %%
# The per-centre sums over ``(j, j')`` are the bispectrum: they agree to round-off.

sums = calculator.compute_sum([plus, minus], selected_samples=center)
values = torch.cat([block.values for block in sums.blocks()], dim=1)
difference = (values[0] - values[1]).norm() / values[0].norm()
print(f"bispectrum, relative difference between partners: {difference:.1e}")

# %%
# A fixed non-linear map of each triplet, summed afterwards, distinguishes them.

features = torch.cat([block.values for block in triplets.blocks()], dim=1)
system = triplets.block(0).samples.column("system")
torch.manual_seed(0)
weights = torch.randn(features.shape[1], 8, dtype=features.dtype)
weights = weights / features.abs().max()
summaries = torch.zeros((2, 8), dtype=features.dtype)
summaries = summaries.index_add(0, system, torch.tanh(features @ weights))
difference = (summaries[0] - summaries[1]).norm() / summaries[0].norm()
print(f"non-linear triplet summary, relative difference: {difference:.1e}")

# %%
# Triplet by triplet, the two partners differ, even though their sums coincide.

figure, axis = plt.subplots(figsize=(5, 4))
norms = features.norm(dim=1).reshape(2, 49)
axis.plot(norms[0].sort().values, "o", label="'+' partner")
axis.plot(norms[1].sort().values, "x", label="'-' partner")
axis.set_xlabel("triplet (sorted)")
axis.set_ylabel("norm of the triplet features")
axis.legend()
figure.tight_layout()
