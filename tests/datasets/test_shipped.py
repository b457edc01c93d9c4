import gzip
import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import tricenter.datasets.shipped
from tricenter import datasets, labelling
from tricenter.datasets import (
    PBE_REFERENCE_HA,
    SHA256,
    pbe_pairs,
    read_pairs,
    read_shipped,
    shipped_path,
)
from tricenter.datasets.extxyz import frame_chunks


ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "src" / "tricenter" / "datasets" / "data" / "README.md"
DOCS = ROOT / "docs" / "src" / "data.rst"
# independent of the package's constants: CODATA 2018
EV_PER_HA = 27.211386245988
ANGSTROM_PER_BOHR = 0.529177210903


def _stated_checksums(path):
    """``{file name: SHA-256}`` from the ``sha256sum`` lines of a document."""
    found = re.findall(r"^\s*([0-9a-f]{64})  (\S+)\s*$", path.read_text(), re.M)
    return {name: checksum for checksum, name in found}


@pytest.mark.parametrize("document", [README, DOCS], ids=["README", "docs"])
def test_stated_checksums_are_those_of_the_shipped_files(document):
    stated = _stated_checksums(document)
    assert sorted(stated) == sorted(tricenter.datasets.shipped.SHIPPED.values())
    for name, filename in tricenter.datasets.shipped.SHIPPED.items():
        path = shipped_path(name)
        assert path.name == filename
        live = hashlib.sha256(path.read_bytes()).hexdigest()
        assert stated[filename] == live
        assert SHA256[name] == live
        assert shipped_path(name, verify=True) == path


def test_a_changed_file_fails_verification(tmp_path, monkeypatch):
    copy = tmp_path / "data"
    copy.mkdir()
    original = shipped_path("b8-pbe-pairs")
    damaged = copy / original.name
    shutil.copyfile(original, damaged)
    with open(damaged, "ab") as stream:
        stream.write(b"\0")
    monkeypatch.setattr(tricenter.datasets.shipped, "files", lambda package: tmp_path)
    assert shipped_path("b8-pbe-pairs") == damaged
    with pytest.raises(ValueError, match="is damaged or was changed.*reinstall"):
        shipped_path("b8-pbe-pairs", verify=True)


def test_unknown_name():
    with pytest.raises(ValueError, match=r"no shipped data set called 'b8'.*b8-pbe"):
        shipped_path("b8")
    with pytest.raises(ValueError, match="no shipped data set called 'b8'"):
        read_pairs("b8")


def test_pbe_pairs_are_converted_to_ev_and_forces():
    raw = read_shipped("b8-pbe-pairs", ":")
    assert len(raw) == 3000
    chosen = [0, 1, 1234, 2999]
    frames = pbe_pairs([raw[i] for i in chosen])
    assert [f.info["frame"] for f in frames] == chosen
    assert [f.info["pair"] for f in frames] == [0, 0, 617, 1499]
    assert [f.info["partner"] for f in frames] == ["+", "-", "+", "-"]
    for index, frame in zip(chosen, frames):
        source = raw[index]
        assert int(source.info["label"]) == index
        expected = (source.info["energy_ha"] + 198.27291671238572) * EV_PER_HA
        assert frame.info["target"] == pytest.approx(expected, rel=1e-14)
        total = source.info["energy_ha"] * EV_PER_HA
        assert frame.get_potential_energy() == pytest.approx(total, rel=1e-14)
        gradient = source.arrays["gradient_habohr"]
        np.testing.assert_allclose(
            frame.get_forces(), -gradient * EV_PER_HA / ANGSTROM_PER_BOHR, rtol=1e-14
        )
        np.testing.assert_array_equal(frame.positions, source.positions)
        assert frame.info["reference_energy_ha"] == PBE_REFERENCE_HA
        # the conversion leaves its input alone
        assert "target" not in source.info and source.calc is None


def test_read_pairs_gives_both_files_the_same_fields():
    for name in ("b8-pbe-pairs", "b8-xtb-pairs"):
        frames = read_pairs(name, ":4")
        assert [f.info["pair"] for f in frames] == [0, 0, 1, 1]
        assert [f.info["partner"] for f in frames] == ["+", "-", "+", "-"]
        for frame in frames:
            reference = frame.info["reference_energy_ha"] * EV_PER_HA
            target = frame.get_potential_energy() - reference
            # the GFN2-xTB file was converted with ASE's (CODATA 2014) Hartree:
            # 2e-6 eV apart on its reference of -9.4 Ha
            assert frame.info["target"] == pytest.approx(target, abs=1e-5)
            assert frame.get_forces().shape == (8, 3)
    # both files hold the same geometries
    pbe, xtb = read_pairs("b8-pbe-pairs", ":4"), read_pairs("b8-xtb-pairs", ":4")
    for a, b in zip(pbe, xtb):
        np.testing.assert_allclose(a.positions, b.positions, atol=1e-7)


def test_bad_pbe_frames():
    frame = read_shipped("b8-pbe-pairs", "0")[0]
    del frame.arrays["gradient_habohr"]
    del frame.info["label"]
    with pytest.raises(ValueError, match="frame 0 .* has no label, gradient_habohr"):
        pbe_pairs([frame])


def test_shipped_xtb_dataset():
    path = shipped_path("b8-xtb-pairs")
    with gzip.open(path, "rb") as fd:
        assert len(frame_chunks(fd.read())) == 8000
    frames = read_shipped("b8-xtb-pairs", ":4")
    frames += read_shipped("b8-xtb-pairs", "-2:")
    for index, atoms in zip([0, 1, 2, 3, 7998, 7999], frames):
        assert atoms.info["frame"] == index
        assert atoms.info["pair"] == index // 2
        assert atoms.info["partner"] == "+-"[index % 2]
        assert atoms.info["method"] == "gfn2-xtb"
        assert atoms.get_forces().shape == (8, 3)
        # labelled with ASE's (CODATA 2014) Hartree
        reference = atoms.info["reference_energy_ha"] * 27.211386024367243
        target = atoms.get_potential_energy() - reference
        assert atoms.info["target"] == pytest.approx(target, abs=1e-9)
    # partners share all their interatomic distances, not their energies
    plus, minus = frames[0], frames[1]
    np.testing.assert_allclose(
        np.sort(plus.get_all_distances().ravel()),
        np.sort(minus.get_all_distances().ravel()),
        atol=1e-6,
    )
    assert abs(plus.get_potential_energy() - minus.get_potential_energy()) > 1e-4


def test_labelling_aliases_are_deprecated():
    with pytest.warns(DeprecationWarning, match=r"use `tricenter\.datasets\.shipped"):
        path = labelling.default_dataset_path()
    assert path == shipped_path("b8-xtb-pairs")
    with pytest.warns(DeprecationWarning, match=r"use `tricenter\.datasets\.read_s"):
        frames = labelling.read_default_dataset(":2")
    assert [f.info["frame"] for f in frames] == [0, 1]
    np.testing.assert_array_equal(
        frames[1].positions, read_shipped("b8-xtb-pairs", "1")[0].positions
    )


def test_datasets_namespace():
    for name in datasets.__all__:
        assert hasattr(datasets, name)
