"""The sum rule (Σ_jj' T_ijj' is the bispectrum) and the B8 degeneracy it implies."""

import copy

import ase
import metatensor.torch as mts
import numpy as np
import pytest
import torch

from tricenter import TripletFeatures
from tricenter.datasets.structures import b8_pairs

from ..helpers import HYPERS, PAPER_HYPERS


featomic = pytest.importorskip("featomic")
clebsch_gordan = pytest.importorskip("featomic.clebsch_gordan")


def _random_environments(n_frames, seed):
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n_frames):
        n_atoms = int(rng.integers(3, 7))
        positions = rng.uniform(-1.4, 1.4, size=(n_atoms, 3))
        symbols = rng.choice(["H", "C"], size=n_atoms)
        frames.append(ase.Atoms(symbols=list(symbols), positions=positions))
    return frames


def _invariants_by_sigma(tensor, moved):
    """``(n_samples, n_features)`` per (o3_sigma, center_type), samples sorted."""
    tensor = tensor.keys_to_properties(moved)
    result = {}
    for key, block in tensor.items():
        if int(key["o3_lambda"]) != 0:
            continue
        values = block.values
        if isinstance(values, torch.Tensor):
            values = values.detach().numpy()
        order = np.lexsort(np.asarray(block.samples.values).T[::-1])
        values = values.reshape(len(block.samples), -1)
        result[(int(key["o3_sigma"]), int(key["center_type"]))] = values[order]
    return result


def _span_residual(x, y):
    """Relative residual of the least-squares fit of ``y`` from ``x``."""
    coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    return np.linalg.norm(x @ coefficients - y) / np.linalg.norm(y)


def test_sum_rule_spans_featomic_bispectrum():
    hypers = copy.deepcopy(HYPERS)
    hypers["basis"]["radial"]["max_radial"] = 1
    hypers["basis"]["spline_accuracy"] = 1e-12
    frames = _random_environments(300, seed=1)

    calculator = TripletFeatures(**{k: v for k, v in hypers.items()})
    ours = _invariants_by_sigma(
        calculator.compute_sum(frames), ["neighbor_1_type", "neighbor_2_type"]
    )

    density = featomic.SphericalExpansion(**hypers).compute(frames)
    density = density.keys_to_properties("neighbor_type")
    correlations = clebsch_gordan.DensityCorrelations(
        n_correlations=2, max_angular=2, skip_redundant=False
    )
    reference = correlations.compute(density, angular_cutoff=2)
    reference = _invariants_by_sigma(reference, ["l_1", "l_2", "k_2", "l_3"])

    assert set(ours) == set(reference)
    for key in ours:
        x, y = ours[key], reference[key]
        rank = max(np.linalg.matrix_rank(x), np.linalg.matrix_rank(y))
        # more environments than features: a spanning test that can fail
        assert x.shape[0] > 2 * rank, (key, x.shape, rank)
        assert _span_residual(x, y) < 1e-8, key
        assert _span_residual(y, x) < 1e-8, key


def test_triplets_sum_to_per_center_sums():
    frames = _random_environments(5, seed=2)
    calculator = TripletFeatures(**HYPERS, o3_lambdas=[0, 1])
    triplets = calculator.compute(frames)
    summed = calculator.compute_sum(frames)
    for key, block in summed.items():
        full = triplets.block(key)
        samples = full.samples.values[:, :2].to(torch.long)
        atoms = {tuple(row): i for i, row in enumerate(block.samples.values.tolist())}
        index = torch.tensor([atoms[tuple(row)] for row in samples.tolist()])
        total = torch.zeros_like(block.values).index_add(0, index, full.values)
        torch.testing.assert_close(total, block.values, rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def b8_features():
    frames = b8_pairs(6, seed=12345)
    calculator = TripletFeatures(**PAPER_HYPERS, atomic_types=[5])
    selection = mts.Labels(["atom"], torch.tensor([[0]], dtype=torch.int32))
    triplets = calculator.compute(frames, selected_samples=selection)
    summed = calculator.compute_sum(frames, selected_samples=selection)
    return triplets, summed


def _stacked(tensor):
    blocks = [block.values for block in tensor.blocks()]
    samples = tensor.block(0).samples.values
    for block in tensor.blocks():
        assert torch.equal(block.samples.values, samples)
    return torch.cat(blocks, dim=1), samples


def test_b8_paper_sizes(b8_features):
    triplets, _ = b8_features
    values, samples = _stacked(triplets)
    assert values.shape[1] == 7344
    calculator = TripletFeatures(**PAPER_HYPERS)
    assert calculator.contraction.n_invariant_features(1) == 7344
    assert calculator.contraction.n_invariant_features(2) == 2 * 7344
    sizes = {int(k["o3_sigma"]): len(b.properties) for k, b in triplets.items()}
    assert sizes == {1: 4968, -1: 2376}
    systems, counts = torch.unique(samples[:, 0], return_counts=True)
    assert len(systems) == 12 and torch.all(counts == 49)
    assert torch.all(samples[:, 1] == 0)


def test_b8_bispectrum_degenerate_triplets_not(b8_features):
    triplets, summed = b8_features
    sums, _ = _stacked(summed)
    values, samples = _stacked(triplets)
    # a fixed non-linear map of each triplet, then the sum over (j, j')
    generator = torch.Generator().manual_seed(0)
    weights = torch.randn(values.shape[1], 16, generator=generator, dtype=values.dtype)
    scale = values.abs().max()
    nonlinear = torch.zeros((12, 16), dtype=values.dtype).index_add(
        0, samples[:, 0].to(torch.long), torch.tanh(values @ weights / scale)
    )
    for pair in range(6):
        plus, minus = 2 * pair, 2 * pair + 1
        linear = (sums[plus] - sums[minus]).norm() / sums[plus].norm()
        assert linear < 1e-10
        complete = (nonlinear[plus] - nonlinear[minus]).norm()
        assert complete / nonlinear[plus].norm() > 1e-3
