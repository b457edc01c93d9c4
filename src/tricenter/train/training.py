"""Training: datasets, seeded group splits, the optimisation loop, ``tricenter train``.

>>> from tricenter.train.training import split_groups
>>> split = split_groups([0, 0, 1, 1, 2, 2, 3, 3], (0.5, 0.25, 0.25), seed=0)
>>> sorted(len(v) for v in split.values())
[2, 2, 4]
"""

import csv
import dataclasses
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .config import ENERGY_UNITS, FORCE_UNITS, Config, OptimConfig, parse_config


DTYPES = {"float32": torch.float32, "float64": torch.float64}


# ----------------------------------------------------------------------------- data
@dataclass
class Dataset:
    """Structures with energies (eV) and optionally forces (eV/Å).

    :param frames: ``ase.Atoms`` structures
    :param energies: ``(n_frames,)`` energies minus the reference, in eV
    :param forces: per-frame ``(n_atoms, 3)`` forces in eV/Å, or ``None``
    :param groups: ``(n_frames,)`` group (pair) of each frame; groups share a split
    """

    frames: list
    energies: np.ndarray
    forces: Optional[List[np.ndarray]]
    groups: np.ndarray


def read_frames(path, max_frames: Optional[int] = None) -> list:
    """All frames of an extxyz file, gzip-compressed or not.

    Compressed files are decompressed in memory first: ASE's frame-by-frame reading
    seeks in the gzip stream, which is quadratic in the number of frames.
    """
    import gzip
    import io

    import ase.io

    index = ":" if max_frames is None else f":{int(max_frames)}"
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "rt") as stream:
            return ase.io.read(io.StringIO(stream.read()), index, format="extxyz")
    return ase.io.read(path, index)


def load_dataset(data) -> Dataset:
    """Read an extxyz file as described by a
    :py:class:`~tricenter.train.config.DataConfig`.

    :raises ValueError: when a frame lacks the energy or forces
    """
    frames = read_frames(data.path, data.max_frames)
    if len(frames) == 0:
        raise ValueError(f"no structures in '{data.path}'")
    energies = []
    for i, frame in enumerate(frames):
        if data.energy_key not in frame.info:
            calculator = frame.calc
            if data.energy_key == "energy" and calculator is not None:
                energies.append(calculator.get_potential_energy())
                continue
            raise ValueError(
                f"frame {i} of '{data.path}' has no energy '{data.energy_key}' in its "
                f"info (keys: {sorted(frame.info)}); set data.energy_key"
            )
        energies.append(float(frame.info[data.energy_key]))
    factor = ENERGY_UNITS[data.energy_unit]
    energies = (np.asarray(energies) - data.energy_reference) * factor

    forces = None
    if data.forces_key is not None:
        forces = []
        sign = -1.0 if data.forces_are_gradients else 1.0
        for i, frame in enumerate(frames):
            if data.forces_key in frame.arrays:
                values = frame.arrays[data.forces_key]
            elif data.forces_key == "forces" and frame.calc is not None:
                values = frame.calc.get_forces()
            else:
                raise ValueError(
                    f"frame {i} of '{data.path}' has no '{data.forces_key}' array"
                )
            forces.append(sign * FORCE_UNITS[data.forces_unit] * np.asarray(values))

    if data.pair_key is not None:
        labels = []
        for i, frame in enumerate(frames):
            if data.pair_key not in frame.info:
                raise ValueError(f"frame {i} has no '{data.pair_key}' in its info")
            labels.append(frame.info[data.pair_key])
        _, groups = np.unique(np.asarray(labels), return_inverse=True)
    elif data.consecutive_pairs:
        groups = np.arange(len(frames)) // 2
    else:
        groups = np.arange(len(frames))
    return Dataset(frames, energies, forces, np.asarray(groups).reshape(-1))


def split_groups(
    groups: Sequence[int], fractions: Tuple[float, float, float], seed: int
) -> Dict[str, np.ndarray]:
    """Seeded split of frames into ``train``, ``val`` and ``test`` by group.

    Frames of a group (the partners of a pair) always land in the same part.

    :param groups: ``(n_frames,)`` group label of each frame
    :param fractions: fractions of groups in train, val and test
    :param seed: seed of the permutation
    :return: frame indices of each part
    """
    groups = np.asarray(groups)
    unique = np.unique(groups)
    order = np.random.default_rng(seed).permutation(len(unique))
    n_test = int(round(fractions[2] * len(unique)))
    n_val = int(round(fractions[1] * len(unique)))
    parts = {
        "test": unique[order[:n_test]],
        "val": unique[order[n_test : n_test + n_val]],
        "train": unique[order[n_test + n_val :]],
    }
    return {
        name: np.nonzero(np.isin(groups, chosen))[0] for name, chosen in parts.items()
    }


