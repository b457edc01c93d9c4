import numpy as np
import pytest
from ase.build import molecule
from ase.units import Bohr, Hartree

from tricenter.datasets import read_shipped
from tricenter.labelling.label import SCFNotConvergedError, compute_label

from .waters import METHOD


pytest.importorskip("pyscf", reason="DFT labels need PySCF (tricenter[dft])")


def test_compute_label_units_and_metadata():
    import pyscf

    atoms = molecule("H2O")
    labelled = compute_label(atoms, METHOD, forces=True, grid_level=0, threads=1)
    info = labelled.info
    assert info["energy"] == pytest.approx(info["energy_ha"] * Hartree, rel=1e-14)
    assert info["converged"] is True
    assert info["pyscf_version"] == pyscf.__version__
    for key, value in {
        "method": "lda/sto-3g",
        "xc": "lda",
        "basis": "sto-3g",
        "smearing_ha": 0.01,
        "smearing_method": "fermi",
        "grid_level": 0,
        "init_guess": "minao",
        "scf_attempt": "default",
    }.items():
        assert info[key] == value
    assert labelled.arrays["forces"].shape == (3, 3)
    # the input is not modified
    assert "energy" not in atoms.info and "forces" not in atoms.arrays
    with_target = compute_label(
        atoms, METHOD, grid_level=0, threads=1, reference_energy=-74.0
    )
    expected = (with_target.info["energy_ha"] + 74.0) * Hartree
    assert with_target.info["target"] == pytest.approx(expected, rel=1e-12)


def test_forces_are_minus_the_energy_gradient_in_ev_per_angstrom():
    atoms = molecule("H2O")
    settings = {"grid_level": 3, "threads": 1, "conv_tol": 1e-11}
    forces = compute_label(atoms, METHOD, forces=True, **settings).arrays["forces"]
    step = 1e-3
    energies = []
    for sign in (1, -1):
        displaced = atoms.copy()
        displaced.positions[1, 1] += sign * step
        energies.append(compute_label(displaced, METHOD, **settings).info["energy"])
    numerical = -(energies[0] - energies[1]) / (2 * step)
    assert forces[1, 1] == pytest.approx(numerical, abs=2e-3)
    assert abs(forces[1, 1]) > 0.5


def test_retry_ladder_gives_the_default_answer():
    atoms = molecule("H2O")
    plain = compute_label(atoms, METHOD, grid_level=0, threads=1).info
    # three cycles are too few: the damped, level-shifted rung converges, and its
    # undamped polish lands on the same stationary point
    retried = compute_label(atoms, METHOD, grid_level=0, threads=1, max_cycle=3).info
    assert retried["scf_attempt"] == "damped"
    assert "default: not converged in 3 cycles" in retried["scf_history"]
    assert retried["energy_ha"] == pytest.approx(plain["energy_ha"], abs=1e-8)
    # without smearing, the last rung is PySCF's second-order solver
    plain = compute_label(atoms, METHOD, grid_level=0, threads=1, smearing=0).info
    newton = compute_label(
        atoms, METHOD, grid_level=0, threads=1, smearing=0, max_cycle=1
    ).info
    assert newton["scf_attempt"] == "newton"
    assert newton["energy_ha"] == pytest.approx(plain["energy_ha"], abs=1e-8)


def test_unconverged_structure_raises():
    with pytest.raises(SCFNotConvergedError, match="did not converge after 3 attempts"):
        compute_label(molecule("H2O"), METHOD, grid_level=0, threads=1, max_cycle=1)


@pytest.mark.slow
def test_paper_settings_reproduce_the_archive(request):
    # minutes of DFT: only when asked for, e.g. `pytest -m slow`
    if "slow" not in (request.config.option.markexpr or ""):
        pytest.skip("PBE/cc-pVDZ at paper settings takes minutes: run with -m slow")
    frame = read_shipped("b8-pbe-pairs", 0)[0]
    labelled = compute_label(frame, "pbe/cc-pvdz", forces=True)
    assert labelled.info["grid_level"] == 5
    assert labelled.info["smearing_ha"] == 0.01
    assert labelled.info["energy_ha"] == pytest.approx(
        frame.info["energy_ha"], abs=1e-6
    )
    gradient = -labelled.arrays["forces"] * Bohr / Hartree
    np.testing.assert_allclose(gradient, frame.arrays["gradient_habohr"], atol=1e-6)
