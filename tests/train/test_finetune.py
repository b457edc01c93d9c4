import numpy as np
import pytest
import torch

from tricenter.models.checkpoints import load_checkpoint, read_checkpoint
from tricenter.train import energy_loss, load_parts, parse_config, train
from tricenter.train.energy import type_counts
from tricenter.train.finetune import freeze

from .common import small_config, write_pairs


@pytest.fixture
def pretrained(tmp_path):
    """A model trained for 3 epochs on pairs.xyz, and new data: the same
    structures with other energies (shifted by 0.7 eV per atom, and scaled)."""
    import ase.io

    frames = write_pairs(tmp_path / "pairs.xyz", 8)
    config = small_config(tmp_path, epochs=3)
    config["output"] = str(tmp_path / "pretrained")
    train(config)
    for frame in frames:
        frame.info["energy"] = 1.3 * frame.info["energy"] + 0.7 * len(frame)
    ase.io.write(tmp_path / "new.xyz", frames, format="extxyz")
    return tmp_path / "pretrained" / "model.pt"


def _fine_tune_config(tmp_path, checkpoint, **fine_tune):
    config = small_config(tmp_path, epochs=1, learning_rate=0.0)
    config["data"]["path"] = str(tmp_path / "new.xyz")
    del config["model"]
    config["fine_tune"] = {"checkpoint": str(checkpoint), **fine_tune}
    config["output"] = str(tmp_path / "fine-tuned")
    return config


def _train_loss(model, config):
    """The loaded model's mean loss on the training part of ``config``."""
    parsed = parse_config(config)
    dataset, split = load_parts(parsed)
    from tricenter.features.neighbors import systems_with_neighbors

    model = model.to(torch.float64)
    systems = systems_with_neighbors(dataset.frames, model.cutoff, torch.float64)
    loss = energy_loss(
        model,
        systems,
        torch.as_tensor(dataset.energies),
        None,
        parsed.data.selected_atoms,
        1.0,
    )
    total, count = loss(split["train"], False)
    return float(total / count), dataset, split


def test_fine_tuning_starts_from_the_checkpoint(tmp_path, pretrained):
    config = _fine_tune_config(tmp_path, pretrained, refit_baseline=False)
    result = train(config)
    # with a zero learning rate, the first epoch's loss is the loaded model's loss
    # on the new training data
    expected, _, _ = _train_loss(load_checkpoint(pretrained), config)
    assert result["log"][0]["train_loss"] == pytest.approx(expected, rel=1e-10)
    # a fresh model (the checkpoint ignored) would have another loss
    fresh = small_config(tmp_path, epochs=1, learning_rate=0.0)
    fresh["data"]["path"] = str(tmp_path / "new.xyz")
    fresh["output"] = str(tmp_path / "fresh")
    assert train(fresh)["log"][0]["train_loss"] != pytest.approx(expected, rel=1e-3)
    # the saved model is the checkpoint's architecture, and records where it began
    saved = read_checkpoint(tmp_path / "fine-tuned" / "model.pt")
    assert saved["model"] == read_checkpoint(pretrained)["model"]
    assert saved["config"]["fine_tune"]["checkpoint"] == str(pretrained)


def test_the_baseline_moves_to_the_new_reference(tmp_path, pretrained):
    config = _fine_tune_config(tmp_path, pretrained)
    model = train(config)["model"]
    loaded = load_checkpoint(pretrained).to(torch.float64)
    before, dataset, split = _train_loss(loaded, config)
    frames = [dataset.frames[i] for i in split["train"]]
    # the change of the shifts: least squares of the loaded model's errors on the
    # composition, computed here from the per-structure predictions
    from tricenter.features.neighbors import systems_with_neighbors
    from tricenter.train import predict_energies

    systems = systems_with_neighbors(frames, loaded.cutoff, torch.float64)
    with torch.no_grad():
        predicted, _ = predict_energies(loaded, systems, [0])
    errors = dataset.energies[split["train"]] - predicted.numpy()
    counts = type_counts(loaded, frames, [0])
    change, *_ = np.linalg.lstsq(counts, errors, rcond=None)
    np.testing.assert_allclose(
        (model.energy_shift - loaded.energy_shift).numpy(), change, rtol=1e-10
    )
    after, _, _ = _train_loss(model, config)
    assert after < before