def group_batches(
    groups: np.ndarray, batch_size: int, generator: torch.Generator
) -> List[np.ndarray]:
    """Shuffled batches of frame indices, ``batch_size`` whole groups per batch."""
    unique, inverse = np.unique(groups, return_inverse=True)
    order = torch.randperm(len(unique), generator=generator).numpy()
    members = [np.nonzero(inverse == g)[0] for g in range(len(unique))]
    batches = []
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        batches.append(np.concatenate([members[g] for g in chosen]))
    return batches


# ---------------------------------------------------------------------- distributed
def _world() -> Tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _all_reduce(tensor: torch.Tensor) -> torch.Tensor:
    if _world()[1] > 1:
        torch.distributed.all_reduce(tensor)
    return tensor


# ----------------------------------------------------------------------------- loop
BatchLoss = Callable[[np.ndarray, bool], Tuple[torch.Tensor, torch.Tensor]]


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
    """Minimise a loss with Adam and ReduceLROnPlateau; keep the best validation state.

    ``batch_loss(indices, training)`` returns the sum of per-item losses over the
    training items at positions ``indices`` of ``train_groups``, and their count;
    ``validation_loss`` does the same for the validation items. In data-parallel
    runs (``torch.distributed`` initialised) each process evaluates an interleaved
    share of every batch and the gradients are summed across processes, so the
    result does not depend on the number of processes (up to summation order).

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
    """
    from tqdm.auto import tqdm

    rank, world = _world()
    parameters = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=options.learning_rate, foreach=True)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=options.scheduler_factor, patience=options.scheduler_patience
    )
    generator = torch.Generator().manual_seed(options.seed)
    log: List[dict] = []
    best = math.inf
    best_state = None
    start_epoch = 0
    checkpoint = None if output is None else Path(output) / "checkpoint.pt"
    if checkpoint is not None and resume and checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=False)
        module.load_state_dict(saved["module"])
        optimizer.load_state_dict(saved["optimizer"])
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
                loss, count = validation_loss(batch[rank::world], False)
                total += torch.stack([loss.detach().double(), count.double()])
        total = _all_reduce(total)
        return float(total[0] / total[1])

    stale = (
        0 if not log else len(log) - 1 - int(np.argmin([r["val_loss"] for r in log]))
    )
    epochs = range(start_epoch, options.epochs)
    bar = tqdm(
        epochs,
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
            loss, count = batch_loss(batch[rank::world], True)
            batch_count = _all_reduce(count.detach().double().clone())
            (loss / batch_count.to(loss.dtype)).backward()
            for parameter in parameters:
                if parameter.grad is None:
                    parameter.grad = torch.zeros_like(parameter)
                _all_reduce(parameter.grad)
            optimizer.step()
            total += torch.stack([loss.detach().double(), count.double()])
        total = _all_reduce(total)
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
        scheduler.step(val_loss)
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
                "time": time.perf_counter() - start,
            }
        )
        bar.set_postfix(train=f"{train_loss:.3g}", val=f"{val_loss:.3g}")
        last_epoch = epoch + 1 >= options.epochs or stale >= options.early_stopping
        if (
            checkpoint is not None
            and rank == 0
            and (last_epoch or time.perf_counter() - saved_at > 60)
        ):
            saved_at = time.perf_counter()
            state = {
                "module": module.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "generator": generator.get_state(),
                "log": log,
                "best": best,
                "best_state": best_state,
                "epoch": epoch,
            }
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            torch.save(state, str(checkpoint) + ".tmp")
            os.replace(str(checkpoint) + ".tmp", checkpoint)
        if stale >= options.early_stopping:
            break
    bar.close()
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    if output is not None and rank == 0:
        write_log(log, Path(output))
    return log


def write_log(log: List[dict], output: Path):
    """Write ``log.csv`` and the loss curves ``loss.png`` into ``output``."""
    output.mkdir(parents=True, exist_ok=True)
    if len(log) == 0:
        return
    with open(output / "log.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(log[0]))
        writer.writeheader()
        writer.writerows(log)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 3.5))
    epochs = [row["epoch"] for row in log]
    axes.semilogy(epochs, [row["train_loss"] for row in log], label="train")
    axes.semilogy(epochs, [row["val_loss"] for row in log], label="validation")
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    axes.legend()
    figure.tight_layout()
    figure.savefig(output / "loss.png", dpi=120)
    plt.close(figure)


# ------------------------------------------------------------------- energy models
def selection(n_systems: int, atoms: Optional[Sequence[int]], device=None):
    """``Labels`` of the described centres: ``atoms`` of every system, or ``None``
    (every atom)."""
    from metatensor.torch import Labels

    if atoms is None:
        return None
    values = [[s, a] for s in range(n_systems) for a in atoms]
    return Labels(
        ["system", "atom"], torch.tensor(values, dtype=torch.int32, device=device)
    )


