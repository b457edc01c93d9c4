import numpy as np
import pytest
import torch
import yaml

from tricenter.datasets.structures import b8_pairs
from tricenter.train.config import parse_config
from tricenter.train.training import load_dataset, split_groups, train

from ..helpers import HYPERS


def _write_pairs(path, n_pairs=6, forces=False, energy=True):
    import ase.io

    frames = b8_pairs(n_pairs)
    rng = np.random.default_rng(0)
    for frame in frames:
        distances = frame.get_all_distances()[0, 1:]
        if energy:
            frame.info["energy"] = float(np.sum((distances - 1.6) ** 2)) + 0.01 * float(
                rng.normal()
            )
        if forces:
            frame.arrays["forces"] = rng.normal(size=(len(frame), 3))
    ase.io.write(path, frames, format="extxyz")
    return frames


def _config(tmp_path, **training):
    small = {key: dict(value) for key, value in HYPERS.items()}
    small["cutoff"] = {
        "radius": 2.0,
        "smoothing": {"type": "ShiftedCosine", "width": 0.3},
    }
    return {
        "data": {
            "path": str(tmp_path / "pairs.xyz"),
            "pair_key": "pair",
            "selected_atoms": [0],
        },
        "model": {
            "hypers": small,
            "latent": 4,
            "encoder_hidden": [8],
            "head_hidden": [],
        },
        "split": {"train": 0.5, "val": 0.25, "test": 0.25, "seed": 3},
        "training": {"epochs": 2, "batch_size": 2, "progress": False, **training},
        "output": str(tmp_path / "out"),
        "resume": False,
    }


def test_unknown_keys_are_refused():
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['epoch'\] in 'training'"):
        parse_config({"data": {"path": "x"}, "training": {"epoch": 3}})
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['optimizer'\]"):
        parse_config({"data": {"path": "x"}, "optimizer": {}})
    with pytest.raises(ValueError, match="'data.path' is required"):
        parse_config({})
    with pytest.raises(ValueError, match="sum to 1"):
        parse_config({"data": {"path": "x"}, "split": {"train": 0.9, "val": 0.2}})


def test_missing_energies_are_refused(tmp_path):
    _write_pairs(tmp_path / "pairs.xyz", 2, energy=False)
    config = parse_config(_config(tmp_path))
    with pytest.raises(ValueError, match="has no energy 'energy'"):
        load_dataset(config.data)


def test_split_keeps_pairs_together():
    groups = np.repeat(np.arange(50), 2)
    split = split_groups(groups, (0.6, 0.2, 0.2), seed=1)
    assert sorted(np.concatenate(list(split.values())).tolist()) == list(range(100))
    sets = {name: set(groups[index].tolist()) for name, index in split.items()}
    assert not (sets["train"] & sets["test"]) and not (sets["val"] & sets["test"])
    assert len(sets["test"]) == 10 and len(sets["val"]) == 10
    again = split_groups(groups, (0.6, 0.2, 0.2), seed=1)
    assert all(np.array_equal(split[k], again[k]) for k in split)


def test_training_is_reproducible_and_resumes(tmp_path):
    _write_pairs(tmp_path / "pairs.xyz")
    first = train(_config(tmp_path))
    second = train(_config(tmp_path))
    assert [row["train_loss"] for row in first["log"]] == [
        row["train_loss"] for row in second["log"]
    ]
    assert first["metrics"] == second["metrics"]
    assert (tmp_path / "out" / "log.csv").exists()
    assert (tmp_path / "out" / "loss.png").exists()
    # a longer run resumed from the 2-epoch checkpoint continues the same sequence
    resumed = _config(tmp_path, epochs=3)
    resumed["resume"] = True
    third = train(resumed)
    assert len(third["log"]) == 3
    assert third["log"][1]["train_loss"] == first["log"][1]["train_loss"]


def test_forces_are_trained(tmp_path):
    """Several epochs on forces (each structure differentiated again and again),
    and the force term really enters the loss."""
    _write_pairs(tmp_path / "pairs.xyz", 3, forces=True)
    config = _config(tmp_path, epochs=3)
    config["data"]["forces_key"] = "forces"
    config["data"]["selected_atoms"] = None
    config["training"]["learning_rate"] = 0.0
    with_forces = train(config)
    assert len(with_forces["log"]) == 3
    config["training"]["forces_weight"] = 0.0
    config["output"] = str(tmp_path / "energies-only")
    energies_only = train(config)
    for epoch in range(3):
        assert (
            with_forces["log"][epoch]["train_loss"]
            > energies_only["log"][epoch]["train_loss"]
        )


