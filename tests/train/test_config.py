import copy

import pytest

from tricenter.models import PAPER_HYPERS
from tricenter.models.build import build_model
from tricenter.models.potential import POTENTIAL_HYPERS
from tricenter.train.config import load_config, parse_config


def test_unknown_keys_name_the_section_and_the_closest_key():
    message = (
        r"unknown key 'epoch' in section 'training' \(did you mean 'epochs'\?\); "
        r"allowed keys: epochs, batch_size, "
    )
    with pytest.raises(ValueError, match=message):
        parse_config({"data": {"path": "x"}, "training": {"epoch": 3}})
    with pytest.raises(
        ValueError,
        match=r"'energy_units' in section 'data' \(did you mean 'energy_unit'",
    ):
        parse_config({"data": {"path": "x", "energy_units": "Ha"}})
    message = r"unknown key 'trainig' in the configuration \(did you mean 'training'"
    with pytest.raises(ValueError, match=message):
        parse_config({"data": {"path": "x"}, "trainig": {}})
    # nothing close: no suggestion, but the allowed keys
    message = r"unknown key 'zzz' in the configuration; allowed keys: data, validation"
    with pytest.raises(ValueError, match=message):
        parse_config({"data": {"path": "x"}, "zzz": {}})


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("training", "epochs", "ten", r"'training.epochs' must be int, got str 'ten'"),
        ("training", "epochs", 2.5, r"'training.epochs' must be int, got float 2.5"),
        ("training", "progress", "no", r"'training.progress' must be bool, got str"),
        ("training", "threads", True, r"'training.threads' must be int or null"),
        ("data", "selected_atoms", 0, r"'data.selected_atoms' must be a list of int"),
        ("data", "energy_reference", "-1", r"'data.energy_reference' must be float"),
        ("model", "encoder_hidden", [8, "8"], r"'model.encoder_hidden' must be a list"),
    ],
)
def test_values_of_the_wrong_type_are_refused(section, key, value, message):
    values = {"data": {"path": "x"}}
    values.setdefault(section, {})[key] = value
    with pytest.raises(ValueError, match=message):
        parse_config(values)


def test_numbers_are_accepted_where_they_fit():
    config = parse_config(
        {
            "data": {"path": "x", "energy_reference": -198, "selected_atoms": [0]},
            "training": {"learning_rate": 1, "threads": None},
        }
    )
    assert config.data.energy_reference == -198
    assert config.training.learning_rate == 1


def test_other_mistakes_are_refused():
    with pytest.raises(ValueError, match="section 'training' must be a mapping"):
        parse_config({"data": {"path": "x"}, "training": [3]})
    with pytest.raises(ValueError, match="the configuration must be a mapping"):
        parse_config(["data"])
    with pytest.raises(ValueError, match="'data.path' is required"):
        parse_config({})
    with pytest.raises(ValueError, match="sum to 1"):
        parse_config({"data": {"path": "x"}, "split": {"train": 0.9, "val": 0.2}})
    with pytest.raises(ValueError, match="'resume' must be a bool"):
        parse_config({"data": {"path": "x"}, "resume": "yes"})
    message = "no shipped data set 'b8-pbe'; shipped: shipped:b8-pbe-pairs, shipped:"
    with pytest.raises(ValueError, match=message):
        parse_config({"data": {"path": "shipped:b8-pbe"}})


def test_yaml_files(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("data:\n  path: x.xyz\ntraining:\n  epoch: 3\n")
    with pytest.raises(ValueError, match=r"in '.*config.yaml': unknown key 'epoch'"):
        load_config(path)
    path.write_text("data: {path: x.xyz\n")
    with pytest.raises(ValueError, match=r"'.*config.yaml' is not valid YAML"):
        load_config(path)
    with pytest.raises(FileNotFoundError, match="configuration file '.*missing.yaml'"):
        load_config(tmp_path / "missing.yaml")
    path.write_text("data:\n  path: shipped:b8-pbe-pairs\n")
    assert load_config(str(path)).data.path == "shipped:b8-pbe-pairs"


def test_potential_configuration_takes_the_potential_defaults():
    config = parse_config({"data": {"path": "x"}, "model": {"type": "potential"}})
    assert config.model.hypers == POTENTIAL_HYPERS
    assert config.model.hypers is not POTENTIAL_HYPERS
    assert config.model.latent == 64 and config.model.channels == 8
    model = build_model(config.model, [14])
    assert model.frame_radius == 3.0
    with pytest.raises(ValueError, match="model.type must be one of triplet, "):
        parse_config({"data": {"path": "x"}, "model": {"type": "potentials"}})


def test_configurations_do_not_share_the_paper_hypers():
    reference = copy.deepcopy(PAPER_HYPERS)
    config = parse_config({"data": {"path": "x"}})
    assert config.model.hypers == PAPER_HYPERS
    config.model.hypers["cutoff"]["smoothing"]["width"] = 0.5
    config.model.hypers["basis"]["radial"]["max_radial"] = 1
    assert PAPER_HYPERS == reference
    assert parse_config({"data": {"path": "x"}}).model.hypers == reference


def test_unknown_schedule_is_refused():
    with pytest.raises(
        ValueError, match="training.scheduler must be one of plateau, cosine, got 'cos'"
    ):
        parse_config({"data": {"path": "x"}, "training": {"scheduler": "cos"}})
