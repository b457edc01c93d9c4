"""Exported models in a fresh Python process that imports neither tricenter nor
sphericart: forces, stress and second derivatives against finite differences, and a
model that relies on sphericart's Python-registered autograd, which fails there."""

import copy

import numpy as np
import pytest
import torch

import tricenter
import tricenter.cli
import tricenter.export
import tricenter.features.neighbors

from .helpers import (
    assert_relative,
    calculator,
    clean_process,
    finite_differences,
    periodic_cell,
    run_clean_host,
)


@pytest.mark.parametrize("which", ["exported", "exported_deepset"])
def test_clean_host_forces_and_stress(which, request, tmp_path, record_property):
    """THE trap: a host that never ran ``import sphericart.torch`` must get forces and
    stress equal to finite differences of its own energies."""
    exported = request.getfixturevalue(which)
    atoms = periodic_cell(seed=7)
    delta = 1e-5
    result, stderr = run_clean_host(exported, atoms, delta, tmp_path)
    assert "autograd kernel was not registered" not in stderr
    fd_forces, fd_stress = finite_differences(atoms, result["displaced"], delta)
    record_property(
        "clean_forces_fd", assert_relative(result["forces"], fd_forces, 1e-6)
    )
    record_property(
        "clean_stress_fd", assert_relative(result["stress"], fd_stress, 1e-6)
    )

    # and the same numbers as in this process, where sphericart.torch is imported
    atoms.calc = calculator(exported)
    assert abs(atoms.get_potential_energy() - result["energy"]) < 1e-10
    assert_relative(result["forces"], atoms.get_forces(), 1e-10)
    assert_relative(result["stress"], atoms.get_stress(voigt=False), 1e-10)


CLEAN_HESSIAN = r"""
import json, sys
import torch
import yaml
from metatomic.torch import (
    ModelEvaluationOptions, ModelOutput, System, load_atomistic_model
)
from vesin.metatomic import compute_requested_neighbors

model, extensions, structure, epsilon = sys.argv[1:5]
epsilon = float(epsilon)
model = load_atomistic_model(model, extensions_directory=extensions or None)
with open(structure) as file:
    data = json.load(file)[0]
types = torch.tensor(data["numbers"], dtype=torch.int32)
cell = torch.tensor(data["cell"], dtype=torch.float64)
pbc = torch.tensor([True, True, True])
options = ModelEvaluationOptions(
    length_unit="angstrom", outputs={"energy": ModelOutput(sample_kind="system")}
)

def forces(positions, create_graph):
    system = System(types, positions, cell, pbc)
    compute_requested_neighbors(system, "angstrom", model)
    energy = model([system], options, check_consistency=True)["energy"]
    energy = energy.block().values.sum()
    (gradient,) = torch.autograd.grad(energy, positions, create_graph=create_graph)
    return -gradient

positions = torch.tensor(data["positions"], dtype=torch.float64, requires_grad=True)
direction = torch.randn(positions.shape, generator=torch.Generator().manual_seed(0))
direction = direction.to(torch.float64)
# second derivatives through the TorchScript graph: d(F . direction)/dx = -H @ direction
(hessian_direction,) = torch.autograd.grad(
    (forces(positions, True) * direction).sum(), positions
)
shifted = []
for sign in (1, -1):
    moved = (positions.detach() + sign * epsilon * direction).requires_grad_(True)
    shifted.append(forces(moved, False))
finite = (shifted[0] - shifted[1]) / (2 * epsilon)
json.dump(
    {
        "autograd": hessian_direction.tolist(),
        "finite": finite.tolist(),
        "modules": sorted(
            name for name in sys.modules
            if name.split(".")[0] in ("tricenter", "sphericart")
        ),
    },
    sys.stdout,
)
"""


def test_clean_host_second_derivatives(exported, tmp_path, record_property):
    """Second derivatives (force derivatives, as in training on forces or in
    Hessians) through the loaded TorchScript model, in a host that never imported
    sphericart.torch, agree with finite differences of the forces."""
    pytest.importorskip("metatomic_ase", reason="metatomic-ase is not installed")
    atoms = periodic_cell(seed=18)
    result, _ = clean_process(CLEAN_HESSIAN, exported, [atoms], tmp_path, "1e-5")
    record_property(
        "clean_hessian_fd",
        assert_relative(result["autograd"], result["finite"], 1e-6),
    )


class PythonAutogradHarmonics(torch.nn.Module):
    """sphericart's harmonics called directly: their derivative only exists where
    ``sphericart.torch`` was imported in Python -- the trap."""

    def __init__(self, max_angular: int):
        super().__init__()
        sphericart_torch = pytest.importorskip("sphericart.torch")
        self.calculator = sphericart_torch.SphericalHarmonics(max_angular)

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        return self.calculator.compute(vectors)


def test_clean_host_detects_the_trap(model, exported, tmp_path, record_property):
    """The clean-host check is sensitive: a model whose harmonics rely on
    sphericart's Python-registered autograd gets wrong forces there."""
    trapped = copy.deepcopy(model)
    expansion = trapped.features.expansion
    expansion.harmonics = PythonAutogradHarmonics(expansion.max_angular)
    path = tmp_path / "trapped" / "model.pt"
    tricenter.export.export(trapped, path)

    # in this process (sphericart.torch imported) the trapped model is right
    atoms = periodic_cell(seed=7)
    atoms.calc = calculator(path)
    forces = atoms.get_forces()
    atoms.calc = calculator(exported)
    assert_relative(forces, atoms.get_forces(), 1e-10)

    # in a clean host, it is not
    result, stderr = run_clean_host(path, atoms, 1e-5, tmp_path)
    assert "autograd kernel was not registered" in stderr
    fd_forces, _ = finite_differences(atoms, result["displaced"], 1e-5)
    error = np.abs(np.array(result["forces"]) - fd_forces).max()
    record_property("trapped_forces_fd", error / np.abs(fd_forces).max())
    assert error > 1e-3 * np.abs(fd_forces).max()
