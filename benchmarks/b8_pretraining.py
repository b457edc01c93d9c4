"""Cheap labels first: the B_NL model of Table 1 pre-trained on GFN2-xTB labels of B8
pairs, then fine-tuned on PBE pairs, against the same model trained on the PBE pairs
alone. Diff and Mean on the test pairs against the number of PBE training pairs.

Steps, each resumable (a killed step is run again with the same command)::

    python benchmarks/b8_pretraining.py prepare runs/b8-pretraining
    python benchmarks/b8_pretraining.py pretrain runs/b8-pretraining
    python benchmarks/b8_pretraining.py train runs/b8-pretraining --size 150
    python benchmarks/b8_pretraining.py train runs/b8-pretraining --size 150 \\
        --pretrained
    python benchmarks/b8_pretraining.py train runs/b8-pretraining --size 1200 \\
        --pretrained --forces
    python benchmarks/b8_pretraining.py report runs/b8-pretraining \\
        docs/results/b8-pretraining

The PBE pairs 0-1499 are split as ``tricenter reproduce table1 --preset public``
splits them (:py:func:`tricenter.paper.pairs.split_pairs`, 1200 / 150 / 150 pairs,
seed 0); the training subsets are nested (the first ``size`` pairs of a seeded
permutation of the training pairs). The xTB set holds pairs 0-3999, the first 1500
with the geometries of the PBE pairs: pre-training uses every xTB pair except the
PBE validation and test pairs, so that no test or validation structure is seen, even
with other labels. Every run trains on energies (the centre's, as in Table 1), in
float32, on one thread, with the validation pairs deciding the learning rate,
early stopping and the kept model; the test pairs are read only by ``report``.
With ``--forces``, the pre-trained model is fine-tuned as the shipped B8 model was
trained (``models/b8-pbe-triplet.yaml``: its 1200 pairs, which are this split's, with
PBE forces), at the fine-tuning learning rate.
"""

import argparse
import json
from pathlib import Path

import numpy as np


#: PBE training pairs of the learning curve
SIZES = (150, 400, 1200)
#: pairs of the PBE split, as in Table 1 at the public data's full scale
N_TRAIN, N_VAL, N_TEST = 1200, 150, 150
#: seed of the PBE split (Table 1's) and of the order of the training subsets
SPLIT_SEED, SUBSET_SEED = 0, 1
#: xTB pairs that validate the pre-training (chosen among the pairs >= 1500)
N_PRETRAIN_VAL = 150
#: epochs of the pre-training (a cosine schedule over them)
PRETRAIN_EPOCHS = 40
#: the B_NL row of Table 1 (the ``full`` and ``public`` presets' widths)
MODEL = {
    "type": "triplet",
    "latent": 128,
    "encoder_hidden": [128, 128],
    "head_hidden": [],
}
#: the run fine-tuned on PBE energies and forces
FORCES_RUN = f"pretrained-forces-{N_TRAIN}"
#: the shipped models
SHIPPED = Path(__file__).resolve().parents[1] / "models"
PBE_DATA = {
    "energy_key": "energy_ha",
    "energy_unit": "Ha",
    "consecutive_pairs": True,
    "selected_atoms": [0],
}
XTB_DATA = {
    "energy_key": "target",
    "energy_unit": "eV",
    "consecutive_pairs": True,
    "selected_atoms": [0],
}


def _data(folder: Path) -> Path:
    return folder / "data"


def pretraining_pairs(n_xtb_pairs: int, split: dict) -> dict:
    """The xTB pairs of the pre-training: every pair but the PBE validation and test
    pairs (the first PBE pairs share their geometries), ``N_PRETRAIN_VAL`` of the
    pairs beyond the PBE ones for validation.

    :param n_xtb_pairs: pairs in the xTB file
    :param split: the PBE split, pair indices of ``"train"``, ``"val"``, ``"test"``
    :return: sorted pair indices of ``"train"`` and ``"val"``
    """
    n_pbe = N_TRAIN + N_VAL + N_TEST
    held_out = set(split["val"].tolist()) | set(split["test"].tolist())
    beyond = np.arange(n_pbe, n_xtb_pairs)
    rng = np.random.default_rng(SUBSET_SEED)
    val = np.sort(rng.choice(beyond, N_PRETRAIN_VAL, replace=False))
    used = held_out | set(val.tolist())
    train = np.array([k for k in range(n_xtb_pairs) if k not in used])
    return {"train": train, "val": val}


