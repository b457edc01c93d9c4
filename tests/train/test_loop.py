import numpy as np
import pytest
import torch

from tricenter.train.config import OptimConfig
from tricenter.train.loop import fit, make_scheduler


def _problem(seed=0):
    """A linear model on noisy linear data, with pairs as groups."""
    rng = np.random.default_rng(seed)
    x = torch.as_tensor(rng.normal(size=(24, 3)))
    y = x @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64) + 0.1 * torch.as_tensor(
        rng.normal(size=24)
    )
    train, val = np.arange(16), np.arange(16, 24)
    torch.manual_seed(seed)
    module = torch.nn.Linear(3, 1).to(torch.float64)

    def loss(indices):
        def batch_loss(batch, training):
            chosen = torch.as_tensor(indices[batch])
            value = (module(x[chosen])[:, 0] - y[chosen]).pow(2).sum()
            return value, torch.tensor(float(len(chosen)))

        return batch_loss

    return module, loss(train), train // 2, loss(val), val // 2


def _fit(output, resume=True, **options):
    module, train_loss, train_groups, val_loss, val_groups = _problem()
    options = OptimConfig(batch_size=2, progress=False, **options)
    log = fit(
        module, train_loss, train_groups, val_loss, val_groups, options, output, resume
    )
    return module, [{k: v for k, v in row.items() if k != "time"} for row in log]


def test_resumed_run_continues_the_interrupted_one(tmp_path):
    """Resumed after 3 epochs, a 6-epoch run gives the log and the model of an
    uninterrupted 6-epoch run."""
    full_module, full_log = _fit(tmp_path / "full", epochs=6, learning_rate=0.05)
    _, first_log = _fit(tmp_path / "run", epochs=3, learning_rate=0.05)
    assert first_log == full_log[:3]
    module, log = _fit(tmp_path / "run", epochs=6, learning_rate=0.05)
    assert log == full_log
    for name, value in full_module.state_dict().items():
        assert torch.equal(module.state_dict()[name], value)
    # the learning rate and the weights have moved: the comparison is not trivial
    assert log[0]["train_loss"] != log[-1]["train_loss"]


def test_resumed_run_starts_from_the_checkpoint(tmp_path):
    """Epochs before the checkpoint are not run again, and the training continues
    from the saved weights."""
    _, full_log = _fit(tmp_path / "full", epochs=4, learning_rate=0.05)
    _fit(tmp_path / "run", epochs=2, learning_rate=0.05)
    path = tmp_path / "run" / "checkpoint.pt"
    saved = torch.load(path, weights_only=False)
    saved["log"][0]["train_loss"] = -1.0
    saved["module"]["weight"] = saved["module"]["weight"] + 3.0
    torch.save(saved, path)
    _, log = _fit(tmp_path / "run", epochs=4, learning_rate=0.05)
    assert [row["epoch"] for row in log] == [0, 1, 2, 3]
    assert log[0]["train_loss"] == -1.0
    assert log[1] == full_log[1]
    assert log[2]["train_loss"] > 2 * full_log[2]["train_loss"]
    # without resume, the checkpoint is ignored
    _, fresh = _fit(tmp_path / "run", resume=False, epochs=4, learning_rate=0.05)
    assert fresh == full_log


def test_early_stopped_run_stays_stopped(tmp_path):
    """With a constant validation loss (learning rate 0), early stopping ends the run
    after two epochs; resuming it trains no further."""
    options = {"epochs": 6, "learning_rate": 0.0, "early_stopping": 1}
    _, log = _fit(tmp_path, **options)
    assert len(log) == 2
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert saved["epoch"] == 1
    _, resumed = _fit(tmp_path, **options)
    assert resumed == log
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["epoch"] == 1
    # a larger patience lets the resumed run go on
    _, longer = _fit(tmp_path, **{**options, "early_stopping": 3})
    assert len(longer) == 4


def test_checkpoint_of_another_model_is_refused(tmp_path):
    _fit(tmp_path, epochs=1)
    module, train_loss, train_groups, val_loss, val_groups = _problem()
    other = torch.nn.Linear(3, 2).to(torch.float64)
    options = OptimConfig(epochs=2, progress=False)
    with pytest.raises(ValueError, match="belongs to another model; start afresh"):
        fit(other, train_loss, train_groups, val_loss, val_groups, options, tmp_path)


