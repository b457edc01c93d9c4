"""The optimisation loop: Adam with a plateau or cosine learning-rate schedule, early
stopping, resumable checkpoints of the training state, ``log.csv`` and loss curves,
data parallelism.
"""

import csv
import math
import os
import time
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import numpy as np
import torch
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from .config import OptimConfig
from .data import group_batches


#: ``batch_loss(indices, training)``: the summed loss of the items at ``indices``
#: and their count, as two tensors
BatchLoss = Callable[[np.ndarray, bool], Tuple[torch.Tensor, torch.Tensor]]

#: how often (seconds) a running fit saves its state
SAVE_EVERY = 60.0


def world() -> Tuple[int, int]:
    """``(rank, world_size)`` of this process; ``(0, 1)`` unless
    ``torch.distributed`` is initialised."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def all_reduce(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over the processes in place (a no-op in a single process)."""
    if world()[1] > 1:
        torch.distributed.all_reduce(tensor)
    return tensor


def epochs_without_improvement(log: List[dict]) -> int:
    """Epochs since the best validation loss of a log (0 for an empty log)."""
    if not log:
        return 0
    return len(log) - 1 - int(np.argmin([row["val_loss"] for row in log]))


def make_scheduler(optimizer: torch.optim.Optimizer, options: OptimConfig):
    """The learning-rate schedule of ``options.scheduler`` (see
    :py:class:`~tricenter.train.config.OptimConfig`), stepped once per epoch.

    :param optimizer: the optimizer whose learning rate it sets
    :param options: optimisation options
    """
    if options.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=options.epochs, eta_min=options.min_learning_rate
        )
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer,
        factor=options.scheduler_factor,
        patience=options.scheduler_patience,
        min_lr=options.min_learning_rate,
    )


def cosine_rate(options: OptimConfig, epochs_done: int, elapsed: float) -> float:
    """The learning rate of a cosine schedule after ``epochs_done`` epochs that took
    ``elapsed`` seconds: the larger of the fractions of epochs and of
    ``options.time_limit`` spent sets the point on the half cosine.

    >>> options = OptimConfig(epochs=10, learning_rate=1.0, time_limit=100.0)
    >>> cosine_rate(options, 5, 10.0), cosine_rate(options, 1, 100.0)
    (0.5, 0.0)
    """
    fraction = epochs_done / options.epochs
    if options.time_limit is not None:
        fraction = max(fraction, elapsed / options.time_limit)
    fraction = min(fraction, 1.0)
    low, high = options.min_learning_rate, options.learning_rate
    return low + (high - low) * (1 + math.cos(math.pi * fraction)) / 2


def _check_schedule(saved: dict, options: OptimConfig, checkpoint: Path):
    # checkpoints written before the choice of schedule used ReduceLROnPlateau
    kind = saved.get("scheduler_type", "plateau")
    if kind != options.scheduler:
        raise ValueError(
            f"the training state '{checkpoint}' was saved with the {kind} schedule, "
            f"not {options.scheduler}; set training.scheduler: {kind}, or start "
            "afresh (tricenter train --no-resume, or resume: false)"
        )
    if kind == "cosine" and saved["scheduler"]["T_max"] != options.epochs:
        raise ValueError(
            f"the training state '{checkpoint}' follows a cosine schedule over "
            f"{saved['scheduler']['T_max']} epochs, not {options.epochs}; set "
            f"training.epochs: {saved['scheduler']['T_max']}, or start afresh "
            "(tricenter train --no-resume, or resume: false)"
        )


