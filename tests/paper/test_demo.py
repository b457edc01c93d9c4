from pathlib import Path

import numpy as np
import pytest
import torch

from tricenter.export import load
from tricenter.paper.demo import (
    DemoSizes,
    _summary,
    find_shipped_model,
    run_demo,
    shipped_split,
)
from tricenter.train.data import split_groups


SHIPPED = Path(__file__).parents[2] / "models" / "b8-pbe-triplet.ckpt"


def test_shipped_split_is_the_training_split():
    """The demo's held-back pairs are the shipped model's test pairs, computed as
    ``tricenter train`` split its data."""
    config = torch.load(SHIPPED, weights_only=False)["config"]
    split = shipped_split(config, 1500)
    assert [len(split[p]) for p in ("train", "val", "test")] == [1200, 150, 150]
    assert not set(split["test"]) & set(split["train"])
    assert not set(split["val"]) & set(split["train"])
    frames = split_groups(
        np.arange(3000) // 2, (0.8, 0.1, 0.1), config["split"]["seed"]
    )
    assert split["test"].tolist() == sorted(set(frames["test"] // 2))
    with pytest.raises(ValueError, match="not trained on consecutive pairs"):
        shipped_split({**config, "data": {"consecutive_pairs": False}}, 1500)


def test_find_shipped_model():
    assert find_shipped_model() == SHIPPED.resolve()
    with pytest.raises(FileNotFoundError, match="'nowhere.ckpt' does not exist"):
        find_shipped_model("nowhere.ckpt")


def test_summary_says_when_early_stopping_ends_a_run():
    log = [{"epoch": e, "val_loss": v} for e, v in enumerate([3.0, 1.0, 2.0, 2.5])]
    text = _summary("model", log, 10, 12.0)
    assert "4 epochs in 12 s, stopped early" in text
    assert "best validation loss 1 at epoch 1" in text
    assert "stopped early" not in _summary("model", log, 4, 12.0)
    assert "read back" in _summary("model", [], 4, 0.0)


def test_demo(tmp_path):
    """Stage 1: the bispectrum model predicts equal partner energies, the shipped
    model does not and beats it on Diff; stage 3: the exported models behave the
    same in ASE."""
    pytest.importorskip("metatomic_ase", reason="metatomic-ase is not installed")
    sizes = DemoSizes(
        n_test_pairs=6,
        n_val_pairs=4,
        n_bispectrum_pairs=12,
        n_quick_pairs=8,
        bispectrum_epochs=2,
        quick_epochs=1,
        latent=4,
        encoder_hidden=[8],
        head_hidden=[8],
    )
    lines = []
    result = run_demo(tmp_path, progress=False, sizes=sizes, say=lines.append)
    assert result["shipped_model"] == str(SHIPPED.resolve())
    assert any("== Stage 1" in line for line in lines)
    assert any("Diff = 1" in line for line in lines)
    rows = result["rows"]
    assert set(rows) == {"D_NL", "shipped", "B_NL"}
    predicted = np.load(tmp_path / "rows" / "D_NL.npy")
    assert np.max(np.abs(predicted[0::2] - predicted[1::2])) < 1e-6
    assert rows["shipped"]["diff"] < 0.5 < rows["D_NL"]["diff"]
    exported = result["exported"]
    # the shipped geometries are rounded to 1e-8 Å, so the partners' bispectra agree
    # to ~1e-9 only
    assert exported["B_NL"]["partner_difference"] > 1e-6
    assert exported["D_NL"]["partner_difference"] < 1e-8
    for name in ("B_NL", "D_NL"):
        assert load(exported[name]["path"]).capabilities().dtype == "float64"
    assert (tmp_path / "parity.png").exists() and (tmp_path / "demo.json").exists()
