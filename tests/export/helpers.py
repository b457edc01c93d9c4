"""Shared helpers of the export and engine tests: a small model, a periodic cell,
the metatomic-ase calculator, finite differences and the clean-process runner."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Tuple

import ase
import ase.build
import ase.io
import numpy as np
import pytest
import torch
from metatensor.torch import Labels
from metatomic.torch import NeighborListOptions, System

import tricenter


# smaller than the paper's, so that finite differences of whole cells stay fast
SMALL_HYPERS = {
    "cutoff": {"radius": 2.6, "smoothing": {"type": "ShiftedCosine", "width": 0.5}},
    "density": {"type": "Gaussian", "width": 0.3, "center_atom_weight": 0.0},
    "basis": {
        "type": "TensorProduct",
        "max_angular": 2,
        "radial": {"type": "Gto", "max_radial": 1},
    },
}


class SmallTripletEnergy(torch.nn.Module):
    """A small complete triplet model with the tricenter energy-model interface:
    :math:`\\xi_i = \\sum_{jj'} \\tanh(T_{ijj'} W)`, :math:`E_i = \\tanh(\\xi_i) v`.
    """

    atomic_types: List[int]

    def __init__(self, atomic_types: List[int], width: int = 4, seed: int = 0):
        super().__init__()
        self.features = tricenter.TripletFeatures(
            **SMALL_HYPERS, atomic_types=atomic_types
        )
        self.cutoff = self.features.cutoff
        self.atomic_types = self.features.atomic_types
        n_properties = len(self.features._properties[0])
        generator = torch.Generator().manual_seed(seed)
        phi = torch.randn(n_properties, width, generator=generator, dtype=torch.float64)
        self.phi = torch.nn.Parameter(30 * phi / n_properties**0.5)
        readout = torch.randn(width, generator=generator, dtype=torch.float64)
        self.readout = torch.nn.Parameter(readout)

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        return self.features.requested_neighbor_lists()

    def forward(
        self, systems: List[System], selected_atoms: Optional[Labels] = None
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        device = systems[0].positions.device
        dtype = systems[0].positions.dtype
        centers: List[torch.Tensor] = []
        offsets: List[int] = []
        n_total = 0
        for index, system in enumerate(systems):
            n_atoms = system.positions.shape[0]
            atoms = torch.arange(n_atoms, device=device)
            if selected_atoms is not None:
                values = selected_atoms.values.to(device)
                atoms = torch.unique(values[values[:, 0] == index, 1]).to(torch.long)
            centers.append(torch.stack([torch.full_like(atoms, index), atoms], dim=1))
            offsets.append(n_total)
            n_total += n_atoms
        all_centers = torch.cat(centers)
        offset = torch.tensor(offsets, device=device)
        row = torch.full((n_total,), -1, dtype=torch.long, device=device)
        row[offset[all_centers[:, 0]] + all_centers[:, 1]] = torch.arange(
            all_centers.shape[0], device=device
        )

        triplets = self.features(systems, selected_atoms)
        latent = torch.zeros(
            (all_centers.shape[0], self.phi.shape[1]), dtype=dtype, device=device
        )
        for key, block in triplets.items():
            if int(key[0]) != 0 or int(key[1]) != 1:
                continue
            samples = block.samples.values.to(torch.long)
            center = row[offset[samples[:, 0]] + samples[:, 1]]
            summand = torch.tanh(block.values @ self.phi.to(dtype))
            latent = latent.index_add(0, center, summand)
        energies = torch.tanh(latent) @ self.readout.to(dtype)
        return energies, latent, all_centers


def periodic_cell(seed: int = 0) -> ase.Atoms:
    """A sheared, rattled 8-atom C/H cell (every atom sees images of itself)."""
    atoms = ase.build.bulk("C", "diamond", a=3.57, cubic=True)
    atoms.numbers[[1, 6]] = 1
    shear = np.array([[1.0, 0.04, 0.0], [0.0, 1.02, -0.03], [0.05, 0.0, 0.98]])
    atoms.set_cell(atoms.cell.array @ shear, scale_atoms=True)
    atoms.rattle(0.1, seed=seed)
    return atoms


def calculator(path, **kwargs):
    """The metatomic-ase calculator of an exported model."""
    MetatomicCalculator = pytest.importorskip(
        "metatomic_ase", reason="metatomic-ase is not installed"
    ).MetatomicCalculator

    kwargs.setdefault("check_consistency", True)
    return MetatomicCalculator(str(path), **kwargs)


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


MODELS = Path(__file__).resolve().parents[2] / "models"


TRAINED_B8 = MODELS / "b8-pbe-triplet.pt"


TRAINED_B8_CHECKPOINT = MODELS / "b8-pbe-triplet.ckpt"


def displaced(atoms, delta):
    """Structures for central differences of the energy: each Cartesian component
    of each atom, then each component of a symmetric strain."""
    frames = []
    for atom in range(len(atoms)):
        for direction in range(3):
            for sign in (1, -1):
                frame = atoms.copy()
                frame.positions[atom, direction] += sign * delta
                frames.append(frame)
    for a in range(3):
        for b in range(a, 3):
            for sign in (1, -1):
                strain = np.eye(3)
                strain[a, b] += sign * delta / 2
                strain[b, a] += sign * delta / 2
                frame = atoms.copy()
                frame.set_cell(atoms.cell.array @ strain, scale_atoms=True)
                frames.append(frame)
    return frames


def finite_differences(atoms, energies, delta):
    """Forces ``(n_atoms, 3)`` and stress ``(3, 3)`` from the energies of
    :py:func:`displaced` structures."""
    energies = np.asarray(energies).reshape(-1, 2)
    n_forces = 3 * len(atoms)
    forces = -(energies[:n_forces, 0] - energies[:n_forces, 1]) / (2 * delta)
    stress = np.zeros((3, 3))
    derivatives = iter((energies[n_forces:, 0] - energies[n_forces:, 1]) / (2 * delta))
    for a in range(3):
        for b in range(a, 3):
            # a symmetric strain moves both (a, b) and (b, a) by delta / 2
            stress[a, b] = stress[b, a] = next(derivatives) / atoms.get_volume()
    return forces.reshape(-1, 3), stress


def assert_relative(actual, expected, tolerance):
    """``max |actual - expected| <= tolerance * max |expected|``."""
    error = np.abs(np.asarray(actual) - np.asarray(expected)).max()
    scale = np.abs(np.asarray(expected)).max()
    assert error <= tolerance * scale, f"error {error:.3e}, scale {scale:.3e}"
    return error / scale


def executable(name):
    found = shutil.which(name)
    if found is None:
        candidate = Path(sys.executable).parent / name
        if candidate.exists():
            found = str(candidate)
    return found


CLEAN_HOST = r"""
import json, sys
import ase
import numpy as np
from metatomic_ase import MetatomicCalculator