def test_fresh_heads_and_frozen_layers(tmp_path, pretrained):
    config = _fine_tune_config(
        tmp_path, pretrained, fresh_heads=True, freeze=["encoder"]
    )
    config["training"]["learning_rate"] = 1e-2
    config["training"]["epochs"] = 2
    model = train(config)["model"]
    loaded = load_checkpoint(pretrained).to(torch.float64)
    old = dict(loaded.named_parameters())
    frozen = [name for name in old if name.startswith("encoder.")]
    assert frozen
    for name, parameter in model.named_parameters():
        if name in frozen:
            assert torch.equal(parameter, old[name]), name
        else:
            assert not torch.equal(parameter, old[name]), name
    # the heads were drawn afresh: with a zero learning rate they still differ
    config = _fine_tune_config(tmp_path, pretrained, fresh_heads=True)
    config["output"] = str(tmp_path / "fresh-heads")
    model = train(config)["model"]
    for name, parameter in model.named_parameters():
        assert torch.equal(parameter, old[name]) != name.startswith("heads."), name


def test_bad_fine_tuning_configurations(tmp_path, pretrained):
    config = _fine_tune_config(tmp_path, pretrained)
    with_model = dict(config, model={"latent": 4})
    with pytest.raises(ValueError, match="keeps the architecture of its checkpoint"):
        parse_config(with_model)
    with pytest.raises(ValueError, match="'fine_tune.checkpoint' is required"):
        parse_config(dict(config, fine_tune={"freeze": ["encoder"]}))
    with pytest.raises(ValueError, match="unknown key 'fresh_head'"):
        parse_config(dict(config, fine_tune={"checkpoint": "x", "fresh_head": True}))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train(dict(config, fine_tune={"checkpoint": str(tmp_path / "none.pt")}))
    with pytest.raises(ValueError, match="'decoder' names no parameter.*encoder"):
        freeze(load_checkpoint(pretrained), ["decoder"])
    # the training state is not a model: the message says which file to use
    state = tmp_path / "pretrained" / "checkpoint.pt"
    with pytest.raises(ValueError, match="use the 'model.pt'"):
        train(dict(config, fine_tune={"checkpoint": str(state)}))


def test_the_silicon_page_fine_tunes_the_shipped_potential(tmp_path, monkeypatch):
    """The ``fine-tune.yaml`` of ``silicon.rst`` as written (2 epochs instead of 200),
    from a folder laid out as the repository root, on silicon cells labelled by the
    shipped potential with another reference energy (+0.25 eV per atom)."""
    import re
    from pathlib import Path

    import ase.build
    import ase.io
    import yaml

    from tricenter.cli import main
    from tricenter.features.neighbors import systems_with_neighbors
    from tricenter.train import predict_energies

    repository = Path(__file__).resolve().parents[2]
    page = (repository / "docs" / "src" / "silicon.rst").read_text()
    (block,) = re.findall(
        r"^\.\. code-block:: yaml\n\n((?:    .*\n|\n)+)", page, re.MULTILINE
    )
    values = yaml.safe_load("\n".join(line[4:] for line in block.split("\n")))
    values["training"]["epochs"] = 2
    (tmp_path / "fine-tune.yaml").write_text(yaml.safe_dump(values))
    (tmp_path / "models").symlink_to(repository / "models")

    shipped = load_checkpoint(repository / "models" / "si-triplet.ckpt")
    frames = []
    for index in range(10):
        atoms = ase.build.bulk("Si", "diamond", a=5.35 + 0.03 * index)
        atoms = atoms.repeat((1, 1, 2)) if index % 2 else atoms
        atoms.rattle(0.1, seed=index)
        frames.append(atoms)
    systems = systems_with_neighbors(frames, shipped.cutoff, torch.float64)
    energies, forces = predict_energies(shipped.to(torch.float64), systems, None, True)
    for atoms, energy, force in zip(frames, energies, forces):
        atoms.info["energy"] = float(energy.detach()) + 0.25 * len(atoms)
        atoms.arrays["forces"] = force.detach().numpy()
    ase.io.write(tmp_path / "my-silicon.xyz", frames, format="extxyz")

    monkeypatch.chdir(tmp_path)
    assert main(["train", "fine-tune.yaml"]) == 0
    tuned = load_checkpoint(tmp_path / "si-fine-tuned" / "model.pt")
    shipped = load_checkpoint(repository / "models" / "si-triplet.ckpt")
    change = float(tuned.energy_shift[0] - shipped.energy_shift[0])
    assert change == pytest.approx(0.25, abs=1e-3)
    tuned = dict(tuned.named_parameters())
    changed = {
        name
        for name, parameter in shipped.named_parameters()
        if not torch.equal(tuned[name], parameter)
    }
    assert not changed & {"pair_projection", "density_projection"}
    # (the last biases of phi, psi and the heads cancel in f(x) - f(0): they get
    # no gradient and stay as they are)
    assert {"phi.0.weight", "psi.0.weight", "heads.heads.0.0.weight"} <= changed