def test_log_files(tmp_path):
    _, log = _fit(tmp_path, epochs=2)
    lines = (tmp_path / "log.csv").read_text().splitlines()
    assert lines[0] == "epoch,train_loss,val_loss,lr,time"
    assert len(lines) == 3 and lines[2].startswith(f"1,{log[1]['train_loss']!r},")
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"


class _Interrupt(Exception):
    pass


def test_cosine_schedule_resumes_where_it_stopped(tmp_path, monkeypatch):
    """A cosine run killed after 3 of 6 epochs and resumed gives the log and the
    model of an uninterrupted run: its learning rate continues down the cosine
    instead of starting again from the top."""
    import tricenter.train.loop as loop

    options = {"epochs": 6, "learning_rate": 0.05, "scheduler": "cosine"}
    full_module, full_log = _fit(tmp_path / "full", **options)
    rates = [row["lr"] for row in full_log]
    assert rates == sorted(rates, reverse=True) and rates[-1] < 1e-3 * rates[0]

    # save after every epoch, and stop the run in the middle of its fourth epoch
    monkeypatch.setattr(loop, "SAVE_EVERY", -1.0)
    module, train_loss, train_groups, val_loss, val_groups = _problem()
    calls = []

    def interrupted(batch, training):
        calls.append(training)
        # 8 pairs in batches of 2: 4 batches per epoch
        if calls.count(True) > 3 * 4:
            raise _Interrupt
        return train_loss(batch, training)

    config = OptimConfig(batch_size=2, progress=False, **options)
    with pytest.raises(_Interrupt):
        fit(module, interrupted, train_groups, val_loss, val_groups, config, tmp_path)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["epoch"] == 2
    module, log = _fit(tmp_path, **options)
    assert log == full_log
    for name, value in full_module.state_dict().items():
        assert torch.equal(module.state_dict()[name], value)


def test_resume_refuses_another_schedule(tmp_path):
    _fit(tmp_path, epochs=2, scheduler="cosine")
    with pytest.raises(ValueError, match="saved with the cosine schedule, not plateau"):
        _fit(tmp_path, epochs=2)
    with pytest.raises(ValueError, match=r"cosine schedule over 2 epochs, not 4"):
        _fit(tmp_path, epochs=4, scheduler="cosine")


def test_schedules_take_their_options():
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([parameter], lr=0.1)
    options = OptimConfig(epochs=7, min_learning_rate=1e-4, scheduler_factor=0.3)
    plateau = make_scheduler(optimizer, options)
    assert isinstance(plateau, torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert plateau.min_lrs == [1e-4] and plateau.factor == 0.3
    options.scheduler = "cosine"
    cosine = make_scheduler(optimizer, options)
    assert (cosine.T_max, cosine.eta_min) == (7, 1e-4)


class _Clock:
    """A clock that advances one second each time it is read."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        self.now += 1.0
        return self.now


def test_time_limit_ends_the_run_and_the_cosine_schedule(tmp_path, monkeypatch):
    """With a wall-clock budget, the epoch that reaches it is the last; the cosine
    learning rate reaches its minimum there; a resumed run stays stopped, and a
    larger budget lets it go on."""
    monkeypatch.setattr("tricenter.train.loop.time", _Clock())
    options = {"epochs": 50, "learning_rate": 0.05, "scheduler": "cosine"}
    module, log = _fit(tmp_path, time_limit=12.0, **options)
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    times = [row["time"] for row in saved["log"]]
    assert 1 < len(log) < 50
    assert sum(times[:-1]) < 12.0 <= sum(times)
    assert log[-1]["lr"] == 0.0
    # the schedule follows the time spent, not the 50 epochs
    assert log[0]["lr"] < 0.05 * (1 + np.cos(np.pi / 50)) / 2
    _, resumed = _fit(tmp_path, time_limit=12.0, **options)
    assert resumed == log
    _, longer = _fit(tmp_path, time_limit=24.0, **options)
    assert len(longer) > len(log) and longer[: len(log) - 1] == log[:-1]


def test_time_limit_must_be_positive():
    from tricenter.train.config import parse_config

    with pytest.raises(ValueError, match="time_limit must be a positive number"):
        parse_config(
            {"data": {"path": "x.xyz"}, "training": {"time_limit": 0}, "output": "o"}
        )
