"""TripletCore: plain tensors in and out, eager and TorchScript, both dtypes, the
same values as the metatensor calculator."""

import pytest
import torch

from tricenter import TripletFeatures
from tricenter.features.contraction import TripletContraction
from tricenter.features.core import Expansions, TripletCore
from tricenter.features.hypers import parse_hypers
from tricenter.features.neighbors import gather_pairs, systems_with_neighbors

from ..helpers import HYPERS, molecule_and_cell


TYPES = [1, 6, 8]


@pytest.fixture(scope="module")
def core():
    return TripletCore(parse_hypers(**HYPERS))


def _frames():
    return molecule_and_cell(3)


def _pairs(core, dtype=torch.float64):
    systems = systems_with_neighbors(_frames(), core.cutoff, dtype=dtype)
    return gather_pairs(systems, core.options, None)


def _invariant_rows(core, pairs, expansions):
    """{(system, centre, j, j', shifts of j and j'): invariant features}."""
    values, first, second = core.triplets(expansions)
    invariants = core.invariants(values)
    rows = torch.cat(
        [
            pairs.centers[pairs.pair_center[first]],
            pairs.neighbors[first].unsqueeze(1),
            pairs.neighbors[second].unsqueeze(1),
            pairs.cell_shifts[first],
            pairs.cell_shifts[second],
        ],
        dim=1,
    )
    return {tuple(row): value for row, value in zip(rows.tolist(), invariants)}


def test_matches_the_calculator(core):
    pairs = _pairs(core)
    expansions = core(pairs, torch.tensor(TYPES))
    assert isinstance(expansions, Expansions)
    n_centers = pairs.centers.shape[0]
    assert expansions.density.shape == (n_centers, 9, 3 * 3)
    ours = _invariant_rows(core, pairs, expansions)

    tensor = TripletFeatures(**HYPERS, atomic_types=TYPES).compute(_frames())
    n_blocks = len(core.contraction.blocks)
    n_type_keys = len(tensor.keys) // n_blocks
    compared = 0
    # keys run over (lambda, sigma) blocks, then over type triples; the invariant
    # features of a triplet are its sigma = +1 and sigma = -1 blocks side by side
    for index in range(n_type_keys):
        blocks = [tensor.block(index + b * n_type_keys) for b in range(n_blocks)]
        values = torch.cat([block.values for block in blocks], dim=1)
        for sample, value in zip(blocks[0].samples.values.tolist(), values):
            torch.testing.assert_close(
                ours[tuple(sample)], value, rtol=1e-12, atol=1e-12
            )
            compared += 1
    assert compared == len(ours) > 0


def test_summed_is_the_sum_of_triplets(core):
    pairs = _pairs(core)
    expansions = core(pairs, torch.tensor(TYPES))
    values, first, second = core.triplets(expansions)
    triplets = core.invariants(values)
    n_centers = pairs.centers.shape[0]
    n_types = len(TYPES)
    index = (
        pairs.pair_center[first] * n_types + expansions.pair_type[first]
    ) * n_types + expansions.pair_type[second]
    expected = torch.zeros(n_centers * n_types * n_types, triplets.shape[1])
    expected = expected.to(triplets).index_add(0, index, triplets)

    summed = core.invariants(core.summed(expansions.density).values)
    torch.testing.assert_close(summed, expected, rtol=1e-10, atol=1e-12)


def test_script_matches_eager(core):
    pairs = _pairs(core)
    types = torch.tensor(TYPES)
    scripted = torch.jit.script(core)
    eager, script = core(pairs, types), scripted(pairs, types)
    for name in Expansions._fields:
        torch.testing.assert_close(getattr(script, name), getattr(eager, name))
    torch.testing.assert_close(
        scripted.invariants(scripted.triplets(script).values),
        core.invariants(core.triplets(eager).values),
    )
    torch.testing.assert_close(
        scripted.summed(script.density).values, core.summed(eager.density).values
    )


def test_float32_follows_input(core):
    types = torch.tensor(TYPES)
    double = core.invariants(core.triplets(core(_pairs(core), types)).values)
    single = core(_pairs(core, torch.float32), types)
    assert single.expansion.dtype == single.density.dtype == torch.float32
    single = core.invariants(core.triplets(single).values)
    assert single.dtype == torch.float32
    scale = double.abs().max()
    torch.testing.assert_close(
        single.double() / scale, double / scale, atol=1e-5, rtol=0
    )


def test_unknown_types_are_named(core):
    pairs = _pairs(core)
    message = r"atomic types \[6, 8\] \(C, O\) are not supported: the supported "
    message += r"types are H \(1\), B \(5\)$"
    with pytest.raises(ValueError, match=message):
        core(pairs, torch.tensor([1, 5]))
    with pytest.raises(torch.jit.Error, match=message):
        torch.jit.script(core)(pairs, torch.tensor([1, 5]))


def test_no_centres(core):
    pairs = gather_pairs([], core.options, None)
    expansions = core(pairs, torch.tensor(TYPES))
    assert expansions.density.shape == (0, 9, 9)
    values, first, _ = core.triplets(expansions)
    assert first.shape == (0,)
    assert core.invariants(values).shape[0] == 0


@pytest.mark.parametrize("o3_lambdas", [[0], [0, 1]])
def test_spans_do_not_change_the_triplets(o3_lambdas):
    """Centres with different neighbour counts, in spans of one centre, of mixed
    counts (padded), or all together, give the same triplets."""
    contraction = TripletContraction(max_angular=2, n_radial=2, o3_lambdas=o3_lambdas)
    generator = torch.Generator().manual_seed(0)
    counts = torch.tensor([3, 1, 4, 4, 2, 0, 5, 3])
    pair_center = torch.repeat_interleave(torch.arange(counts.shape[0]), counts)
    n_pairs = pair_center.shape[0]
    expansion = torch.randn((n_pairs, 9, 2), generator=generator, dtype=torch.float64)
    density = torch.randn((n_pairs, 9, 4), generator=generator, dtype=torch.float64)
    widest = max(contraction.block_sizes(2)) * (2 * max(o3_lambdas) + 1)
    results = []
    for span_numbers in (1, 10 * widest, 10**9):
        contraction.span_numbers = span_numbers
        values, first, second = contraction(expansion, density, pair_center, 8)
        results.append(values)
    assert first.shape[0] == int((counts * counts).sum())
    assert all(float(block.abs().min(dim=0).values.max()) > 0 for block in results[0])
    for values in results[1:]:
        for reference, block in zip(results[0], values):
            torch.testing.assert_close(block, reference, rtol=1e-13, atol=1e-14)
