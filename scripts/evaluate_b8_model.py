"""Evaluate the shipped B8 model: the exported file itself, on the pairs it was
trained, validated and tested on.

The split is the one ``tricenter train`` made from the configuration (same seed and
fractions); energies are those of the B8 centre (atom 0), forces their negative
gradients, both computed by running the exported metatomic model as engines do.
Writes ``b8-pbe-triplet.json``, ``.md`` and ``.png`` (training curves, parity of
energies, of partner differences and of forces) into ``--out``.

Usage, from the repository root::

    python scripts/evaluate_b8_model.py --log b8-pbe-triplet/log.csv
"""

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import torch
from metatensor.torch import Labels
from metatomic.torch import ModelEvaluationOptions, ModelOutput

import tricenter.export
from tricenter.features.neighbors import systems_with_neighbors
from tricenter.paper.metrics import pair_metrics
from tricenter.train import load_config, load_dataset, split_groups


def evaluate(model, frames, batch_size=64):
    """Centre energies (eV) and forces (eV/Å) of frames through an exported model."""
    options = ModelEvaluationOptions(
        length_unit="angstrom",
        outputs={"energy": ModelOutput(quantity="energy", unit="eV", per_atom=False)},
    )
    cutoff = model.requested_neighbor_lists()[0].cutoff
    dtype = getattr(torch, model.capabilities().dtype)
    energies, forces = [], []
    for start in range(0, len(frames), batch_size):
        batch = frames[start : start + batch_size]
        systems = systems_with_neighbors(
            batch, cutoff, dtype=dtype, positions_requires_grad=True
        )
        options.selected_atoms = Labels(
            ["system", "atom"],
            torch.tensor([[s, 0] for s in range(len(batch))], dtype=torch.int32),
        )
        energy = model(systems, options, check_consistency=False)["energy"]
        energy = energy.block().values.reshape(-1)
        gradients = torch.autograd.grad(
            energy.sum(), [system.positions for system in systems]
        )
        energies.append(energy.detach().numpy())
        forces.extend(-gradient.numpy() for gradient in gradients)
    return np.concatenate(energies), forces


def metrics(energies, forces, target_energies, target_forces):
    predicted_forces = np.concatenate(forces)
    reference_forces = np.concatenate(target_forces)
    force_error = predicted_forces - reference_forces
    differences = (
        energies[0::2] - energies[1::2],
        target_energies[0::2] - target_energies[1::2],
    )
    return {
        **pair_metrics(energies, target_energies),
        "energy_rmse_ev": float(np.sqrt(np.mean((energies - target_energies) ** 2))),
        "energy_mae_ev": float(np.mean(np.abs(energies - target_energies))),
        "force_rmse_ev_per_a": float(np.sqrt(np.mean(force_error**2))),
        "force_relative_rmse": float(
            np.sqrt(np.mean(force_error**2)) / reference_forces.std()
        ),
        "difference_pearson_r": float(np.corrcoef(*differences)[0, 1]),
        "difference_sign_agreement": float(
            np.mean(np.sign(differences[0]) == np.sign(differences[1]))
        ),
        "n_pairs": len(energies) // 2,
    }


