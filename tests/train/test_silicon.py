"""Training on periodic silicon: per-atom energies summed, forces in the loss, the
data given in metatrain's layout."""

import importlib.metadata

import ase.io
import numpy as np
import pytest

from tricenter.train import train

from ..helpers import HYPERS


try:
    importlib.metadata.distribution("pyxtal-ff")
except importlib.metadata.PackageNotFoundError:
    pytest.skip(
        "pyxtal-ff is not installed (python -m pip install --no-deps pyxtal-ff==0.2.2)",
        allow_module_level=True,
    )


#: a small deep set on triplets, and a small potential with a frame cutoff
MODELS = {
    "triplet": {"latent": 8, "encoder_hidden": [8]},
    "potential": {"channels": 4, "latent": 8, "hidden": [8], "head_hidden": [8]},
}


def _config(tmp_path, epochs, kind="triplet"):
    hypers = {key: dict(value) for key, value in HYPERS.items()}
    hypers["cutoff"] = {
        "radius": 3.0,
        "smoothing": {"type": "ShiftedCosine", "width": 0.5},
    }
    if kind == "potential":
        hypers["frame_cutoff"] = {
            "radius": 2.6,
            "smoothing": {"type": "ShiftedCosine", "width": 0.4},
        }
    return {
        "training_set": {
            "systems": {"read_from": str(tmp_path / "si.xyz"), "length_unit": "A"},
            "targets": {"energy": {"unit": "eV", "forces": {"key": "forces"}}},
        },
        "validation_set": 0.2,
        "model": {"type": kind, "hypers": hypers, **MODELS[kind]},
        "training": {
            "epochs": epochs,
            "batch_size": 2,
            "learning_rate": 0.01,
            "progress": False,
        },
        "output": str(tmp_path / f"out-{kind}-{epochs}"),
        "resume": False,
    }


def _frames(tmp_path):
    from tricenter.datasets.silicon import read_silicon

    # ten structures with several atoms and non-zero forces
    frames = [
        f
        for f in read_silicon(max_structures=200)
        if len(f) >= 4 and np.abs(f.get_forces()).max() > 0.1
    ][:10]
    ase.io.write(tmp_path / "si.xyz", frames, format="extxyz")
    return frames


def _check_baseline(result, frames):
    # the energy is a sum over every atom, its baseline the fitted per-atom shift
    shift = float(result["model"].energy_shift[0])
    per_atom = [f.get_potential_energy() / len(f) for f in frames]
    assert min(per_atom) < shift < max(per_atom)
    assert set(result["metrics"]["train"]) >= {"forces_rmse", "rmse_per_atom"}


def test_three_epochs_lower_the_force_error(tmp_path):
    frames = _frames(tmp_path)
    before = train(_config(tmp_path, 0))
    after = train(_config(tmp_path, 3))
    assert len(after["log"]) == 3
    _check_baseline(after, frames)
    for part in ("train", "val"):
        assert (
            after["metrics"][part]["forces_rmse"]
            < before["metrics"][part]["forces_rmse"]
        )


def test_the_potential_trains_on_periodic_silicon(tmp_path):
    frames = _frames(tmp_path)
    config = _config(tmp_path, 6, "potential")
    # eight training structures: a gentle rate, and the loss as the measure
    config["training"]["learning_rate"] = 1e-3
    result = train(config)
    assert len(result["log"]) == 6
    _check_baseline(result, frames)
    assert result["log"][-1]["train_loss"] < result["log"][0]["train_loss"]