def predict_energies(
    model: torch.nn.Module,
    systems: list,
    atoms: Optional[Sequence[int]] = None,
    forces: bool = False,
    create_graph: bool = False,
) -> Tuple[torch.Tensor, Optional[List[torch.Tensor]]]:
    """Structure energies (sum of the per-atom energies of the described centres)
    and, optionally, forces ``-dE/dR``.

    :return: ``(n_systems,)`` energies and a list of ``(n_atoms, 3)`` forces
    """
    if forces:
        from ..features.neighbors import with_gradients

        systems = with_gradients(systems)
    per_atom, _, centers = model(systems, selection(len(systems), atoms))
    energies = torch.zeros(len(systems), dtype=per_atom.dtype, device=per_atom.device)
    energies = energies.index_add(0, centers[:, 0].to(torch.long), per_atom)
    if not forces:
        return energies, None
    positions = [system.positions for system in systems]
    gradients = torch.autograd.grad(
        energies.sum(), positions, create_graph=create_graph, allow_unused=True
    )
    result = []
    for position, gradient in zip(positions, gradients):
        result.append(-torch.zeros_like(position) if gradient is None else -gradient)
    return energies, result


def fit_energy_scales(model, energies: np.ndarray, frames: list, atoms) -> None:
    """Set a model's per-type energy shifts (least squares on the counts of centre
    types) and its energy scale (std of the residual per centre) from training
    data."""
    types = list(model.atomic_types)
    counts = np.zeros((len(frames), len(types)))
    for i, frame in enumerate(frames):
        numbers = frame.numbers if atoms is None else frame.numbers[list(atoms)]
        for number in numbers:
            if int(number) not in types:
                raise ValueError(f"atomic type {int(number)} is not in {types}")
            counts[i, types.index(int(number))] += 1
    shifts, *_ = np.linalg.lstsq(counts, energies, rcond=None)
    residual = energies - counts @ shifts
    scale = np.sqrt(np.mean(residual**2) / np.mean(counts.sum(1)))
    with torch.no_grad():
        model.energy_shift.copy_(torch.as_tensor(shifts))
        model.energy_scale.fill_(float(scale) if scale > 0 else 1.0)


def build_model(config: Config, atomic_types: List[int]) -> torch.nn.Module:
    """The energy model described by ``config.model``."""
    from ..models import BispectrumEnergyModel, TripletEnergyModel

    options = config.model
    if options.type == "bispectrum":
        return BispectrumEnergyModel(
            options.hypers,
            atomic_types,
            head_hidden=options.head_hidden,
            head_norm=options.head_norm,
            head_activation=options.head_activation,
        )
    return TripletEnergyModel(
        options.hypers,
        atomic_types,
        latent=options.latent,
        encoder_hidden=options.encoder_hidden,
        head_hidden=options.head_hidden,
        encoder_norm=options.encoder_norm,
        head_norm=options.head_norm,
        head_activation=options.head_activation,
    )


def calibrate(model, systems: list, atoms) -> None:
    """Set the input scales of a model's features from (training) systems."""
    from ..models import BispectrumEnergyModel

    sample = systems[:64]
    selected = selection(len(sample), atoms)
    if isinstance(model, BispectrumEnergyModel):
        with torch.no_grad():
            model.input_scale.fill_(1.0)
            features, _, _ = model.features(sample, selected)
            rms = float(features.pow(2).mean().sqrt())
            model.input_scale.fill_(1.0 / rms if rms > 0 else 1.0)
    else:
        model.encoder.calibrate(sample, selected)


def check_types(model, frames: list, where: str):
    """Refuse structures with atomic types the model was not trained on."""
    known = set(model.atomic_types)
    for i, frame in enumerate(frames):
        unseen = sorted(set(int(n) for n in frame.numbers) - known)
        if unseen:
            raise ValueError(
                f"{where} structure {i} has atomic types {unseen} that the model "
                f"does not know (trained on {sorted(known)})"
            )


def energy_loss(
    model,
    systems: list,
    energies: torch.Tensor,
    forces: Optional[List[torch.Tensor]],
    atoms,
    forces_weight: float,
) -> BatchLoss:
    """The batch loss of :py:func:`fit` for an energy model on systems: squared
    errors of energies (and forces), in units of the model's energy scale."""

    def loss(indices: np.ndarray, training: bool):
        batch = [systems[i] for i in indices]
        use_forces = forces is not None and forces_weight > 0
        predicted, predicted_forces = predict_energies(
            model, batch, atoms, forces=use_forces, create_graph=training
        )
        scale = model.energy_scale
        target = energies[torch.as_tensor(indices, dtype=torch.long)]
        value = ((predicted - target) / scale).pow(2).sum()
        if use_forces:
            for i, f in zip(indices, predicted_forces):
                value = (
                    value + forces_weight * ((f - forces[i]) / scale).pow(2).sum() / 3
                )
        if not training:
            value = value.detach()
        return value, torch.tensor(float(len(indices)))

    return loss


