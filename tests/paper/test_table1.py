import json

import numpy as np
import pytest
import torch

from tricenter.datasets import shipped_path
from tricenter.export import load_checkpoint
from tricenter.paper.metrics import pair_metrics
from tricenter.paper.pairs import load_pairs, split_pairs
from tricenter.paper.report import collect_table1
from tricenter.paper.settings import PAPER_TABLE1, ROWS, Preset
from tricenter.paper.table1 import (
    RUN_ORDER,
    model_names,
    run_latent_sweep,
    run_table1,
    train_models,
)


def test_pair_metrics():
    target = np.array([1.0, 2.0, 4.0, 3.0, 0.0, 2.0])
    assert pair_metrics(target, target) == {"mean": 0.0, "diff": 0.0}
    # predicting the pair mean for both partners: perfect Mean, no resolution
    means = np.repeat((target[0::2] + target[1::2]) / 2, 2)
    metrics = pair_metrics(means, target)
    differences = target[0::2] - target[1::2]
    assert metrics["mean"] == 0.0
    expected = np.sqrt(np.mean(differences**2)) / np.std(differences)
    assert metrics["diff"] == pytest.approx(expected)
    shifted = pair_metrics(target + 0.5, target)
    assert shifted["mean"] == pytest.approx(0.5 / np.std(target))
    assert shifted["diff"] == 0.0
    vectors = np.stack([target, 2 * target], axis=1)
    assert pair_metrics(vectors, vectors) == {"mean": 0.0, "diff": 0.0}


def test_pair_metrics_bad_shapes():
    with pytest.raises(ValueError, match="even number of rows"):
        pair_metrics(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="same shape"):
        pair_metrics(np.zeros(4), np.zeros(6))


def test_split_pairs():
    split = split_pairs(20, 100, 3, 4, seed=1)
    assert [len(split[p]) for p in ("train", "val", "test")] == [13, 3, 4]
    together = np.concatenate(list(split.values()))
    assert sorted(together.tolist()) == list(range(20))
    assert split_pairs(20, 100, 3, 4, seed=1)["test"].tolist() == split["test"].tolist()
    with pytest.raises(ValueError, match="the data has 5 pairs, this run needs >= 9"):
        split_pairs(5, 1, 3, 4, seed=0)


def test_load_pbe_pairs():
    frames, targets, pairs = load_pairs(shipped_path("b8-pbe-pairs"))
    assert len(frames) == 3000 and pairs[:4].tolist() == [0, 0, 1, 1]
    expected = (frames[0].info["energy_ha"] + 198.27291671238572) * 27.211386245988
    assert targets[0] == pytest.approx(expected)
    # partners share every interatomic distance
    distances = [np.sort(f.get_all_distances().reshape(-1)) for f in frames[:2]]
    assert np.allclose(distances[0], distances[1], atol=1e-7)


@pytest.fixture(scope="module")
def shipped():
    return load_pairs(shipped_path("b8-xtb-pairs"))


def test_load_shipped_pairs(shipped):
    frames, targets, pairs = shipped
    assert len(frames) % 2 == 0 and pairs[-1] == len(frames) // 2 - 1
    assert [f.info["partner"] for f in frames[:4]] == ["+", "-", "+", "-"]
    assert frames[0].info["pair"] == frames[1].info["pair"]
    assert targets[0] == pytest.approx(frames[0].info["target"])


def test_bad_pairs_file(tmp_path):
    import ase
    import ase.io

    ase.io.write(
        tmp_path / "x.xyz", [ase.Atoms("B2", positions=[[0, 0, 0], [1, 0, 0]])]
    )
    with pytest.raises(ValueError, match="neither 'energy_ha'"):
        load_pairs(tmp_path / "x.xyz")


TINY = Preset(
    n_train_pairs=10,
    n_val_pairs=4,
    n_test_pairs=6,
    latent=4,
    encoder_hidden=[8],
    decoder_hidden=[8],
    head_hidden=[8],
    epochs=3,
    triplet_epochs=1,
    batch_size=4,
    triplet_dtype="float64",
    nice_contracted=4,
    nice_outputs=8,
    latent_sweep=[2],
    sweep_epochs=1,
    n_distortion_pairs=3,
)


@pytest.fixture(scope="module")
def tiny_pairs(tmp_path_factory, shipped):
    import ase.io

    frames, _, _ = shipped
    path = tmp_path_factory.mktemp("pairs") / "pairs.xyz"
    ase.io.write(path, frames[:48], format="extxyz")
    return path


