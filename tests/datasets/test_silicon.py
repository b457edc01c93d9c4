import importlib.metadata
import json

import ase
import ase.io
import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator

from tricenter.datasets import silicon
from tricenter.datasets.silicon import (
    duplicates,
    read_silicon,
    silicon_path,
    silicon_split,
)


def _installed() -> bool:
    try:
        importlib.metadata.distribution(silicon.PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


needs_pyxtal_ff = pytest.mark.skipif(
    not _installed(), reason=f"pyxtal-ff is not installed ({silicon.INSTALL})"
)


def _raw(count=None):
    """The records of Si_train.json, parsed here without tricenter."""
    path = importlib.metadata.distribution("pyxtal-ff").locate_file(
        "pyxtal_ff/datasets/Si/PyXtal/Si_train.json"
    )
    with open(path) as stream:
        return json.load(stream)[:count]


@needs_pyxtal_ff
def test_structures_match_the_raw_file():
    frames = read_silicon(max_structures=6, drop_duplicates=False)
    raw = _raw(6)
    assert len(frames) == 6
    for i, (frame, record) in enumerate(zip(frames, raw)):
        cell = np.array(record["lattice"]["data"])
        fractional = np.array(record["coords"]["data"])
        np.testing.assert_allclose(frame.cell.array, cell, atol=1e-12)
        np.testing.assert_allclose(frame.positions, fractional @ cell, atol=1e-10)
        assert frame.get_chemical_symbols() == record["elements"]
        assert frame.pbc.all()
        assert frame.get_potential_energy() == record["energy"]
        np.testing.assert_array_equal(frame.get_forces(), np.array(record["force"]))
        assert frame.info == {
            "source": f"pyxtal-ff {importlib.metadata.version('pyxtal-ff')}",
            "file": "pyxtal_ff/datasets/Si/PyXtal/Si_train.json",
            "index": i,
        }


@needs_pyxtal_ff
def test_energies_are_totals_with_diamond_at_its_known_value():
    frames = read_silicon()
    per_atom = np.array([f.get_potential_energy() / len(f) for f in frames])
    assert per_atom.min() == pytest.approx(-5.425, abs=1e-3)
    diamond = frames[int(np.argmin(per_atom))]
    # diamond: every atom has 4 neighbours at the same distance, about 2.37 Å
    distances = np.sort(diamond.get_all_distances(mic=True), axis=1)[:, 1:5]
    np.testing.assert_allclose(distances, distances[0, 0], rtol=1e-3)
    assert 2.3 < distances[0, 0] < 2.4


@needs_pyxtal_ff
def test_repeated_records_are_dropped():
    raw = _raw()
    first = {}
    repeats = set()
    for i, record in enumerate(raw):
        key = json.dumps([record["lattice"], record["coords"], record["energy"]])
        if key in first:
            repeats.add(i)
        first.setdefault(key, i)
    assert len(repeats) > 0
    everything = read_silicon(drop_duplicates=False)
    assert len(everything) == len(raw)
    kept = read_silicon()
    indices = {frame.info["index"] for frame in kept}
    # every byte-identical repetition goes, and nothing else but repetitions
    assert not repeats & indices
    # what else goes repeats an earlier kept structure's size and energy
    for i in sorted(set(range(len(raw))) - indices - repeats):
        assert any(
            raw[j]["energy"] == raw[i]["energy"]
            and len(raw[j]["elements"]) == len(raw[i]["elements"])
            for j in indices
            if j < i
        )


def test_duplicates_finds_repeats_up_to_tiny_cell_differences():
    def frame(energy, cell):
        atoms = ase.Atoms("Si", cell=np.eye(3) * cell, pbc=True)
        atoms.calc = SinglePointCalculator(
            atoms, energy=energy, forces=np.zeros((1, 3))
        )
        return atoms

    frames = [
        frame(-5.0, 2.5),
        frame(-4.0, 2.5),
        frame(-5.0, 2.5 * (1 + 1e-6)),
        frame(-5.0, 3.0),
        frame(-4.0, 2.5),
    ]
    np.testing.assert_array_equal(duplicates(frames), [0, 0, 1, 0, 1])


def test_split_is_disjoint_complete_and_seeded():
    frames = [ase.Atoms("Si", info={"index": i}) for i in range(50)]
    parts = silicon_split(frames)
    ids = {name: [f.info["index"] for f in part] for name, part in parts.items()}
    assert [len(ids[name]) for name in ("train", "val", "test")] == [40, 5, 5]
    assert sorted(ids["train"] + ids["val"] + ids["test"]) == list(range(50))
    again = silicon_split(frames)
    assert {k: [f.info["index"] for f in v] for k, v in again.items()} == ids
    other = silicon_split(frames, seed=1)
    assert [f.info["index"] for f in other["test"]] != ids["test"]
    with pytest.raises(ValueError, match="sum to 1"):
        silicon_split(frames, (0.8, 0.1, 0.2))


def test_missing_package_names_the_install_command(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(
        ModuleNotFoundError,
        match=r"'pyxtal-ff'.*pip install --no-deps pyxtal-ff==0\.2\.2",
    ):
        read_silicon()


def test_unknown_file_is_refused():
    with pytest.raises(ValueError, match="no silicon data file 'Si9.json'"):
        silicon_path("Si9.json")


@needs_pyxtal_ff
def test_written_split_reads_back(tmp_path):
    paths = silicon.write_silicon_split(tmp_path)
    frames = read_silicon()
    by_index = {f.info["index"]: f for f in frames}
    back = {part: ase.io.read(path, ":") for part, path in paths.items()}
    assert sum(len(v) for v in back.values()) == len(frames)
    test = back["test"][3]
    original = by_index[test.info["index"]]
    assert test.get_potential_energy() == original.get_potential_energy()
    np.testing.assert_allclose(test.get_forces(), original.get_forces())
    np.testing.assert_allclose(test.positions, original.positions)
