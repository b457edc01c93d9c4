"""``tricenter train``: train an energy model as a YAML configuration describes it."""

import json
import os
from dataclasses import asdict
from pathlib import Path

import torch

from ..features.neighbors import systems_with_neighbors
from ..models.build import DTYPES, build_model
from ..models.checkpoints import save_checkpoint
from .config import load_config
from .data import check_types, load_parts
from .energy import calibrate, energy_loss, evaluate_energies, fit_energy_scales
from .finetune import freeze, load_pretrained, refit_baseline, reset_heads
from .loop import fit, world


def train(config) -> dict:
    """Train an energy model as described by a configuration.

    :param config: a :py:class:`~tricenter.train.config.Config`, a dictionary, or the
        path of a YAML file
    :return: ``{"model", "split", "metrics", "log", "output"}``; the model is also
        saved as ``output/model.pt`` (see :py:mod:`tricenter.models.checkpoints`)
    """
    config = load_config(config)
    options = config.training
    output = Path(config.output)
    if options.threads is not None:
        torch.set_num_threads(options.threads)
    dtype = DTYPES[options.dtype]
    dataset, split = load_parts(config)
    train_frames = [dataset.frames[i] for i in split["train"]]
    pretrained = None
    if config.fine_tune is not None:
        pretrained, config.model = load_pretrained(config.fine_tune)
    atomic_types = config.model.atomic_types
    if atomic_types is None:
        atomic_types = sorted({int(n) for f in train_frames for n in f.numbers})
    for part, indices in split.items():
        check_types(atomic_types, dataset, indices, part)
    torch.manual_seed(options.seed)
    if pretrained is None:
        model = build_model(config.model, atomic_types).to(dtype)
    else:
        model = pretrained.to(dtype)
    atoms = config.data.selected_atoms
    use_forces = dataset.forces is not None and options.forces_weight > 0
    systems = systems_with_neighbors(dataset.frames, model.cutoff, dtype=dtype)
    train_systems = [systems[i] for i in split["train"]]
    train_energies = dataset.energies[split["train"]]
    if config.fine_tune is None:
        fit_energy_scales(model, train_energies, train_frames, atoms)
        calibrate(model, train_systems, atoms)
    else:
        if config.fine_tune.fresh_heads:
            reset_heads(model)
        freeze(model, config.fine_tune.freeze)
        if config.fine_tune.refit_baseline:
            refit_baseline(model, train_energies, train_frames, train_systems, atoms)

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
                None
                if dataset.forces is None
                else [dataset.forces[i] for i in split[part]],
            )
    if world()[0] == 0:
        save_checkpoint(model, config.model, output / "model.pt", asdict(config))
        (output / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return {
        "model": model,
        "split": split,
        "metrics": metrics,
        "log": log,
        "output": output,
    }


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
    if world()[0] == 0:
        for part, values in result["metrics"].items():
            line = (
                f"{part:5s}  RMSE {values['rmse']:.4f} eV  MAE {values['mae']:.4f} eV"
            )
            if "forces_rmse" in values:
                line += f"  forces RMSE {values['forces_rmse']:.4f} eV/A"
            print(line)
        print(f"outputs in {result['output']}")
    return 0
