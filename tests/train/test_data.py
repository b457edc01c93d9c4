import numpy as np
import pytest
import torch

from tricenter.train.config import parse_config
from tricenter.train.data import (
    check_types,
    data_path,
    group_batches,
    load_dataset,
    split_groups,
)

from .common import small_config, write_pairs


def test_missing_energies_are_refused(tmp_path):
    write_pairs(tmp_path / "pairs.xyz", 2, energy=False)
    config = parse_config(small_config(tmp_path))
    with pytest.raises(ValueError, match="frame 0 of .* has no energy 'energy'"):
        load_dataset(config.data)
    config.data.energy_key = "energy_ha"
    config.data.pair_key = "nothing"
    with pytest.raises(ValueError, match="has no energy 'energy_ha'.* data.energy_key"):
        load_dataset(config.data)


def test_a_missing_file_names_the_path_and_the_key(tmp_path):
    config = parse_config(small_config(tmp_path))
    message = r"data.path: no file '.*pairs.xyz' \(relative paths start from"
    with pytest.raises(FileNotFoundError, match=message):
        load_dataset(config.data)


def test_shipped_pairs():
    """``shipped:b8-pbe-pairs`` reads the paper's PBE pairs shipped with tricenter,
    with energies in eV and forces from the gradients."""
    config = parse_config(
        {
            "data": {
                "path": "shipped:b8-pbe-pairs",
                "energy_key": "energy_ha",
                "energy_unit": "Ha",
                "forces_key": "gradient_habohr",
                "forces_unit": "Ha/Bohr",
                "forces_are_gradients": True,
                "consecutive_pairs": True,
                "max_frames": 4,
            }
        }
    )
    dataset = load_dataset(config.data)
    assert dataset.path == data_path("shipped:b8-pbe-pairs")
    assert dataset.path.is_file()
    assert len(dataset.frames) == 4 and dataset.groups.tolist() == [0, 0, 1, 1]
    frame = dataset.frames[1]
    assert dataset.energies[1] == pytest.approx(
        frame.info["energy_ha"] * 27.211386245988
    )
    gradient = frame.arrays["gradient_habohr"]
    assert np.allclose(dataset.forces[1], -gradient * 27.211386245988 / 0.529177210903)


def test_unknown_elements_are_named(tmp_path):
    frames = write_pairs(tmp_path / "pairs.xyz", 2)
    frames[3].numbers[2] = 6
    import ase.io

    ase.io.write(tmp_path / "pairs.xyz", frames, format="extxyz")
    dataset = load_dataset(parse_config(small_config(tmp_path)).data)
    check_types([5], dataset, [0, 1, 2], "train")
    message = (
        r"frame 3 of '.*pairs.xyz' \(test set\) contains C \(atomic number 6\), but "
        r"the model supports only B; add the element to model.atomic_types"
    )
    with pytest.raises(ValueError, match=message):
        check_types([5], dataset, [0, 3], "test")
    check_types([5, 6], dataset, [0, 3], "test")


def test_split_keeps_pairs_together():
    groups = np.repeat(np.arange(50), 2)
    split = split_groups(groups, (0.6, 0.2, 0.2), seed=1)
    assert sorted(np.concatenate(list(split.values())).tolist()) == list(range(100))
    sets = {name: set(groups[index].tolist()) for name, index in split.items()}
    assert not (sets["train"] & sets["test"]) and not (sets["val"] & sets["test"])
    assert len(sets["test"]) == 10 and len(sets["val"]) == 10
    again = split_groups(groups, (0.6, 0.2, 0.2), seed=1)
    assert all(np.array_equal(split[k], again[k]) for k in split)


def test_batches_hold_whole_groups():
    groups = np.array([4, 1, 4, 7, 1, 7, 9, 2, 2])
    batches = group_batches(groups, 2, torch.Generator().manual_seed(0))
    assert [len(set(groups[b])) for b in batches] == [2, 2, 1]
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(groups)))
    for batch in batches:
        for group in set(groups[batch]):
            assert set(np.nonzero(groups == group)[0]) <= set(batch)
