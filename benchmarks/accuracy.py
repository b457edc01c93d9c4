"""Measured agreement of tricenter with featomic, and the B8 degeneracy.

Prints the figures that the tests bound (tests assert thresholds; this shows values)::

    python benchmarks/accuracy.py
"""

import copy

import ase
import featomic
import metatensor.torch as mts
import numpy as np
import torch
from featomic.clebsch_gordan import DensityCorrelations

from tricenter import PAPER_HYPERS, TripletFeatures
from tricenter.datasets.structures import b8_pairs


HYPERS = {
    "cutoff": {"radius": 3.0, "smoothing": {"type": "ShiftedCosine", "width": 0.5}},
    "density": {"type": "Gaussian", "width": 0.3, "center_atom_weight": 0.0},
    "basis": {
        "type": "TensorProduct",
        "max_angular": 3,
        "radial": {"type": "Gto", "max_radial": 3},
    },
}


def random_frames(n_frames, seed):
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n_frames):
        n_atoms = int(rng.integers(3, 7))
        symbols = list(rng.choice(["H", "C"], size=n_atoms))
        positions = rng.uniform(-1.4, 1.4, size=(n_atoms, 3))
        frames.append(ase.Atoms(symbols=symbols, positions=positions))
    frames.append(
        ase.Atoms(
            "SiC",
            positions=[[0, 0, 0], [1.1, 0.9, 1.0]],
            cell=[[2.6, 0.3, 0.1], [0.4, 2.7, 0.2], [0.2, 0.5, 2.8]],
            pbc=True,
        )
    )
    return frames


def max_relative_deviation(ours, reference):
    scale = max(np.abs(block.values).max(initial=0) for block in reference.blocks())
    worst = 0.0
    for key, block in reference.items():
        rows = block.samples.values
        # featomic's pair expansion includes i == i self pairs, which are not
        # neighbours
        if "first_atom" in block.samples.names:
            keep = ~((rows[:, 1] == rows[:, 2]) & np.all(rows[:, 3:] == 0, axis=1))
        else:
            keep = np.ones(len(rows), dtype=bool)
        mine = ours.block(dict(zip(key.names, key.values.tolist())))
        index = {tuple(r): i for i, r in enumerate(mine.samples.values.tolist())}
        order = [index[tuple(r)] for r in rows[keep].tolist()]
        if order:
            difference = mine.values.numpy()[order] - block.values[keep]
            worst = max(worst, np.abs(difference).max() / scale)
    return worst


def span_residual(x, y):
    coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    return np.linalg.norm(x @ coefficients - y) / np.linalg.norm(y)


def main():
    frames = random_frames(20, seed=0)
    reference_hypers = copy.deepcopy(HYPERS)
    reference_hypers["basis"]["spline_accuracy"] = 1e-12
    calculator = TripletFeatures(**HYPERS)
    density = max_relative_deviation(
        calculator.compute_density(frames),
        featomic.SphericalExpansion(**reference_hypers).compute(frames),
    )
    pairs = max_relative_deviation(
        calculator.compute_pair_expansion(frames),
        featomic.SphericalExpansionByPair(**reference_hypers).compute(frames),
    )
    print(f"density vs featomic SphericalExpansion:       {density:.1e} (max / max)")
    print(f"pairs vs featomic SphericalExpansionByPair:   {pairs:.1e} (max / max)")

    small = copy.deepcopy(HYPERS)
    small["basis"].update(
        {"max_angular": 2, "radial": {"type": "Gto", "max_radial": 1}}
    )
    frames = random_frames(300, seed=1)
    ours = TripletFeatures(**small).compute_sum(frames)
    ours = ours.keys_to_properties(["neighbor_1_type", "neighbor_2_type"])
    small["basis"]["spline_accuracy"] = 1e-12
    density = featomic.SphericalExpansion(**small).compute(frames)
    density = density.keys_to_properties("neighbor_type")
    correlations = DensityCorrelations(
        n_correlations=2, max_angular=2, skip_redundant=False
    )
    reference = correlations.compute(density, angular_cutoff=2)
    reference = reference.keys_to_properties(["l_1", "l_2", "k_2", "l_3"])
    for key, block in reference.items():
        if int(key["o3_lambda"]) != 0:
            continue
        selection = {name: int(key[name]) for name in ("o3_sigma", "center_type")}
        mine = ours.block(selection)
        x = mine.values.numpy()
        y = block.values.reshape(len(block.samples), -1)
        order_x = np.lexsort(mine.samples.values.numpy().T[::-1])
        order_y = np.lexsort(block.samples.values.T[::-1])
        x, y = x[order_x], y[order_y]
        print(
            f"sum rule {selection}: {x.shape[0]} environments, rank "
            f"{np.linalg.matrix_rank(x)}/{np.linalg.matrix_rank(y)}, residual "
            f"ours->featomic {span_residual(x, y):.1e}, "
            f"featomic->ours {span_residual(y, x):.1e}"
        )

    calculator = TripletFeatures(**PAPER_HYPERS, atomic_types=[5])
    center = mts.Labels(["atom"], torch.tensor([[0]], dtype=torch.int32))
    frames = b8_pairs(20, seed=12345)
    sums = calculator.compute_sum(frames, selected_samples=center)
    sums = torch.cat([block.values for block in sums.blocks()], dim=1)
    triplets = calculator.compute(frames, selected_samples=center)
    values = torch.cat([block.values for block in triplets.blocks()], dim=1)
    system = triplets.block(0).samples.column("system").to(torch.long)
    weights = torch.randn(
        values.shape[1],
        16,
        generator=torch.Generator().manual_seed(0),
        dtype=values.dtype,
    )
    summaries = torch.zeros((len(frames), 16), dtype=values.dtype).index_add(
        0, system, torch.tanh(values @ weights / values.abs().max())
    )
    linear = (sums[0::2] - sums[1::2]).norm(dim=1) / sums[0::2].norm(dim=1)
    nonlinear = (summaries[0::2] - summaries[1::2]).norm(dim=1)
    nonlinear = nonlinear / summaries[0::2].norm(dim=1)
    print(
        f"B8, 20 pairs: per-centre sums differ by at most {linear.max():.1e}; "
        f"tanh-summed triplets differ by {nonlinear.min():.1e} to {nonlinear.max():.1e}"
    )


if __name__ == "__main__":
    main()
