"""Model checkpoints: the current format, upgrades of older ones (the shipped
model's checkpoint is version 1) and files that are not checkpoints."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from tricenter.datasets import read_shipped
from tricenter.features.neighbors import systems_with_neighbors
from tricenter.models.build import build_model
from tricenter.models.checkpoints import (
    CHECKPOINT_VERSION,
    UPGRADES,
    checkpoint_version,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from tricenter.train import predict_energies
from tricenter.train.config import parse_config

from ..helpers import HYPERS


SHIPPED = Path(__file__).resolve().parents[2] / "models" / "b8-pbe-triplet.ckpt"


@pytest.fixture(scope="module")
def b8_frames():
    return read_shipped("b8-pbe-pairs", ":6")


def _energies(model, frames, dtype=torch.float64):
    systems = systems_with_neighbors(frames, model.cutoff, dtype=dtype)
    return predict_energies(model, systems, [0])[0].detach()


def _small_model(dtype=torch.float64):
    config = parse_config(
        {
            "data": {"path": "x.xyz"},
            "model": {"hypers": HYPERS, "latent": 4, "encoder_hidden": [8]},
        }
    )
    torch.manual_seed(0)
    model = build_model(config.model, [5, 6]).to(dtype)
    with torch.no_grad():
        model.energy_shift.fill_(0.3)
    return config, model


def test_every_older_version_has_an_upgrade():
    assert sorted(UPGRADES) == list(range(1, CHECKPOINT_VERSION))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_checkpoints_keep_the_model(tmp_path, b8_frames, dtype):
    config, model = _small_model(dtype)
    save_checkpoint(
        model, config.model, tmp_path / "model.pt", dataclasses.asdict(config)
    )
    saved = read_checkpoint(tmp_path)
    assert saved["tricenter_checkpoint"] == CHECKPOINT_VERSION
    assert saved["atomic_types"] == [5, 6]
    assert saved["model"]["latent"] == 4 and "atomic_types" not in saved["model"]
    loaded = load_checkpoint(tmp_path / "model.pt")
    assert not loaded.training
    assert next(loaded.parameters()).dtype == dtype
    assert torch.equal(
        _energies(loaded, b8_frames, dtype), _energies(model, b8_frames, dtype)
    )
    assert not (tmp_path / "model.pt.tmp").exists()


def test_version_1_checkpoints_are_upgraded(tmp_path, b8_frames):
    """A file in the layout ``tricenter train`` wrote before checkpoints had a
    version loads as the model it holds."""
    config, model = _small_model(torch.float32)
    values = dataclasses.asdict(config)
    values["training"]["dtype"] = "float32"
    torch.save(
        {"state_dict": model.state_dict(), "config": values, "atomic_types": [5, 6]},
        tmp_path / "model.pt",
    )
    assert (
        checkpoint_version(torch.load(tmp_path / "model.pt", weights_only=False)) == 1
    )
    saved = read_checkpoint(tmp_path / "model.pt")
    assert saved["tricenter_checkpoint"] == CHECKPOINT_VERSION
    assert saved["dtype"] == "float32" and saved["config"] == values
    loaded = load_checkpoint(tmp_path / "model.pt")
    expected = _energies(model, b8_frames, torch.float32)
    assert torch.equal(_energies(loaded, b8_frames, torch.float32), expected)


def test_shipped_checkpoint_is_version_1_and_loads():
    saved = torch.load(SHIPPED, weights_only=False)
    assert checkpoint_version(saved) == 1
    upgraded = read_checkpoint(SHIPPED)
    assert upgraded["model"]["type"] == "triplet"
    assert upgraded["atomic_types"] == [5] and upgraded["dtype"] == "float32"
    model = load_checkpoint(SHIPPED)
    assert next(model.parameters()).dtype == torch.float32
    for name, value in saved["state_dict"].items():
        assert torch.equal(model.state_dict()[name], value)


def test_shipped_checkpoint_predicts_the_pbe_energies(b8_frames):
    """The centre energies of the shipped model on its training data (the paper's
    PBE pairs) are within 0.1 eV of the labels, whose spread is 2 eV."""
    model = load_checkpoint(SHIPPED)
    reference = np.array(
        [
            (f.info["energy_ha"] + 198.27291671238572) * 27.211386245988
            for f in b8_frames
        ]
    )
    energies = _energies(model, b8_frames, torch.float32).double().numpy()
    assert np.abs(energies - reference).max() < 0.1
    assert np.abs(np.diff(reference)).max() > 1.0


def test_shipped_checkpoint_matches_the_shipped_export(b8_frames):
    """The upgraded checkpoint gives the energies of the model exported from it
    before checkpoints had a version."""
    metatomic_ase = pytest.importorskip("metatomic_ase", reason="needs metatomic-ase")
    # the exported model needs sphericart's TorchScript operations
    pytest.importorskip("sphericart.torch")
    from tricenter.paper.demo import engine_center_energies

    calculator = metatomic_ase.MetatomicCalculator(str(SHIPPED.with_suffix(".pt")))
    exported = engine_center_energies(calculator, b8_frames)
    model = load_checkpoint(SHIPPED).to(torch.float64)
    energies = _energies(model, b8_frames).numpy()
    assert np.abs(energies - exported).max() < 1e-10


def test_files_that_are_not_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint '.*model.pt' does not"):
        load_checkpoint(tmp_path)
    torch.save({"optimizer": {}, "module": {}}, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="resumable training state; use the 'model"):
        load_checkpoint(tmp_path / "checkpoint.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="holds a list, not a tricenter model"):
        load_checkpoint(tmp_path / "list.pt")
    with pytest.raises(ValueError, match="is an exported metatomic model, not a"):
        load_checkpoint(SHIPPED.with_suffix(".pt"))
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(ValueError, match="could not read checkpoint"):
        read_checkpoint(tmp_path / "text.pt")
    config, model = _small_model()
    save_checkpoint(model, config.model, tmp_path / "model.pt")
    saved = torch.load(tmp_path / "model.pt", weights_only=False)
    saved["tricenter_checkpoint"] = CHECKPOINT_VERSION + 1
    torch.save(saved, tmp_path / "model.pt")
    with pytest.raises(ValueError, match="is newer than the version 2 this"):
        load_checkpoint(tmp_path / "model.pt")


def test_modules_saved_whole_load(tmp_path, b8_frames):
    _, model = _small_model()
    torch.save(model.train(), tmp_path / "whole.pt")
    loaded = load_checkpoint(tmp_path / "whole.pt")
    assert not loaded.training
    assert torch.equal(_energies(loaded, b8_frames), _energies(model, b8_frames))
