import numpy as np
import pytest
import torch
import yaml

from tricenter.models.checkpoints import CHECKPOINT_VERSION, read_checkpoint
from tricenter.train import predict_energies, split_groups, train

from .common import small_config, write_pairs


def test_training_is_reproducible_and_resumes(tmp_path):
    write_pairs(tmp_path / "pairs.xyz")
    first = train(small_config(tmp_path))
    second = train(small_config(tmp_path))
    assert [row["train_loss"] for row in first["log"]] == [
        row["train_loss"] for row in second["log"]
    ]
    assert first["metrics"] == second["metrics"]
    assert (tmp_path / "out" / "log.csv").exists()
    assert (tmp_path / "out" / "loss.png").exists()

    # a 3-epoch run resumed from the 2-epoch checkpoint ends as an uninterrupted
    # 3-epoch run does ...
    uninterrupted = small_config(tmp_path, epochs=3)
    uninterrupted["output"] = str(tmp_path / "uninterrupted")
    uninterrupted = train(uninterrupted)
    resumed = small_config(tmp_path, epochs=3)
    resumed["resume"] = True
    # ... and starts from the checkpoint: the epochs before it are not run again
    path = tmp_path / "out" / "checkpoint.pt"
    saved = torch.load(path, weights_only=False)
    saved["log"][0]["val_loss"] = 1e9
    torch.save(saved, path)
    third = train(resumed)
    assert [row["epoch"] for row in third["log"]] == [0, 1, 2]
    assert third["log"][0]["val_loss"] == 1e9
    for mine, theirs in zip(third["log"][1:], uninterrupted["log"][1:]):
        assert mine["train_loss"] == theirs["train_loss"]
        assert mine["val_loss"] == theirs["val_loss"]
    assert third["metrics"] == uninterrupted["metrics"]


def test_forces_are_trained(tmp_path):
    """Several epochs on forces (each structure differentiated again and again),
    and the force term really enters the loss."""
    write_pairs(tmp_path / "pairs.xyz", 3, forces=True)
    config = small_config(tmp_path, epochs=3)
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

    frames = write_pairs(tmp_path / "pairs.xyz", 4)
    split = split_groups(np.repeat(np.arange(4), 2), (0.5, 0.25, 0.25), 0)
    # a carbon atom in a test structure: the model, trained on boron, must refuse it
    frames[int(split["test"][0])].numbers[3] = 6
    ase.io.write(tmp_path / "pairs.xyz", frames, format="extxyz")
    config = small_config(tmp_path)
    config["split"] = {"train": 0.5, "val": 0.25, "test": 0.25, "seed": 0}
    message = r"frame \d+ of '.*pairs.xyz' \(test set\) contains C .* supports only B"
    with pytest.raises(ValueError, match=message):
        train(config)


def test_yaml_command(tmp_path):
    from tricenter.cli import main

    write_pairs(tmp_path / "pairs.xyz", 3)
    config = small_config(tmp_path, epochs=1)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", str(tmp_path / "config.yaml"), "--no-resume"]) == 0
    assert (tmp_path / "out" / "model.pt").exists()
    saved = read_checkpoint(tmp_path / "out" / "model.pt")
    assert saved["tricenter_checkpoint"] == CHECKPOINT_VERSION
    assert saved["atomic_types"] == [5] and saved["dtype"] == "float64"
    assert saved["config"]["training"]["epochs"] == 1


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

    write_pairs(tmp_path / "pairs.xyz")
    config = small_config(tmp_path)
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


def test_energy_scales_name_unknown_elements():
    import ase

    from tricenter.models import PAPER_HYPERS, TripletEnergyModel
    from tricenter.train import fit_energy_scales

    model = TripletEnergyModel(PAPER_HYPERS, [1, 5], latent=4, encoder_hidden=[4])
    frames = [
        ase.Atoms("B2H", positions=np.eye(3)),
        ase.Atoms("BHC", positions=np.eye(3)),
    ]
    with pytest.raises(ValueError, match="frame 1 contains C, but .* only H, B"):
        fit_energy_scales(model, np.array([1.0, 2.0]), frames, None)
    frames[1] = ase.Atoms("BH2", positions=np.eye(3))
    fit_energy_scales(model, np.array([1.0, 0.8]), frames, None)
    assert model.energy_shift.tolist() == pytest.approx([0.2, 0.4])
