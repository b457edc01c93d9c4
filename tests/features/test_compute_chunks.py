"""TripletFeatures.compute_chunks: the triplets of compute(), a chunk of centres at a
time, each chunk bounded and owning its memory."""

import ase
import metatensor.torch as mts
import pytest
import torch

from tricenter import TripletFeatures

from ..helpers import HYPERS, molecule_and_cell


def _frames():
    molecule, periodic = molecule_and_cell(7)
    far = ase.Atoms("CO", positions=[[0, 0, 0], [9, 0, 0]])
    return [molecule, periodic, far, molecule]


@pytest.mark.parametrize("o3_lambdas", [[0], [0, 1]])
@pytest.mark.parametrize("max_triplets", [1, 30, 10**9])
def test_joined_chunks_are_compute(o3_lambdas, max_triplets):
    calculator = TripletFeatures(**HYPERS, o3_lambdas=o3_lambdas)
    frames = _frames()
    whole = calculator.compute(frames)
    chunks = list(calculator.compute_chunks(frames, max_triplets=max_triplets))
    if max_triplets == 10**9:
        assert len(chunks) == 1
    else:
        assert len(chunks) > 3
    for key, block in whole.items():
        parts = [chunk.block(key) for chunk in chunks]
        samples = torch.cat([part.samples.values for part in parts])
        assert torch.equal(samples, block.samples.values)
        values = torch.cat([part.values for part in parts])
        torch.testing.assert_close(values, block.values, rtol=1e-12, atol=1e-15)
        for part in parts:
            assert part.properties == block.properties
            assert part.components == block.components


def test_chunks_are_bounded_and_own_their_memory():
    calculator = TripletFeatures(**HYPERS)
    max_triplets = 40
    chunks = list(calculator.compute_chunks(_frames(), max_triplets=max_triplets))
    for chunk in chunks:
        samples = torch.cat([block.samples.values for block in chunk.blocks()])
        centers = torch.unique(samples[:, :2], dim=0)
        assert samples.shape[0] <= max_triplets or centers.shape[0] == 1
        # the storage behind a chunk's blocks is the chunk's own size: no chunk is
        # a view of an output for every centre
        storages = {
            block.values.untyped_storage().data_ptr(): block.values.untyped_storage()
            for block in chunk.blocks()
            if len(block.samples) != 0
        }
        n_bytes = sum(storage.nbytes() for storage in storages.values())
        n_numbers = sum(block.values.numel() for block in chunk.blocks())
        assert n_bytes == n_numbers * 8


def test_selected_samples_and_keys_are_kept():
    calculator = TripletFeatures(**HYPERS)
    frames = _frames()
    selection = mts.Labels(
        ["system", "atom"], torch.tensor([[0, 0], [0, 3], [3, 1]], dtype=torch.int32)
    )
    keys = mts.Labels(["neighbor_1_type"], torch.tensor([[1]], dtype=torch.int32))
    whole = calculator.compute(frames, selection, selected_keys=keys)
    chunks = calculator.compute_chunks(
        frames, selection, selected_keys=keys, max_triplets=10
    )
    chunks = list(chunks)
    assert len(chunks) == 3
    for chunk in chunks:
        assert chunk.keys == whole.keys
    for key, block in whole.items():
        values = torch.cat([chunk.block(key).values for chunk in chunks])
        torch.testing.assert_close(values, block.values, rtol=1e-12, atol=1e-15)


def test_bad_input_raises_before_iterating():
    calculator = TripletFeatures(**HYPERS)
    overlapping = ase.Atoms("CO", positions=[[0, 0, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="two atoms at the same position"):
        calculator.compute_chunks(overlapping)


def test_no_neighbour_gives_one_empty_chunk():
    calculator = TripletFeatures(**HYPERS)
    far = ase.Atoms("CO", positions=[[0, 0, 0], [9, 0, 0]])
    with pytest.warns(UserWarning, match="no centre has a neighbour"):
        chunks = list(calculator.compute_chunks(far))
    assert len(chunks) == 1
    assert all(len(block.samples) == 0 for block in chunks[0].blocks())