def test_table1_end_to_end(tiny_pairs, tmp_path):
    result = run_table1(tiny_pairs, tmp_path, preset=TINY, progress=False)
    written = json.loads((tmp_path / "table1.json").read_text())
    assert list(written["rows"]) == ROWS and written["paper"] == PAPER_TABLE1
    assert written["n_train_pairs"] == 10 and written["n_test_pairs"] == 6
    # the epochs of each row's training are in the table
    assert written["rows"]["B_NL"]["epochs"] == TINY.triplet_epochs
    assert 1 <= written["rows"]["D_L"]["epochs"] <= TINY.epochs
    b_nl = written["rows"]["B_NL"]
    line = f"| {b_nl['mean']:.3f} | {b_nl['diff']:.3f} | {TINY.triplet_epochs} |"
    assert line in (tmp_path / "table1.md").read_text()
    for name in ("table1.md", "table1-parity.png", "table1-latent.png"):
        assert (tmp_path / name).exists()
    assert (tmp_path / "table1-distortions.png").exists()
    # models that only see linear sums of triplets cannot tell partners apart
    difference = np.abs(result["std_pair_difference_ev"])
    for name in ("A_L", "B_L", "D_L", "D_NL"):
        predicted = np.load(tmp_path / "rows" / f"{name}.npy")
        assert np.max(np.abs(predicted[0::2] - predicted[1::2])) < 1e-6 * difference
    predicted = np.load(tmp_path / "rows" / "B_NL.npy")
    assert np.min(np.abs(predicted[0::2] - predicted[1::2])) > 1e-9
    # energy models are saved in the format that `tricenter export` reads
    for name in ("B_NL", "D_L"):
        model = load_checkpoint(tmp_path / "models" / name / "model.pt")
        assert model.atomic_types == [5]


def test_table1_resumes_from_rows_and_checkpoints(tiny_pairs, tmp_path):
    """A second run reads finished rows back and trains from the checkpoints: rows
    and checkpoints altered between the runs show in its results, which retraining
    from scratch would not reproduce."""
    first = run_table1(tiny_pairs, tmp_path, preset=TINY, progress=False, figures=False)
    rows = tmp_path / "rows"
    stored = json.loads((rows / "D_L.json").read_text())
    (rows / "D_L.json").write_text(json.dumps({**stored, "mean": 42.0}))
    # B_NL: forget its row, shift the best state of its finished training by 1 eV
    predicted = np.load(rows / "B_NL.npy")
    first_training = json.loads((rows / "B_NL.json").read_text())["training_seconds"]
    (rows / "B_NL.json").unlink()
    checkpoint = tmp_path / "models" / "B_NL" / "checkpoint.pt"
    saved = torch.load(checkpoint, weights_only=False)
    saved["best_state"]["energy_shift"] += 1.0
    torch.save(saved, checkpoint)

    again = run_table1(tiny_pairs, tmp_path, preset=TINY, progress=False, figures=False)
    assert again["rows"]["D_L"]["mean"] == 42.0
    # the resumed row's training time counts the first run's epochs
    resumed = json.loads((rows / "B_NL.json").read_text())
    assert first_training > 0
    assert resumed["training_seconds"] == pytest.approx(first_training)
    assert again["training_seconds"]["B_NL"] == pytest.approx(first_training)
    assert np.allclose(np.load(rows / "B_NL.npy"), predicted + 1.0, atol=1e-10)
    assert again["rows"]["B_NL"] != first["rows"]["B_NL"]
    unchanged = [name for name in ROWS if name not in ("D_L", "B_NL")]
    assert all(again["rows"][n] == first["rows"][n] for n in unchanged)
    # an interrupted run's table, from its rows alone
    (rows / "C_L.json").unlink()
    collected = collect_table1(tmp_path, prefix="partial")
    assert collected["rows"]["C_L"] == {"mean": None, "diff": None, "epochs": None}
    assert collected["rows"]["D_L"]["mean"] == 42.0 and not collected["complete"]
    assert "| C_L | " in (tmp_path / "partial.md").read_text()


def test_collect_needs_a_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no rows of a Table 1 run"):
        collect_table1(tmp_path / "elsewhere")