model, extensions, structures = sys.argv[1:4]
extensions = extensions or None
with open(structures) as file:
    frames = [
        ase.Atoms(f["numbers"], positions=f["positions"], cell=f["cell"], pbc=True)
        for f in json.load(file)
    ]
atoms = frames[0]
atoms.calc = MetatomicCalculator(
    model, extensions_directory=extensions, check_consistency=True
)
result = {
    "energy": atoms.get_potential_energy(),
    "forces": atoms.get_forces().tolist(),
    "stress": atoms.get_stress(voigt=False).tolist(),
}
calculator = MetatomicCalculator(model, extensions_directory=extensions)
energies = calculator.compute_energy(frames[1:])["energy"]
result["displaced"] = np.asarray(energies).tolist()
result["modules"] = sorted(
    name for name in sys.modules if name.split(".")[0] in ("tricenter", "sphericart")
)
json.dump(result, sys.stdout)
"""


def run_script(script, cwd):
    """Run a Python ``script`` in a fresh process without ``PYTHONPATH`` (so neither
    tricenter nor sphericart can be imported by accident); returns its JSON output
    and its stderr."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "PYTHONSTARTUP")
    }
    process = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=600,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout), process.stderr


def extensions_folder(path) -> str:
    """The folder of compiled extensions next to an exported model, ``""`` when
    it needs none."""
    folder = path.parent / "extensions"
    return str(folder) if folder.is_dir() else ""


def clean_process(script, path, frames, tmp_path, *arguments):
    """Run ``script`` on an exported model and structures in a fresh Python process
    without ``PYTHONPATH`` (so neither tricenter nor sphericart can be imported by
    accident); returns its JSON output and its stderr."""
    # JSON keeps every bit of the positions (extxyz rounds them to 1e-8 A, which
    # central differences with delta = 1e-4 A would amplify)
    structures = tmp_path / "structures.json"
    structures.write_text(
        json.dumps(
            [
                {
                    "numbers": frame.numbers.tolist(),
                    "positions": frame.positions.tolist(),
                    "cell": frame.cell.array.tolist(),
                }
                for frame in frames
            ]
        )
    )
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "PYTHONSTARTUP")
    }
    process = subprocess.run(
        [sys.executable, "-c", script, str(path), extensions_folder(path)]
        + [str(structures), *arguments],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=600,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    result = json.loads(process.stdout)
    # the host never imported the Python side of tricenter or sphericart
    assert result["modules"] == []
    return result, process.stderr


def run_clean_host(path, atoms, delta, tmp_path):
    """Energy, forces, stress and displaced energies from a fresh process that
    imports ASE and metatomic-ase only."""
    pytest.importorskip("metatomic_ase", reason="metatomic-ase is not installed")
    return clean_process(CLEAN_HOST, path, [atoms] + displaced(atoms, delta), tmp_path)