def prepare(folder: Path):
    """Write the PBE split, its nested training subsets and the xTB pre-training
    pairs as extxyz files."""
    import ase.io

    from tricenter.datasets import PBE_REFERENCE_HA, read_shipped
    from tricenter.paper.pairs import frames_of, split_pairs

    data = _data(folder)
    data.mkdir(parents=True, exist_ok=True)
    pbe = read_shipped("b8-pbe-pairs")
    split = split_pairs(len(pbe) // 2, N_TRAIN, N_VAL, N_TEST, SPLIT_SEED)
    order = np.random.default_rng(SUBSET_SEED).permutation(split["train"])

    def write(name, frames, pairs):
        ase.io.write(
            data / name, [frames[i] for i in frames_of(np.asarray(pairs))], "extxyz"
        )

    for size in SIZES:
        write(f"pbe-train-{size}.xyz", pbe, np.sort(order[:size]))
    write("pbe-val.xyz", pbe, split["val"])
    write("pbe-test.xyz", pbe, split["test"])
    xtb = read_shipped("b8-xtb-pairs")
    pretraining = pretraining_pairs(len(xtb) // 2, split)
    write("xtb-train.xyz", xtb, pretraining["train"])
    write("xtb-val.xyz", xtb, pretraining["val"])
    record = {
        "pbe_split": {k: v.tolist() for k, v in split.items()},
        "pbe_reference_ha": PBE_REFERENCE_HA,
        "xtb_pairs": {k: v.tolist() for k, v in pretraining.items()},
    }
    (data / "split.json").write_text(json.dumps(record))
    print(f"wrote {', '.join(sorted(p.name for p in data.iterdir()))}")


def _training(**values) -> dict:
    options = {
        "epochs": 400,
        "batch_size": 16,
        "learning_rate": 1e-3,
        "scheduler_patience": 5,
        "early_stopping": 20,
        "dtype": "float32",
        "threads": 1,
        "progress": False,
    }
    options.update(values)
    return options


def run_config(folder: Path, size: int, pretrained: bool) -> dict:
    """The ``tricenter train`` configuration of one run of the learning curve."""
    from tricenter.datasets import PBE_REFERENCE_HA

    data = _data(folder).resolve()
    pbe = dict(PBE_DATA, energy_reference=PBE_REFERENCE_HA)
    config = {
        "data": dict(pbe, path=str(data / f"pbe-train-{size}.xyz")),
        "validation": dict(pbe, path=str(data / "pbe-val.xyz")),
        "split": {"train": 1.0, "val": 0.0, "test": 0.0},
        "output": str(folder.resolve() / _run_name(size, pretrained)),
    }
    if pretrained:
        config["fine_tune"] = {
            "checkpoint": str(folder.resolve() / "pretrain" / "model.pt"),
            "refit_baseline": True,
        }
        config["training"] = _training(learning_rate=3e-4)
    else:
        config["model"] = dict(MODEL)
        config["training"] = _training()
    return config


def pretrain_config(folder: Path) -> dict:
    """The ``tricenter train`` configuration of the pre-training on xTB labels."""
    data = _data(folder).resolve()
    return {
        "data": dict(XTB_DATA, path=str(data / "xtb-train.xyz")),
        "validation": dict(XTB_DATA, path=str(data / "xtb-val.xyz")),
        "split": {"train": 1.0, "val": 0.0, "test": 0.0},
        "model": dict(MODEL),
        "training": _training(
            epochs=PRETRAIN_EPOCHS,
            early_stopping=PRETRAIN_EPOCHS,
            scheduler="cosine",
            min_learning_rate=1e-5,
        ),
        "output": str(folder.resolve() / "pretrain"),
    }


def forces_config(folder: Path) -> dict:
    """The shipped B8 model's configuration (PBE energies and forces), started
    from the pre-trained model at the fine-tuning learning rate."""
    import yaml

    config = yaml.safe_load((SHIPPED / "b8-pbe-triplet.yaml").read_text())
    config.pop("model")
    config["fine_tune"] = {
        "checkpoint": str(folder.resolve() / "pretrain" / "model.pt"),
        "refit_baseline": True,
    }
    config["training"].update(learning_rate=3e-4, progress=False)
    config["output"] = str(folder.resolve() / FORCES_RUN)
    return config


def _run_name(size: int, pretrained: bool) -> str:
    return f"{'pretrained' if pretrained else 'scratch'}-{size}"


def _train(config: dict):
    from tricenter.train import train

    result = train(config)
    log = result["log"]
    summary = {
        "epochs": len(log),
        "seconds": float(sum(row["time"] for row in log)),
        "best_val_loss": float(min(row["val_loss"] for row in log)),
    }
    Path(config["output"], "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))


def test_errors(folder: Path, checkpoint: Path) -> dict:
    """Mean and Diff of a trained model on the PBE test pairs."""
    import torch

    from tricenter.datasets import PBE_REFERENCE_HA
    from tricenter.features.neighbors import systems_with_neighbors
    from tricenter.models.checkpoints import load_checkpoint
    from tricenter.paper.metrics import pair_metrics
    from tricenter.train import load_dataset, parse_config, predict_energies

    model = load_checkpoint(checkpoint).to(torch.float64)
    data = dict(
        PBE_DATA,
        energy_reference=PBE_REFERENCE_HA,
        path=str(_data(folder) / "pbe-test.xyz"),
    )
    dataset = load_dataset(parse_config({"data": data}).data)
    systems = systems_with_neighbors(dataset.frames, model.cutoff)
    predicted = []
    with torch.no_grad():
        for start in range(0, len(systems), 64):
            values, _ = predict_energies(model, systems[start : start + 64], [0])
            predicted.append(values.numpy())
    return pair_metrics(np.concatenate(predicted), dataset.energies)


def shipped_split_matches(folder: Path) -> bool:
    """Whether the shipped B8 model (``models/b8-pbe-triplet.yaml``) was trained,
    validated and tested on the pairs of this split, so that its test errors can
    stand next to the runs'."""
    from tricenter.train import load_config, load_parts

    config = load_config(SHIPPED / "b8-pbe-triplet.yaml")
    _, split = load_parts(config)
    ours = json.loads((_data(folder) / "split.json").read_text())["pbe_split"]
    return all(
        sorted(set((np.asarray(split[part]) // 2).tolist())) == sorted(ours[part])
        for part in ("train", "val", "test")
    )


def report(folder: Path, output: Path):
    """Test errors of every finished run: ``OUTPUT.json``, ``OUTPUT.md`` and the
    learning curve ``OUTPUT.png``."""
    rows = {}
    for pretrained in (False, True):
        for size in SIZES:
            name = _run_name(size, pretrained)
            if (folder / name / "summary.json").exists():
                summary = json.loads((folder / name / "summary.json").read_text())
                errors = test_errors(folder, folder / name / "model.pt")
                rows[name] = dict(errors, size=size, **summary)
    if (folder / FORCES_RUN / "summary.json").exists():
        summary = json.loads((folder / FORCES_RUN / "summary.json").read_text())
        errors = test_errors(folder, folder / FORCES_RUN / "model.pt")
        rows[FORCES_RUN] = dict(errors, size=N_TRAIN, **summary)
    pretraining = None
    if (folder / "pretrain" / "summary.json").exists():
        pretraining = json.loads((folder / "pretrain" / "summary.json").read_text())
    shipped = None
    if shipped_split_matches(folder):
        shipped = test_errors(folder, SHIPPED / "b8-pbe-triplet.ckpt")
    result = {
        "rows": rows,
        "pretraining": pretraining,
        "shipped": shipped,
        "sizes": list(SIZES),
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(result, indent=1))
    output.with_suffix(".md").write_text(markdown(result))
    _figure(result, output.with_suffix(".png"))
    print(markdown(result))


def markdown(result: dict) -> str:
    """The learning curve as a markdown table."""
    lines = [
        "# B_NL on PBE pairs, from scratch and pre-trained on GFN2-xTB",
        "",
        f"Test: {N_TEST} PBE pairs; validation: {N_VAL} PBE pairs (the split of "
        "`tricenter reproduce table1 --preset public`). Energies of the centre, "
        "float32, one thread. Written by `python benchmarks/b8_pretraining.py "
        "report`.",
        "",
        "| PBE training pairs | start | Mean | Diff | epochs | training time |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in result["rows"].items():
        start = "pre-trained on xTB" if name.startswith("pretrained") else "scratch"
        if name == FORCES_RUN:
            start += ", then PBE energies and forces"
        lines.append(
            f"| {row['size']} | {start} | {row['mean']:.3f} | {row['diff']:.3f} | "
            f"{row['epochs']} | {row['seconds'] / 60:.0f} min |"
        )
    if result.get("shipped") is not None:
        shipped = result["shipped"]
        lines += [
            "",
            "The shipped B8 model (`models/b8-pbe-triplet.ckpt`: the same architecture "
            f"trained from scratch on the same {N_TRAIN} pairs with PBE forces too) on "
            f"the same test pairs: Mean {shipped['mean']:.3f}, Diff "
            f"{shipped['diff']:.3f}.",
        ]
    if result["pretraining"] is not None:
        pre = result["pretraining"]
        lines += [
            "",
            f"Pre-training: {pre['epochs']} epochs (cosine schedule), "
            f"{pre['seconds'] / 60:.0f} min, on the xTB pairs that are not PBE "
            "validation or test pairs.",
        ]
    lines.append("")
    return "\n".join(lines)


def _figure(result: dict, path: Path):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.5, 3.5), layout="constrained")
    axes = figure.add_subplot()
    for prefix, label in (("scratch", "PBE only"), ("pretrained", "xTB, then PBE")):
        points = sorted(
            (row["size"], row["diff"])
            for name, row in result["rows"].items()
            if name.startswith(prefix) and name != FORCES_RUN
        )
        if points:
            axes.plot(*zip(*points), "o-", label=label)
    if result.get("shipped") is not None:
        axes.plot(
            [N_TRAIN], [result["shipped"]["diff"]], "k*", ms=10, label="PBE + forces"
        )
    if FORCES_RUN in result["rows"]:
        diff = result["rows"][FORCES_RUN]["diff"]
        axes.plot([N_TRAIN], [diff], "C1*", ms=10, label="xTB, then PBE + forces")
    axes.axhline(0.199, color="grey", ls="--", label="paper, 3500 pairs")
    axes.set_xscale("log")
    axes.set_xticks(result["sizes"], [str(size) for size in result["sizes"]])
    axes.minorticks_off()
    axes.set_xlabel("PBE training pairs")
    axes.set_ylabel("Diff on the test pairs")
    axes.legend(loc="lower left", fontsize="small")
    figure.savefig(path, dpi=150)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)
    step = steps.add_parser("prepare", help="write the PBE split and the xTB pairs")
    step.add_argument("folder", type=Path)
    step = steps.add_parser("pretrain", help="pre-train B_NL on the xTB pairs")
    step.add_argument("folder", type=Path)
    step = steps.add_parser("train", help="train on PBE pairs")
    step.add_argument("folder", type=Path)
    step.add_argument("--size", type=int, choices=SIZES, required=True)
    step.add_argument(
        "--pretrained", action="store_true", help="fine-tune the pre-trained model"
    )
    step.add_argument(
        "--forces",
        action="store_true",
        help=f"PBE forces too, as the shipped model (--size {N_TRAIN} --pretrained)",
    )
    step = steps.add_parser("report", help="test errors of the finished runs")
    step.add_argument("folder", type=Path)
    step.add_argument("output", type=Path, help="path of the outputs, no suffix")
    args = parser.parse_args(argv)
    if args.step == "prepare":
        prepare(args.folder)
    elif args.step == "pretrain":
        _train(pretrain_config(args.folder))
    elif args.step == "train":
        if args.pretrained and not (args.folder / "pretrain" / "model.pt").exists():
            parser.error("run the pretrain step first")
        if args.forces and not (args.pretrained and args.size == N_TRAIN):
            parser.error(f"--forces goes with --pretrained --size {N_TRAIN}")
        if args.forces:
            _train(forces_config(args.folder))
        else:
            _train(run_config(args.folder, args.size, args.pretrained))
    else:
        report(args.folder, args.output)


if __name__ == "__main__":
    main()
