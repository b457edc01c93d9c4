"""Exported models in ASE (metatomic-ase): forces and stress against finite
differences, continuity at the cutoff, NVE, CUDA."""

import time

import ase
import ase.build
import ase.io
import numpy as np
import pytest
import torch

from .helpers import (
    assert_relative,
    calculator,
    displaced,
    finite_differences,
    periodic_cell,
)


def test_ase_forces_stress(exported, record_property):
    atoms = periodic_cell(seed=6)
    atoms.calc = calculator(exported)
    forces = atoms.get_forces()
    stress = atoms.get_stress(voigt=False)

    delta = 1e-5
    frames = displaced(atoms, delta)
    energies = calculator(exported).compute_energy(frames)["energy"]
    fd_forces, fd_stress = finite_differences(atoms, energies, delta)
    record_property("ase_forces_fd", assert_relative(forces, fd_forces, 1e-6))
    record_property("ase_stress_fd", assert_relative(stress, fd_stress, 1e-6))


@pytest.mark.parametrize("which", ["exported", "exported_deepset"])
def test_energy_continuous_at_the_cutoff(which, request):
    """Energy conservation in MD needs an energy that is continuous when a neighbour
    crosses the cutoff sphere: every per-triplet term must vanish with the cutoff
    function (a deep set whose phi(0) is not zero jumps by phi(0) instead)."""
    exported = request.getfixturevalue(which)
    cutoff = 2.6
    energies = []
    for distance in (cutoff - 1e-6, cutoff + 1e-6):
        atoms = ase.Atoms("CHC", positions=[[0, 0, 0], [1.1, 0, 0], [0, distance, 0.0]])
        atoms.calc = calculator(exported)
        energies.append(atoms.get_potential_energy())
    # the cutoff function and its derivative vanish at the cutoff: the energy
    # changes by O(1e-12) over 2e-6 A
    assert abs(energies[1] - energies[0]) < 1e-8


def run_nve(path, steps, timestep_fs):
    """Velocity Verlet from 300 K in ASE; per-atom total energies at every step."""
    from ase import units
    from ase.md import velocitydistribution
    from ase.md.verlet import VelocityVerlet

    atoms = periodic_cell(seed=8)
    atoms.calc = calculator(path, check_consistency=False)
    # ASE 3.29 renamed MaxwellBoltzmannDistribution (now deprecated)
    thermalize = getattr(velocitydistribution, "thermalize_momenta", None)
    if thermalize is None:
        thermalize = velocitydistribution.MaxwellBoltzmannDistribution
    thermalize(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dynamics = VelocityVerlet(atoms, timestep=timestep_fs * units.fs)
    totals = []

    def record():
        totals.append(atoms.get_potential_energy() + atoms.get_kinetic_energy())

    dynamics.attach(record, interval=1)
    start = time.perf_counter()
    dynamics.run(steps)
    elapsed = time.perf_counter() - start
    return np.array(totals) / len(atoms), elapsed / steps


def test_ase_nve(exported, record_property):
    """Velocity Verlet in ASE conserves the total energy."""
    totals, seconds = run_nve(exported, steps=20, timestep_fs=0.25)
    deviation = np.abs(totals - totals[0]).max()
    record_property("nve_max_deviation_ev_per_atom", float(deviation))
    record_property("nve_seconds_per_step", seconds)
    assert deviation < 1e-3


@pytest.mark.slow
def test_ase_nve_long(exported, record_property):
    """A longer NVE run: drift (linear fit) and fluctuations of the total energy."""
    timestep = 0.25
    totals, seconds = run_nve(exported, steps=1000, timestep_fs=timestep)
    times = np.arange(len(totals)) * timestep / 1000
    slope = np.polyfit(times, totals, 1)[0]
    deviation = np.abs(totals - totals[0]).max()
    record_property("nve_drift_ev_per_atom_per_ps", float(slope))
    record_property("nve_max_deviation_ev_per_atom", float(deviation))
    record_property("nve_seconds_per_step", seconds)
    assert abs(slope) < 0.1
    assert deviation < 1e-2


def test_cuda(exported):
    """The exported model runs on a GPU, and agrees with the CPU."""
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available on this machine")
    atoms = periodic_cell(seed=17)
    atoms.calc = calculator(exported, device="cuda")
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    atoms.calc = calculator(exported, device="cpu")
    assert abs(energy - atoms.get_potential_energy()) < 1e-10 * max(1.0, abs(energy))
    assert_relative(forces, atoms.get_forces(), 1e-9)
