"""Exported models in LAMMPS (pair_style metatomic), with the documented input."""

import shutil
import subprocess

import ase
import ase.build
import ase.io
import numpy as np
import pytest

from .helpers import EXAMPLES, assert_relative, calculator, executable, periodic_cell


def _lammps_with_metatomic():
    for name in ("lmp", "lmp_serial", "lmp_mpi"):
        found = executable(name)
        if found is None:
            continue
        help_text = subprocess.run(
            [found, "-h"], capture_output=True, text=True, timeout=60
        ).stdout
        if "metatomic" in help_text:
            return found
    return None


def test_lammps(exported, tmp_path):
    """The documented LAMMPS input (examples/lammps) runs, with LAMMPS' ghost atoms
    and ``selected_atoms``, and agrees with ASE."""
    executable = _lammps_with_metatomic()
    if executable is None:
        pytest.skip(
            "no LAMMPS executable (lmp) built with ML-METATOMIC on the PATH; no pip "
            "wheel provides one (conda: metatensor::lammps-metatomic)"
        )
    atoms = periodic_cell(seed=13)
    # LAMMPS needs a lower-triangular cell
    atoms.set_cell(atoms.cell.standard_form()[0], scale_atoms=True)
    ase.io.write(
        tmp_path / "structure.data",
        atoms,
        format="lammps-data",
        specorder=["C", "H"],
        masses=True,
    )
    shutil.copy(EXAMPLES / "lammps" / "in.lammps", tmp_path / "in.lammps")
    process = subprocess.run(
        [executable, "-in", "in.lammps", "-var", "model", str(exported)]
        + ["-var", "data", "structure.data", "-var", "steps", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    dump = ase.io.read(tmp_path / "forces.dump", format="lammps-dump-text")
    energy = float((tmp_path / "energy.txt").read_text().split()[-1])

    atoms.calc = calculator(exported)
    assert abs(energy - atoms.get_potential_energy()) < 1e-8
    order = np.argsort(dump.arrays["id"]) if "id" in dump.arrays else slice(None)
    assert_relative(dump.get_forces()[order], atoms.get_forces(), 1e-8)
