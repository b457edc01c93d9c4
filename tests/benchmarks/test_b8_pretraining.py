"""Pieces of ``benchmarks/b8_pretraining.py``: the pre-training pairs never hold a
PBE validation or test structure, the configurations parse and share the PBE
validation pairs, and a fine-tuning run starts from the pre-trained model (the
training runs themselves take an hour and are not run here)."""

import pytest

from tricenter.paper.pairs import split_pairs
from tricenter.train import parse_config

from . import script as benchmark


@pytest.fixture(scope="module")
def script():
    return benchmark("b8_pretraining")


def test_pretraining_pairs_leave_out_the_pbe_validation_and_test_pairs(script):
    split = split_pairs(1500, 1200, 150, 150, script.SPLIT_SEED)
    pairs = script.pretraining_pairs(4000, split)
    held_out = set(split["val"]) | set(split["test"])
    assert not held_out & set(pairs["train"]) and not held_out & set(pairs["val"])
    assert not set(pairs["train"]) & set(pairs["val"])
    assert min(pairs["val"]) >= 1500 and len(pairs["val"]) == script.N_PRETRAIN_VAL
    # every other pair is used: the PBE training geometries with their xTB labels
    assert len(pairs["train"]) == 4000 - 300 - script.N_PRETRAIN_VAL
    assert set(split["train"]) <= set(pairs["train"])


def test_configurations(script, tmp_path):
    (tmp_path / "pretrain").mkdir()
    scratch = parse_config(script.run_config(tmp_path, 150, False))
    tuned = parse_config(script.run_config(tmp_path, 150, True))
    pretrain = parse_config(script.pretrain_config(tmp_path))
    assert scratch.validation == tuned.validation
    assert scratch.validation.path.endswith("pbe-val.xyz")
    assert tuned.fine_tune.checkpoint.endswith("pretrain/model.pt")
    assert tuned.fine_tune.refit_baseline and scratch.fine_tune is None
    assert scratch.model.encoder_hidden == pretrain.model.encoder_hidden
    assert pretrain.training.epochs == script.PRETRAIN_EPOCHS
    for config in (scratch, tuned, pretrain):
        assert config.data.selected_atoms == [0] and config.split.test == 0
        assert config.test is None


def test_forces_run_is_the_shipped_recipe_from_the_pretrained_model(script, tmp_path):
    from tricenter.train import load_config

    shipped = load_config(script.SHIPPED / "b8-pbe-triplet.yaml")
    values = script.forces_config(tmp_path)
    forces = parse_config(values)
    assert "model" not in values and shipped.fine_tune is None
    assert forces.fine_tune.checkpoint == str(tmp_path / "pretrain" / "model.pt")
    assert forces.data == shipped.data and forces.split == shipped.split
    assert forces.data.forces_key is not None
    assert forces.training.learning_rate == 3e-4
    assert forces.training.forces_weight == shipped.training.forces_weight
    assert forces.output == str(tmp_path / script.FORCES_RUN)


def test_markdown_rows(script):
    result = {
        "rows": {
            "scratch-150": {
                "size": 150,
                "mean": 0.1,
                "diff": 0.9,
                "epochs": 12,
                "seconds": 600.0,
            },
            "pretrained-150": {
                "size": 150,
                "mean": 0.05,
                "diff": 0.5,
                "epochs": 7,
                "seconds": 60.0,
            },
            "pretrained-forces-1200": {
                "size": 1200,
                "mean": 0.02,
                "diff": 0.2,
                "epochs": 120,
                "seconds": 4500.0,
            },
        },
        "pretraining": {"epochs": 30, "seconds": 2700.0},
        "shipped": {"mean": 0.021, "diff": 0.187},
        "sizes": [150],
    }
    text = script.markdown(result)
    assert "| 150 | scratch | 0.100 | 0.900 | 12 | 10 min |" in text
    assert "| 150 | pre-trained on xTB | 0.050 | 0.500 | 7 | 1 min |" in text
    assert (
        "| 1200 | pre-trained on xTB, then PBE energies and forces | 0.020 | 0.200 "
        "| 120 | 75 min |" in text
    )
    assert "Pre-training: 30 epochs (cosine schedule), 45 min" in text
    assert "same test pairs: Mean 0.021, Diff 0.187." in text


def test_the_shipped_model_is_compared_only_on_its_own_split(script, tmp_path):
    """The shipped B8 model stands next to the runs only when its training,
    validation and test pairs are those of the split (here they are; a split
    with another test pair is refused)."""
    import json

    from tricenter.datasets import read_shipped

    split = split_pairs(len(read_shipped("b8-pbe-pairs")) // 2, 1200, 150, 150, 0)
    data = tmp_path / "data"
    data.mkdir()
    record = {"pbe_split": {k: v.tolist() for k, v in split.items()}}
    (data / "split.json").write_text(json.dumps(record))
    assert script.shipped_split_matches(tmp_path)
    record["pbe_split"]["test"][0] = record["pbe_split"]["train"][0]
    (data / "split.json").write_text(json.dumps(record))
    assert not script.shipped_split_matches(tmp_path)