def figure(log, parts, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(9, 8))
    ax = axes[0, 0]
    if log:
        epochs = [int(row["epoch"]) for row in log]
        ax.semilogy(epochs, [float(r["train_loss"]) for r in log], ".-", label="train")
        ax.semilogy(
            epochs, [float(r["val_loss"]) for r in log], ".-", label="validation"
        )
        ax.legend()
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (energies + 0.1 forces, scaled)")
    ax.set_title("training")

    test = parts["test"]
    ax = axes[0, 1]
    ax.scatter(test["target"], test["energies"], s=4)
    low, high = float(test["target"].min()), float(test["target"].max())
    ax.plot([low, high], [low, high], color="black", lw=0.8)
    ax.set_xlabel("PBE  E - E_ref / eV")
    ax.set_ylabel("predicted / eV")
    ax.set_title("test energies (B8 centre)")

    ax = axes[1, 0]
    target = test["target"][0::2] - test["target"][1::2]
    predicted = test["energies"][0::2] - test["energies"][1::2]
    ax.scatter(target, predicted, s=6, color="tab:green")
    low, high = float(target.min()), float(target.max())
    ax.plot([low, high], [low, high], color="black", lw=0.8)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("PBE  E+ - E- / eV")
    ax.set_ylabel("predicted  E+ - E- / eV")
    ax.set_title("test pairs: partners a bispectrum cannot tell apart")

    ax = axes[1, 1]
    reference = np.concatenate(test["target_forces"]).reshape(-1)
    predicted = np.concatenate(test["forces"]).reshape(-1)
    ax.scatter(reference, predicted, s=1, alpha=0.4, color="tab:purple")
    low, high = float(reference.min()), float(reference.max())
    ax.plot([low, high], [low, high], color="black", lw=0.8)
    ax.set_xlabel("PBE force component / eV/Å")
    ax.set_ylabel("predicted / eV/Å")
    ax.set_title("test forces")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(result):
    lines = [
        "# Shipped B8 model (`models/b8-pbe-triplet.pt`)",
        "",
        f"Data: `{result['data']}`; model: `{result['model']}`.",
        "Mean / Diff: errors of the partners' mean and difference relative to the "
        "std of the targets, as in Table 1 (defined on the documentation's data "
        "page).",
        "",
        "| part | pairs | Mean | Diff | E RMSE / eV | F RMSE / eV/Å | F rel. RMSE "
        "| r(ΔE) | sign(ΔE) agrees |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in result["parts"].items():
        lines.append(
            f"| {name} | {row['n_pairs']} | {row['mean']:.3f} | {row['diff']:.3f} "
            f"| {row['energy_rmse_ev']:.4f} | {row['force_rmse_ev_per_a']:.4f} "
            f"| {row['force_relative_rmse']:.3f} | {row['difference_pearson_r']:.3f} "
            f"| {100 * row['difference_sign_agreement']:.0f} % |"
        )
    if "epochs" in result:
        lines += [
            "",
            f"Training: {result['epochs']} epochs, "
            f"{result['training_seconds'] / 60:.0f} min in all (one CPU thread).",
        ]
    lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/b8-pbe-triplet.pt")
    parser.add_argument("--config", default="models/b8-pbe-triplet.yaml")
    parser.add_argument("--log", default=None, help="log.csv of the training run")
    parser.add_argument("--out", default="docs/results")
    args = parser.parse_args()

    config = load_config(args.config)
    dataset = load_dataset(config.data)
    split = split_groups(
        dataset.groups,
        (config.split.train, config.split.val, config.split.test),
        config.split.seed,
    )
    model = tricenter.export.load(args.model)
    parts = {}
    for name in ("train", "val", "test"):
        indices = np.sort(split[name])
        frames = [dataset.frames[i] for i in indices]
        energies, forces = evaluate(model, frames)
        parts[name] = {
            "energies": energies,
            "forces": forces,
            "target": dataset.energies[indices],
            "target_forces": [dataset.forces[i] for i in indices],
        }
    result = {
        "data": Path(config.data.path).name,
        "model": args.model,
        "parts": {
            name: metrics(
                part["energies"], part["forces"], part["target"], part["target_forces"]
            )
            for name, part in parts.items()
        },
    }
    log = []
    if args.log is not None:
        with open(args.log) as stream:
            log = list(csv.DictReader(stream))
        result["epochs"] = len(log)
        result["training_seconds"] = sum(float(row["time"]) for row in log)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "b8-pbe-triplet.json").write_text(json.dumps(result, indent=2))
    (out / "b8-pbe-triplet.md").write_text(markdown(result))
    figure(log, parts, out / "b8-pbe-triplet.png")
    print(markdown(result))


if __name__ == "__main__":
    main()
