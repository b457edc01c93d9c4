import sys

import pytest
from ase.build import molecule

from tricenter.labelling.label import compute_label


def test_xtb_energy_and_forces():
    pytest.importorskip("tblite.interface", reason="tblite is not installed")
    atoms = molecule("H2O")
    labelled = compute_label(atoms, "gfn2-xtb", forces=True)
    assert labelled.info["backend"] == "tblite"
    assert labelled.info["energy_ha"] == pytest.approx(-5.07, abs=0.01)
    step = 1e-4
    energies = []
    for sign in (1, -1):
        displaced = atoms.copy()
        displaced.positions[0, 2] += sign * step
        energies.append(compute_label(displaced, "gfn2-xtb").info["energy"])
    numerical = -(energies[0] - energies[1]) / (2 * step)
    assert labelled.arrays["forces"][0, 2] == pytest.approx(numerical, abs=1e-4)


def test_missing_tblite_is_explained(monkeypatch):
    monkeypatch.setitem(sys.modules, "tblite", None)
    monkeypatch.setitem(sys.modules, "tblite.interface", None)
    with pytest.raises(ImportError, match=r"pip install tricenter\[xtb\]"):
        compute_label(molecule("H2O"), "gfn2-xtb")