def fit(
    module: torch.nn.Module,
    batch_loss: BatchLoss,
    train_groups: np.ndarray,
    validation_loss: Optional[BatchLoss],
    val_groups: Optional[np.ndarray],
    options: OptimConfig,
    output: Optional[Path] = None,
    resume: bool = True,
    description: str = "train",
) -> List[dict]:
    """Minimise a loss with Adam and a learning-rate schedule (see
    :py:func:`make_scheduler`); keep the best validation state.

    ``batch_loss(indices, training)`` returns the sum of per-item losses over the
    training items at positions ``indices`` of ``train_groups``, and their count;
    ``validation_loss`` does the same for the validation items. In data-parallel
    runs (``torch.distributed`` initialised) each process evaluates an interleaved
    share of every batch and the gradients are summed across processes, so the
    result does not depend on the number of processes (up to summation order).

    The training state is saved to ``output/checkpoint.pt`` every
    :py:data:`SAVE_EVERY` seconds and after the last epoch. A resumed run continues
    exactly where the saved one was: it gives the same log and model as a run that
    was never interrupted, and a run that had already stopped (all epochs done, or
    early stopping) trains no further.

    :param module: the module whose trainable parameters are optimised; its best
        state is loaded back at the end
    :param batch_loss: see above
    :param train_groups: ``(n_train,)`` group label of each training item
    :param validation_loss: batch loss of the validation items (``None``: no validation;
        the best training loss decides)
    :param val_groups: group labels of the validation items
    :param options: optimisation options
    :param output: directory for ``checkpoint.pt``, ``log.csv`` and ``loss.png``
    :param resume: continue from ``output/checkpoint.pt`` when present
    :param description: progress bar label
    :return: one dictionary per epoch (``epoch, train_loss, val_loss, lr, time``)
    :raises ValueError: when the checkpoint does not fit ``module``
    """
    rank, size = world()
    parameters = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=options.learning_rate, foreach=True)
    scheduler = make_scheduler(optimizer, options)
    generator = torch.Generator().manual_seed(options.seed)
    log: List[dict] = []
    best = math.inf
    best_state = None
    start_epoch = 0
    checkpoint = None if output is None else Path(output) / "checkpoint.pt"
    if checkpoint is not None and resume and checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=False)
        try:
            module.load_state_dict(saved["module"])
        except RuntimeError as error:
            raise ValueError(
                f"the training state '{checkpoint}' belongs to another model; "
                "start afresh (tricenter train --no-resume, or resume: false) or "
                f"choose another output folder ({error})"
            ) from error
        optimizer.load_state_dict(saved["optimizer"])
        _check_schedule(saved, options, checkpoint)
        scheduler.load_state_dict(saved["scheduler"])
        generator.set_state(saved["generator"])
        log, best, best_state = saved["log"], saved["best"], saved["best_state"]
        start_epoch = saved["epoch"] + 1

    def evaluate(groups: np.ndarray) -> float:
        with torch.enable_grad():
            total = torch.zeros(2, dtype=torch.float64)
            for batch in group_batches(
                groups, options.batch_size * 4, torch.Generator()
            ):
                loss, count = validation_loss(batch[rank::size], False)
                total += torch.stack([loss.detach().double(), count.double()])
        total = all_reduce(total)
        return float(total[0] / total[1])

    stale = epochs_without_improvement(log)
    spent = sum(row["time"] for row in log)
    # a run that stopped early or ran out of time stays stopped when it is resumed
    stopped = stale >= options.early_stopping or (
        options.time_limit is not None and spent >= options.time_limit
    )
    last = start_epoch if stopped else options.epochs
    bar = tqdm(
        range(start_epoch, last),
        desc=description,
        disable=not options.progress or rank != 0,
        leave=False,
    )
    module.train()
    saved_at = time.perf_counter()
    for epoch in bar:
        start = time.perf_counter()
        total = torch.zeros(2, dtype=torch.float64)
        for batch in group_batches(train_groups, options.batch_size, generator):
            optimizer.zero_grad()
            loss, count = batch_loss(batch[rank::size], True)
            batch_count = all_reduce(count.detach().double().clone())
            (loss / batch_count.to(loss.dtype)).backward()
            for parameter in parameters:
                if parameter.grad is None:
                    parameter.grad = torch.zeros_like(parameter)
                all_reduce(parameter.grad)
            optimizer.step()
            total += torch.stack([loss.detach().double(), count.double()])
        total = all_reduce(total)
        train_loss = float(total[0] / total[1].clamp(min=1))
        if (
            validation_loss is not None
            and val_groups is not None
            and len(val_groups) != 0
        ):
            module.eval()
            val_loss = evaluate(val_groups)
            module.train()
        else:
            val_loss = train_loss
        duration = time.perf_counter() - start
        elapsed = sum(row["time"] for row in log) + duration
        if options.scheduler == "plateau":
            scheduler.step(val_loss)
        else:
            scheduler.step()
            if options.time_limit is not None:
                for group in optimizer.param_groups:
                    group["lr"] = cosine_rate(options, epoch + 1, elapsed)
        if val_loss < best:
            best = val_loss
            best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            stale = 0
        else:
            stale += 1
        log.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "lr": optimizer.param_groups[0]["lr"],
                "time": duration,
            }
        )
        bar.set_postfix(train=f"{train_loss:.3g}", val=f"{val_loss:.3g}")
        out_of_time = options.time_limit is not None and elapsed >= options.time_limit
        last_epoch = (
            epoch + 1 >= options.epochs
            or stale >= options.early_stopping
            or out_of_time
        )
        if (
            checkpoint is not None
            and rank == 0
            and (last_epoch or time.perf_counter() - saved_at > SAVE_EVERY)
        ):
            saved_at = time.perf_counter()
            state = {
                "module": module.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scheduler_type": options.scheduler,
                "generator": generator.get_state(),
                "log": log,
                "best": best,
                "best_state": best_state,
                "epoch": epoch,
            }
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            torch.save(state, str(checkpoint) + ".tmp")
            os.replace(str(checkpoint) + ".tmp", checkpoint)
        if stale >= options.early_stopping or out_of_time:
            break
    bar.close()
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    if output is not None and rank == 0:
        write_log(log, Path(output))
    return log


def write_log(log: List[dict], output: Path):
    """Write ``log.csv`` and the loss curves ``loss.png`` into ``output``.

    :param log: the rows :py:func:`fit` returns
    :param output: the folder (created when missing)
    """
    output.mkdir(parents=True, exist_ok=True)
    if len(log) == 0:
        return
    with open(output / "log.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(log[0]))
        writer.writeheader()
        writer.writerows(log)
    figure = Figure(figsize=(5, 3.5))
    axes = figure.subplots()
    epochs = [row["epoch"] for row in log]
    axes.semilogy(epochs, [row["train_loss"] for row in log], label="train")
    axes.semilogy(epochs, [row["val_loss"] for row in log], label="validation")
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    axes.legend()
    figure.tight_layout()
    figure.savefig(output / "loss.png", dpi=120)