def test_collect_with_a_preset_from_the_command_line(tmp_path):
    """``--preset public`` reaches the collected table: its sizes are those of the
    public preset (1200 / 150 / 150 pairs)."""
    from tricenter.cli import main
    from tricenter.paper.settings import PRESETS

    (tmp_path / "rows").mkdir()
    (tmp_path / "rows" / "B_L.json").write_text(
        json.dumps({"mean": 0.4, "diff": 1.0, "epochs": 7})
    )
    command = ["reproduce", "table1", "--data", "pairs.xyz", "--out", str(tmp_path)]
    assert main(command + ["--preset", "public", "--collect"]) == 0
    collected = json.loads((tmp_path / "table1.json").read_text())
    assert collected["n_train_pairs"] == PRESETS["public"].n_train_pairs == 1200
    assert collected["n_val_pairs"] == collected["n_test_pairs"] == 150
    assert collected["rows"]["B_L"] == {"mean": 0.4, "diff": 1.0, "epochs": 7}
    assert "| 0.400 | 1.000 | 7 |" in (tmp_path / "table1.md").read_text()
    assert main(command + ["--quick", "--collect"]) == 0
    collected = json.loads((tmp_path / "table1.json").read_text())
    assert collected["n_train_pairs"] == PRESETS["quick"].n_train_pairs


def test_models_split_between_runs(tiny_pairs, tmp_path, capsys):
    """``--only`` trains the named models alone; ``reproduce latent`` and a full run
    in the same folder read their rows back (rows altered in between show through)."""
    from tricenter.cli import main

    names = model_names(TINY)
    assert names[:10] == list(RUN_ORDER) and sorted(names[:10]) == sorted(ROWS)
    assert names[10:] == ["A_rho_L_q2", "A_rho_NL_q2"]
    command = ["reproduce", "table1", "--data", str(tiny_pairs), "--out", str(tmp_path)]
    # the sweep's sizes are the preset's: q = 2 is not one of the full preset
    assert main(command + ["--no-progress", "--only", "A_rho_NL_q2", "D_L"]) == 1
    assert "choose from D_L, B_L" in capsys.readouterr().err

    rows = train_models(tiny_pairs, tmp_path, ["A_rho_NL_q2", "D_L"], preset=TINY)
    assert sorted(p.name for p in (tmp_path / "rows").glob("*.json")) == [
        "A_rho_NL_q2.json",
        "D_L.json",
    ]
    stored = tmp_path / "rows" / "A_rho_NL_q2.json"
    assert json.loads(stored.read_text())["mean"] == rows["A_rho_NL_q2"]["mean"]
    stored.write_text(json.dumps({**rows["A_rho_NL_q2"], "mean": 42.0}))

    sweep = run_latent_sweep(tiny_pairs, tmp_path, preset=TINY, progress=False)
    assert sweep["latent_sweep"]["nonlinear"]["2"]["mean"] == 42.0
    assert json.loads((tmp_path / "table1-latent.json").read_text()) == sweep
    assert (tmp_path / "table1-latent.png").exists()
    for kind, name in (("linear", "A_rho_L"), ("nonlinear", "A_rho_NL")):
        row = json.loads((tmp_path / "rows" / f"{name}.json").read_text())
        assert sweep["latent_sweep"][kind]["4"] == {
            "mean": row["mean"],
            "diff": row["diff"],
        }
    table = run_table1(tiny_pairs, tmp_path, preset=TINY, progress=False)
    assert table["latent_sweep"] == sweep["latent_sweep"]
    assert table["rows"]["D_L"]["mean"] == rows["D_L"]["mean"]


def test_only_from_the_command_line(tiny_pairs, tmp_path, capsys, monkeypatch):
    from tricenter.cli import main
    from tricenter.paper import reproduce

    monkeypatch.setitem(reproduce.PRESETS, "quick", TINY)
    command = ["reproduce", "table1", "--data", str(tiny_pairs), "--out", str(tmp_path)]
    assert main(command + ["--quick", "--no-progress", "--only", "B_L"]) == 0
    printed = capsys.readouterr().out
    row = json.loads((tmp_path / "rows" / "B_L.json").read_text())
    assert f"{'B_L':14s} {row['mean']:7.3f} {row['diff']:7.3f}" in printed
    assert [p.name for p in (tmp_path / "rows").glob("*.json")] == ["B_L.json"]
    # a name that is not a model: an error naming it, before the data is read
    missing = ["--data", str(tmp_path / "none.xyz"), "--only", "B_L", "E_NL"]
    assert main(command[:2] + ["--out", str(tmp_path)] + missing) == 1
    assert "no model 'E_NL'" in capsys.readouterr().err


def test_an_energy_row_trains_its_vector_model_first(tiny_pairs, tmp_path):
    train_models(tiny_pairs, tmp_path, ["A_L"], preset=TINY, progress=False)
    written = sorted(p.name for p in (tmp_path / "rows").glob("*.json"))
    assert written == ["A_L.json", "A_rho_L.json"]