def train(config) -> dict:
    """Train an energy model as described by a configuration.

    :param config: a :py:class:`~tricenter.train.config.Config`, a dictionary, or the
        path of a YAML file
    :return: ``{"model", "split", "metrics", "log", "output"}``; the model is also
        saved as ``output/model.pt`` (state dict and configuration)
    """
    from ..features.neighbors import systems_with_neighbors

    config = load_config(config)
    options = config.training
    output = Path(config.output)
    rank, _ = _world()
    if options.threads is not None:
        torch.set_num_threads(options.threads)
    dtype = DTYPES[options.dtype]
    dataset = load_dataset(config.data)
    split = split_groups(
        dataset.groups,
        (config.split.train, config.split.val, config.split.test),
        config.split.seed,
    )
    train_frames = [dataset.frames[i] for i in split["train"]]
    atomic_types = config.model.atomic_types
    if atomic_types is None:
        atomic_types = sorted({int(n) for f in train_frames for n in f.numbers})
    torch.manual_seed(options.seed)
    model = build_model(config, atomic_types).to(dtype)
    atoms = config.data.selected_atoms
    use_forces = dataset.forces is not None and options.forces_weight > 0
    for part in ("val", "test"):
        check_types(model, [dataset.frames[i] for i in split[part]], part)
    systems = systems_with_neighbors(dataset.frames, model.cutoff, dtype=dtype)
    fit_energy_scales(model, dataset.energies[split["train"]], train_frames, atoms)
    calibrate(model, [systems[i] for i in split["train"]], atoms)

    energies = torch.as_tensor(dataset.energies, dtype=dtype)
    forces = None
    if use_forces:
        forces = [torch.as_tensor(f, dtype=dtype) for f in dataset.forces]
    loss = energy_loss(model, systems, energies, forces, atoms, options.forces_weight)

    def part_loss(part):
        indices = split[part]
        return lambda batch, training: loss(indices[batch], training)

    log = fit(
        model,
        part_loss("train"),
        dataset.groups[split["train"]],
        part_loss("val"),
        dataset.groups[split["val"]],
        options,
        output,
        config.resume,
    )
    metrics = {}
    for part in ("train", "val", "test"):
        if len(split[part]) != 0:
            metrics[part] = evaluate_energies(
                model,
                [systems[i] for i in split[part]],
                dataset.energies[split[part]],
                atoms,
            )
    if rank == 0:
        output.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "state_dict": model.state_dict(),
                "config": dataclasses.asdict(config),
                "atomic_types": atomic_types,
            },
            output / "model.pt",
        )
        import json

        (output / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return {
        "model": model,
        "split": split,
        "metrics": metrics,
        "log": log,
        "output": output,
    }


def evaluate_energies(model, systems: list, energies: np.ndarray, atoms) -> dict:
    """RMSE and MAE (eV) of a model's energies."""
    predicted = []
    for start in range(0, len(systems), 64):
        e, _ = predict_energies(model, systems[start : start + 64], atoms)
        predicted.append(e.detach().cpu().double().numpy())
    error = np.concatenate(predicted) - energies
    return {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
    }


def load_config(config) -> Config:
    """A :py:class:`Config` from a Config, a dictionary or a YAML path."""
    if isinstance(config, Config):
        return config
    if isinstance(config, (str, Path)):
        import yaml

        path = Path(config)
        if not path.exists():
            raise FileNotFoundError(f"configuration file '{path}' not found")
        values = yaml.safe_load(path.read_text()) or {}
        return parse_config(values)
    return parse_config(config)


# ------------------------------------------------------------------------------ CLI
def add_cli_arguments(parser):
    """Arguments of ``tricenter train``."""
    parser.add_argument("config", help="YAML configuration file")
    parser.add_argument("--output", help="output directory (overrides the config)")
    parser.add_argument(
        "--no-resume", action="store_true", help="ignore an existing checkpoint"
    )


def run_cli(args) -> int:
    """Run ``tricenter train``."""
    config = load_config(args.config)
    if args.output is not None:
        config.output = args.output
    if args.no_resume:
        config.resume = False
    distributed = "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
    if distributed:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    try:
        result = train(config)
    finally:
        if distributed:
            torch.distributed.destroy_process_group()
    if _world()[0] == 0:
        for part, values in result["metrics"].items():
            print(
                f"{part:5s}  RMSE {values['rmse']:.4f} eV  MAE {values['mae']:.4f} eV"
            )
        print(f"outputs in {result['output']}")
    return 0
