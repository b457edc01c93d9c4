import ase
import ase.io
import numpy as np
import pytest
import yaml
from ase.calculators.singlepoint import SinglePointCalculator

from tricenter.train.config import load_config, parse_config
from tricenter.train.data import load_parts
from tricenter.train.metatrain import from_metatrain


def _write(path, n, forces=True, seed=0):
    """``n`` random Si structures with made-up energies and forces."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        atoms = ase.Atoms(
            "Si3", positions=rng.uniform(0, 3, (3, 3)), cell=np.eye(3) * 4, pbc=True
        )
        atoms.calc = SinglePointCalculator(
            atoms,
            energy=float(rng.normal()),
            forces=rng.normal(size=(3, 3)) if forces else None,
        )
        frames.append(atoms)
    ase.io.write(path, frames, format="extxyz")
    return frames


def _same(first, second):
    (a, split_a), (b, split_b) = first, second
    np.testing.assert_array_equal(a.energies, b.energies)
    assert (a.forces is None) == (b.forces is None)
    if a.forces is not None:
        for x, y in zip(a.forces, b.forces):
            np.testing.assert_array_equal(x, y)
    assert a.sources == b.sources
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(split_a[part], split_b[part])


def test_options_yaml_gives_the_dataset_of_the_tricenter_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write("si.xyz", 20)
    options = """
training_set:
  systems:
    read_from: si.xyz
    length_unit: angstrom
  targets:
    energy:
      key: energy
      unit: eV
      forces:
        key: forces