def test_forces_are_repeatable_on_the_same_systems():
    """Forces of the same systems twice (as in successive epochs) agree with a
    fresh conversion of the structures."""
    import ase

    from tricenter.features.neighbors import systems_with_neighbors
    from tricenter.models import PAPER_HYPERS, TripletEnergyModel
    from tricenter.train.training import predict_energies

    torch.manual_seed(0)
    model = TripletEnergyModel(PAPER_HYPERS, [5], latent=8, encoder_hidden=[8])
    model = model.to(torch.float64)
    rng = np.random.default_rng(3)
    frames = [ase.Atoms("B5", positions=rng.normal(size=(5, 3))) for _ in range(2)]
    systems = systems_with_neighbors(frames, model.cutoff)
    first = predict_energies(model, systems, forces=True, create_graph=True)[1]
    second = predict_energies(model, systems, forces=True)[1]
    fresh = systems_with_neighbors(frames, model.cutoff, positions_requires_grad=True)
    reference = predict_energies(model, fresh, forces=True)[1]
    for a, b, c in zip(first, second, reference):
        assert torch.allclose(a, c, rtol=0, atol=1e-12)
        assert torch.allclose(b, c, rtol=0, atol=1e-12)
        assert float(c.abs().max()) > 1e-6


def test_unseen_species_are_refused(tmp_path):
    import ase.io

    frames = _write_pairs(tmp_path / "pairs.xyz", 4)
    split = split_groups(np.repeat(np.arange(4), 2), (0.5, 0.25, 0.25), 0)
    # a carbon atom in a test structure: the model, trained on boron, must refuse it
    frames[int(split["test"][0])].numbers[3] = 6
    ase.io.write(tmp_path / "pairs.xyz", frames, format="extxyz")
    config = _config(tmp_path)
    config["split"] = {"train": 0.5, "val": 0.25, "test": 0.25, "seed": 0}
    with pytest.raises(ValueError, match=r"atomic types \[6\] that the model does not"):
        train(config)


def test_yaml_command(tmp_path):
    from tricenter.cli import main

    _write_pairs(tmp_path / "pairs.xyz", 3)
    config = _config(tmp_path, epochs=1)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", str(tmp_path / "config.yaml"), "--no-resume"]) == 0
    assert (tmp_path / "out" / "model.pt").exists()
    saved = torch.load(tmp_path / "out" / "model.pt", weights_only=False)
    assert saved["atomic_types"] == [5]


def _distributed_worker(rank, world_size, port, config, queue):
    import torch.distributed

    torch.distributed.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size
    )
    try:
        torch.set_num_threads(1)
        result = train(config)
        queue.put(
            (rank, [row["train_loss"] for row in result["log"]], result["metrics"])
        )
    finally:
        torch.distributed.destroy_process_group()


def _free_port():
    import socket

    with socket.socket() as handle:
        handle.bind(("127.0.0.1", 0))
        return handle.getsockname()[1]


def test_data_parallel_matches_single_process(tmp_path):
    import torch.multiprocessing as multiprocessing

    _write_pairs(tmp_path / "pairs.xyz")
    config = _config(tmp_path)
    config["output"] = str(tmp_path / "parallel")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    port = _free_port()
    processes = [
        context.Process(target=_distributed_worker, args=(rank, 2, port, config, queue))
        for rank in range(2)
    ]
    for process in processes:
        process.start()
    results = dict(
        (rank, (log, metrics))
        for rank, log, metrics in [queue.get() for _ in processes]
    )
    for process in processes:
        process.join()
        assert process.exitcode == 0

    config["output"] = str(tmp_path / "single")
    single = train(config)
    expected = [row["train_loss"] for row in single["log"]]
    for rank in range(2):
        log, metrics = results[rank]
        assert np.allclose(log, expected, rtol=1e-10, atol=0)
        for part, values in single["metrics"].items():
            assert metrics[part]["rmse"] == pytest.approx(values["rmse"], rel=1e-10)
