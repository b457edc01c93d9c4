"""TripletFeatures' interface: keyword-only hypers, selected keys, and the warning
on empty results."""

import ase.build
import metatensor
import metatensor.torch as mts
import numpy as np
import pytest
import torch

from tricenter import TripletFeatures
from tricenter.features.neighbors import systems_with_neighbors

from ..helpers import HYPERS


TYPES = [1, 6, 8]


@pytest.fixture(scope="module")
def calculator():
    return TripletFeatures(**HYPERS, atomic_types=TYPES, o3_lambdas=[0, 1])


def _frames():
    rng = np.random.default_rng(5)
    return [ase.Atoms("CH3OH", positions=1.2 * rng.normal(size=(6, 3)))]


def test_hypers_are_keyword_only():
    with pytest.raises(TypeError, match="positional argument"):
        TripletFeatures(HYPERS["cutoff"], HYPERS["density"], HYPERS["basis"])


def _expected(full, selection):
    """Blocks of ``full`` whose key matches a row of ``selection`` on its names."""
    names = list(selection.names)
    wanted = {tuple(row) for row in selection.values.tolist()}
    return [
        index
        for index, key in enumerate(full.keys)
        if tuple(int(key[name]) for name in names) in wanted
    ]


def _assert_selected(result, full, selection):
    kept = _expected(full, selection)
    assert 0 < len(kept) < len(full.keys)
    assert result.keys == mts.Labels(full.keys.names, full.keys.values[kept])
    for index, block in zip(kept, result.blocks()):
        reference = full.block(index)
        assert block.samples == reference.samples
        assert block.properties == reference.properties
        torch.testing.assert_close(block.values, reference.values)


@pytest.mark.parametrize(
    "selection",
    [
        mts.Labels(["o3_lambda"], torch.tensor([[1]], dtype=torch.int32)),
        mts.Labels(["center_type"], torch.tensor([[6], [8]], dtype=torch.int32)),
        mts.Labels(
            ["neighbor_2_type", "o3_sigma"], torch.tensor([[1, -1]], dtype=torch.int32)
        ),
    ],
)
def test_selected_keys_filter_the_full_result(calculator, selection):
    frames = _frames()
    _assert_selected(
        calculator.compute(frames, selected_keys=selection),
        calculator.compute(frames),
        selection,
    )
    _assert_selected(
        calculator.compute_sum(frames, selected_keys=selection),
        calculator.compute_sum(frames),
        selection,
    )
    # the TorchScript forward takes the same selection
    systems = systems_with_neighbors(frames, calculator.cutoff)
    scripted = torch.jit.script(calculator)
    _assert_selected(
        scripted(systems, selected_keys=selection), calculator(systems), selection
    )


def test_selected_keys_from_metatensor_core(calculator):
    selection = metatensor.Labels(["o3_lambda"], np.array([[0]], dtype=np.int32))
    torch_selection = mts.Labels(["o3_lambda"], torch.tensor([[0]], dtype=torch.int32))
    frames = _frames()
    _assert_selected(
        calculator.compute(frames, selected_keys=selection),
        calculator.compute(frames),
        torch_selection,
    )


def test_selected_keys_matching_nothing(calculator):
    selection = mts.Labels(["center_type"], torch.tensor([[92]], dtype=torch.int32))
    result = calculator.compute(_frames(), selected_keys=selection)
    assert len(result.keys) == 0
    assert result.keys.names == calculator.compute(_frames()).keys.names


def test_selected_keys_with_unknown_names(calculator):
    selection = mts.Labels(["spherical_order"], torch.tensor([[0]], dtype=torch.int32))
    message = "selected_keys has the name 'spherical_order', which is not a key name"
    with pytest.raises(ValueError, match=message):
        calculator.compute(_frames(), selected_keys=selection)
    with pytest.raises(ValueError, match=message):
        calculator.compute_sum(_frames(), selected_keys=selection)


def test_warns_when_no_centre_has_a_neighbour():
    silicon = ase.build.bulk("Si", "diamond", a=5.43)
    hypers = {**HYPERS, "cutoff": {**HYPERS["cutoff"], "radius": 2.0}}
    hypers["cutoff"]["smoothing"] = {"type": "ShiftedCosine", "width": 0.1}
    calculator = TripletFeatures(**hypers)
    message = (
        "no centre has a neighbour within the cutoff of 2 Å "
        r"\(the shortest interatomic distance is 2.35 Å\)"
    )
    with pytest.warns(UserWarning, match=message):
        tensor = calculator.compute(silicon)
    assert all(len(block.samples) == 0 for block in tensor.blocks())

    with pytest.warns(UserWarning, match=message):
        calculator.compute(systems_with_neighbors([silicon], 2.0))

    # at 2.5 Å every atom has its four neighbours, and no warning
    hypers["cutoff"]["radius"] = 2.5
    tensor = TripletFeatures(**hypers).compute(silicon)
    assert len(tensor.block({"o3_sigma": 1}).samples) == 2 * 4 * 4


def test_warns_for_a_lone_atom(calculator):
    with pytest.warns(UserWarning, match=r"\(no system has two atoms\)"):
        calculator.compute(ase.Atoms("C"))