validation_set: 0.1
test_set: 0.2
split: {seed: 4}
"""
    (tmp_path / "options.yaml").write_text(options)
    config = load_config("options.yaml")
    tricenter = parse_config(
        {
            "data": {"path": "si.xyz", "forces_key": "forces"},
            "split": {"train": 0.7, "val": 0.1, "test": 0.2, "seed": 4},
        }
    )
    assert config.data == tricenter.data
    assert config.split == tricenter.split
    _same(load_parts(config), load_parts(tricenter))
    dataset, split = load_parts(config)
    assert [len(split[p]) for p in ("train", "val", "test")] == [14, 2, 4]
    assert dataset.forces is not None


def test_files_and_indices(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write("train.xyz", 12)
    _write("val.xyz", 3, seed=1)
    _write("test.xyz", 4, seed=2)
    config = parse_config(
        {
            "training_set": "train.xyz",
            "validation_set": "val.xyz",
            "test_set": {
                "systems": "test.xyz",
                "targets": {"energy": {"key": "energy"}},
                "indices": [0, 2],
            },
        }
    )
    tricenter = parse_config(
        {
            "data": {"path": "train.xyz", "forces_key": "forces"},
            "validation": {"path": "val.xyz", "forces_key": "forces"},
            "test": {"path": "test.xyz", "forces_key": "forces", "indices": [0, 2]},
            "split": {"train": 1.0, "val": 0.0, "test": 0.0},
        }
    )
    _same(load_parts(config), load_parts(tricenter))
    dataset, split = load_parts(config)
    test_energies = [f.get_potential_energy() for f in ase.io.read("test.xyz", ":")]
    np.testing.assert_allclose(
        dataset.energies[split["test"]], np.array(test_energies)[[0, 2]]
    )
    assert len(split["train"]) == 12 and len(split["val"]) == 3

    # indices into the training file, as metatrain's indices-only sets
    (tmp_path / "val.txt").write_text("3\n7\n")
    config = parse_config(
        {
            "training_set": {
                "systems": "train.xyz",
                "targets": {"energy": "train.xyz"},
                "indices": [0, 1, 2, 4, 5, 6],
            },
            "validation_set": {"indices": "val.txt"},
            "test_set": {"indices": [8, 9]},
        }
    )
    dataset, split = load_parts(config)
    assert [dataset.sources[i][1] for i in split["val"]] == [3, 7]
    assert [dataset.sources[i][1] for i in split["test"]] == [8, 9]
    assert sorted(dataset.sources[i][1] for i in split["train"]) == [0, 1, 2, 4, 5, 6]


def test_a_structure_in_two_parts_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write("train.xyz", 6)
    config = parse_config(
        {"training_set": "train.xyz", "validation_set": {"indices": [1, 2]}}
    )
    with pytest.raises(ValueError, match=r"frame 1 of .*train.xyz' is in both"):
        load_parts(config)
    config = parse_config({"training_set": "train.xyz", "validation_set": "train.xyz"})
    with pytest.raises(ValueError, match="in both the train and the val set"):
        load_parts(config)


def test_forces_follow_metatrain_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write("plain.xyz", 6, forces=False)
    # forces are used when the file has them, and skipped otherwise ...
    dataset, _ = load_parts(
        parse_config({"training_set": "plain.xyz", "validation_set": 0.2})
    )
    assert dataset.forces is None
    off = {"energy": {"forces": False}}
    config = parse_config(
        {
            "training_set": {"systems": "plain.xyz", "targets": off},
            "validation_set": 0.2,
        }
    )
    assert config.data.forces_key is None
    # ... but forces asked for by key must be there
    asked = {"energy": {"forces": {"key": "my_forces"}}}
    config = parse_config(
        {
            "training_set": {"systems": "plain.xyz", "targets": asked},
            "validation_set": 0.2,
        }
    )
    with pytest.raises(ValueError, match="has no 'my_forces' array"):
        load_parts(config)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"training_set": ["a.xyz"]}, "training_set: a list of data sets"),
        ({"architecture": {"name": "pet"}}, "'architecture' is a metatrain option"),
        ({"seed": 1}, r"'seed' is a metatrain option: set 'split.seed'"),
        ({"data": {"path": "a.xyz"}}, "either as 'data' or as metatrain's"),
        ({"split": {"val": 0.2}}, r"'split.val' is set by 'validation_set'"),
        ({"validation_set": 1.5}, r"validation_set: a fraction must be in \[0, 1\)"),
        ({"test_set": 0.95}, "leave no training set"),
        (
            {"training_set": {"systems": "a.xyz", "targets": {"energy": "b.xyz"}}},
            "read_from 'b.xyz' differs from the systems' file 'a.xyz'",
        ),
        (
            {"training_set": {"systems": "a.xyz", "targets": {"dipole": "a.xyz"}}},
            r"exactly one target, 'energy', is supported; got \['dipole'\]",
        ),
        (
            {
                "training_set": {
                    "systems": {"read_from": "a.xyz", "length_unit": "bohr"},
                    "targets": {"energy": "a.xyz"},
                }
            },
            "length_unit 'bohr' is not supported",
        ),
        (
            {
                "training_set": {
                    "systems": {"read_from": "a.mts", "reader": "metatensor"},
                    "targets": {"energy": "a.mts"},
                }
            },
            "reader 'metatensor' is not supported",
        ),
        (
            {
                "training_set": {
                    "systems": "a.xyz",
                    "targets": {"energy": {"unit": "meV"}},
                }
            },
            "unit 'meV' is not supported",
        ),
        (
            {
                "training_set": {
                    "systems": "a.xyz",
                    "targets": {"energy": {"stress": True}},
                }
            },
            "does not train on the stress; set stress: false",
        ),
        (
            {"training_set": {"systems": "a.xyz", "targets": {}, "extra_data": {}}},
            "training_set: unsupported key 'extra_data'",
        ),
    ],
)
def test_unsupported_layouts_are_refused(change, message):
    options = {"training_set": "a.xyz", "validation_set": 0.1, **change}
    with pytest.raises(ValueError, match=message):
        parse_config(options)


def test_validation_set_is_required():
    with pytest.raises(ValueError, match="'validation_set' is required"):
        parse_config({"training_set": "a.xyz"})
    with pytest.raises(ValueError, match="need a 'training_set'"):
        parse_config({"validation_set": 0.1})


def test_units_convert(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frames = _write("ha.xyz", 5)
    targets = {"energy": {"unit": "Hartree"}}
    config = parse_config(
        {
            "training_set": {"systems": "ha.xyz", "targets": targets},
            "validation_set": 0.2,
        }
    )
    dataset, _ = load_parts(config)
    hartree = 27.211386245988
    np.testing.assert_allclose(
        dataset.energies, [f.get_potential_energy() * hartree for f in frames]
    )
    np.testing.assert_allclose(dataset.forces[0], frames[0].get_forces() * hartree)


@pytest.mark.parametrize(
    "training_set",
    [
        "si.xyz",
        {"systems": "si.xyz", "targets": {"energy": {"key": "e", "forces": "si.xyz"}}},
        {"systems": "si.xyz", "targets": {"energy": {"forces": {"key": "f"}}}},
        {"systems": "si.xyz", "targets": {"energy": {"forces": False}}},
    ],
)
def test_keys_are_those_that_metatrain_reads(training_set):
    """metatrain's own expansion of the same section names the same keys."""
    omegaconf = pytest.importorskip("omegaconf")
    expand = pytest.importorskip("metatrain.utils.omegaconf").expand_dataset_config
    section = from_metatrain({"training_set": training_set, "validation_set": 0.1})
    conf = training_set if isinstance(training_set, str) else dict(training_set)
    (expanded,) = expand(
        conf if isinstance(conf, str) else omegaconf.OmegaConf.create(conf)
    )
    energy = expanded["targets"]["energy"]
    assert section["data"]["path"] == expanded["systems"]["read_from"]
    assert section["data"]["energy_key"] == energy["key"]
    if energy["forces"]:
        assert section["data"]["forces_key"] == energy["forces"]["key"]
    else:
        assert section["data"]["forces_key"] is None


def test_yaml_file_round_trip(tmp_path):
    path = tmp_path / "options.yaml"
    path.write_text(yaml.safe_dump({"training_set": "x.xyz", "test_set": 0.1}))
    with pytest.raises(ValueError, match=r"in '.*options.yaml': 'validation_set'"):
        load_config(path)
