"""Exported models in TorchSim: batches and NVE against ASE."""

import importlib.util

import numpy as np
import pytest
import torch

from .helpers import assert_relative, calculator, periodic_cell


def torchsim_model(path):
    """TorchSim's metatomic wrapper of an exported model: ``metatomic-torchsim``
    (TorchSim >= 0.5, Python >= 3.12), else the wrapper TorchSim 0.3 carries itself
    (``torch_sim.models.metatomic``, the last TorchSim release for Python 3.11)."""
    if importlib.util.find_spec("metatomic_torchsim") is not None:
        from metatomic_torchsim import MetatomicModel

        return MetatomicModel(str(path), device="cpu")
    if importlib.util.find_spec("torch_sim") is None:
        pytest.skip("TorchSim is not installed (pip install 'tricenter[engines]')")
    from torch_sim.models.metatomic import MetatomicModel

    return MetatomicModel(str(path), device="cpu")


def torchsim_frames():
    """Three cells of different sizes, batched together."""
    frames = [periodic_cell(seed=seed) for seed in (10, 11, 12)]
    frames[1] = frames[1].repeat((2, 1, 1))
    return frames


# TorchSim 0.3 uses vesin APIs that vesin 0.6 deprecates
@pytest.mark.filterwarnings("ignore:`vesin.torch` is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:`compute_requested_neighbors` is deprecated")
def test_torchsim_batch(exported):
    """TorchSim evaluates a batch of systems; each agrees with ASE."""
    ts_model = torchsim_model(exported)
    import torch_sim

    frames = torchsim_frames()
    state = torch_sim.io.atoms_to_state(frames, device="cpu", dtype=torch.float64)
    output = ts_model(state)
    energies = output["energy"].detach().numpy()
    forces = output["forces"].detach().numpy()
    stresses = output["stress"].detach().numpy()

    start = 0
    for index, atoms in enumerate(frames):
        atoms.calc = calculator(exported)
        assert abs(energies[index] - atoms.get_potential_energy()) < 1e-8
        stop = start + len(atoms)
        assert_relative(forces[start:stop], atoms.get_forces(), 1e-8)
        assert_relative(stresses[index], atoms.get_stress(voigt=False), 1e-8)
        start = stop


# TorchSim 0.3 uses vesin APIs that vesin 0.6 deprecates
@pytest.mark.filterwarnings("ignore:`vesin.torch` is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:`compute_requested_neighbors` is deprecated")
def test_torchsim_nve(exported, record_property):
    """A batched velocity-Verlet run in TorchSim conserves each system's energy and
    follows the same trajectories as ASE's VelocityVerlet from the same momenta."""
    from ase import units
    from ase.md.verlet import VelocityVerlet

    ts_model = torchsim_model(exported)
    import torch_sim

    frames = torchsim_frames()
    rng = np.random.default_rng(0)
    momenta = [rng.normal(scale=0.3, size=(len(atoms), 3)) for atoms in frames]
    steps, timestep = 10, 0.25 * units.fs
    state = torch_sim.io.atoms_to_state(frames, device="cpu", dtype=torch.float64)
    dt = torch.tensor(timestep, dtype=torch.float64)
    initialize, update = torch_sim.nve(
        ts_model, dt=dt, kT=torch.tensor(0.0, dtype=torch.float64)
    )
    md = initialize(state)
    md.momenta = torch.tensor(np.concatenate(momenta))
    totals = []
    for _ in range(steps + 1):
        kinetic = torch_sim.calc_kinetic_energy(
            momenta=md.momenta, masses=md.masses, system_idx=md.system_idx
        )
        totals.append((md.energy + kinetic).detach().numpy())
        md = update(md, dt)
    totals = np.array(totals) / np.array([len(atoms) for atoms in frames])
    deviation = np.abs(totals - totals[0]).max()
    record_property("torchsim_nve_max_deviation_ev_per_atom", float(deviation))
    assert deviation < 1e-3

    positions = md.positions.detach().numpy()
    start = 0
    for atoms, initial in zip(frames, momenta):
        atoms.set_momenta(initial)
        atoms.calc = calculator(exported, check_consistency=False)
        VelocityVerlet(atoms, timestep=timestep).run(steps + 1)
        stop = start + len(atoms)
        # TorchSim wraps positions back into the cell, ASE does not
        fractional = np.linalg.solve(
            atoms.cell.array.T, (atoms.positions - positions[start:stop]).T
        )
        assert np.abs(fractional - np.round(fractional)).max() < 1e-10
        final = md.momenta.detach().numpy()[start:stop]
        # the forces did change the momenta, identically in both engines
        assert np.abs(final - initial).max() > 1e-2
        assert_relative(final, atoms.get_momenta(), 1e-10)
        start = stop
