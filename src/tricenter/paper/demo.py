"""``tricenter demo``: the bispectrum degeneracy and quick complete models.

On the GFN2-xTB labelled B8 pairs shipped with the package (no DFT needed) this

1. compares the two partners of some pairs with the per-centre ν = 3 invariants (the
   triplets summed over ``(j, j')``), which coincide, and with non-linear triplet
   summaries :math:`\\sum_{jj'} \\phi(T_{ijj'})` (an untrained MLP), which do not;
2. trains quick B_L (linear triplet energies), B_NL (MLP triplet energies) and D_NL
   (MLP on the bispectrum) models and prints their Mean / Diff errors on test pairs;
3. exports B_NL and D_NL as metatomic models and runs them through ASE
   (``metatomic-ase``) on the test pairs: the triplet model tells the partners apart
   inside the engine, the bispectrum model cannot;
4. writes the parity plot and loss curves.
"""

import dataclasses
import time
from importlib import resources
from pathlib import Path

import numpy as np
import torch


def shipped_pairs() -> Path:
    """Path of the GFN2-xTB B8 pairs shipped with tricenter."""
    path = resources.files("tricenter.datasets") / "data" / "b8-xtb-pairs.xyz.gz"
    return Path(str(path))


def degeneracy(frames: list, seed: int = 0) -> dict:
    """Largest relative difference between partners of ν = 3 invariants and of
    non-linear triplet summaries (untrained triplet MLP, latent 32).

    :param frames: pairs, ``2k`` and ``2k + 1`` being partners
    :return: ``{"bispectrum": float, "triplet_mlp": float}``
    """
    from ..features.neighbors import systems_with_neighbors
    from ..models import PAPER_HYPERS, TripletEncoder
    from ..models.inputs import TripletInputs
    from ..train.training import selection

    types = sorted({int(n) for f in frames for n in f.numbers})
    inputs = TripletInputs(PAPER_HYPERS, types).to(torch.float64)
    torch.manual_seed(seed)
    encoder = TripletEncoder(PAPER_HYPERS, types, 32, [64, 64]).to(torch.float64)
    systems = systems_with_neighbors(frames, inputs.features.cutoff)
    selected = selection(len(systems), [0])
    encoder.calibrate(systems, selected)
    with torch.no_grad():
        _, density, _, _, _, _ = inputs(systems, selected)
        summed = inputs.summed(density).reshape(len(systems), -1)
        xi, _, _ = encoder(systems, selected)

    def relative(x):
        difference = (x[0::2] - x[1::2]).norm(dim=1)
        return float((difference / x[0::2].norm(dim=1)).max())

    return {"bispectrum": relative(summed), "triplet_mlp": relative(xi)}


#: sizes of the demo: a few minutes on 2 CPU cores
DEMO_PRESET = {
    "n_train_pairs": 400,
    "n_val_pairs": 50,
    "n_test_pairs": 100,
    "latent": 32,
    "encoder_hidden": [64, 64],
    "head_hidden": [64, 64],
    "epochs": 60,
    "triplet_epochs": 40,
    "batch_size": 8,
    "triplet_dtype": "float64",
    "nice_contracted": 8,
    "nice_outputs": 16,
}


def run_demo(out, data=None, seed: int = 0, progress: bool = True, sizes=None) -> dict:
    """Run the demo and write its outputs into ``out``.

    :param out: output directory
    :param data: pairs file (default: the shipped GFN2-xTB pairs)
    :param seed: seed of the split and of the models
    :param progress: show progress bars
    :param sizes: overrides of :py:data:`DEMO_PRESET`
    :return: ``{"degeneracy": ..., "rows": {name: {"mean", "diff"}}, "seconds"}``
    """
    from .figures import parity_figure
    from .table1 import Preset, Table1, load_pairs

    start = time.perf_counter()
    data = shipped_pairs() if data is None else Path(data)
    frames, _, _ = load_pairs(data)
    result = {"degeneracy": degeneracy(frames[:40], seed)}
    preset = Preset(**{**DEMO_PRESET, **(sizes or {})})
    table = Table1(data, out, preset, seed, progress)
    rows = {
        "B_L": table.triplet_energy_model("B_L", linear=True),
        "B_NL": table.triplet_energy_model("B_NL", linear=False),
        "D_NL": table.bispectrum_model("D_NL", linear=False),
    }
    result["rows"] = {
        k: {"mean": v["mean"], "diff": v["diff"]} for k, v in rows.items()
    }
    parity_figure(table, Path(out) / "parity.png")
    result["exported"] = export_models(table, Path(out) / "exported", ["B_NL", "D_NL"])
    result["n_train_pairs"] = int(len(table.split["train"]))
    result["n_test_pairs"] = int(len(table.split["test"]))
    result["preset"] = dataclasses.asdict(preset)
    result["seconds"] = time.perf_counter() - start
    return result


def export_models(table, out: Path, names) -> dict:
    """Export trained rows of a :py:class:`~tricenter.paper.table1.Table1` as metatomic
    models and evaluate them through ASE on its test pairs (when ``metatomic-ase`` is
    installed).

    :return: ``{name: {"path", "partner_difference"}}``, the largest relative
        difference between the partners' centre energies computed by the engine
        (``None`` without ``metatomic-ase``)
    """
    from importlib.util import find_spec

    from ..export import export, load_checkpoint

    frames = [table.frames[i] for i in table.index["test"]]
    result = {}
    for name in names:
        path = out / f"{name}.pt"
        model = load_checkpoint(table.out / "models" / name / "model.pt")
        export(model, path, name=f"tricenter demo {name}")
        difference = None
        if find_spec("metatomic_ase") is not None:
            from metatomic_ase import MetatomicCalculator

            calculator = MetatomicCalculator(
                str(path), extensions_directory=str(out / "extensions")
            )
            energies = engine_center_energies(calculator, frames)
            difference = float(
                np.max(np.abs(energies[0::2] - energies[1::2]))
                / np.max(np.abs(energies))
            )
        result[name] = {"path": str(path), "partner_difference": difference}
    return result


def engine_center_energies(calculator, frames: list) -> np.ndarray:
    """Energy of atom 0 of each frame (the B8 centre), computed by a
    ``metatomic_ase.MetatomicCalculator``."""
    from metatensor.torch import Labels
    from metatomic.torch import ModelOutput

    center = Labels(["system", "atom"], torch.tensor([[0, 0]], dtype=torch.int32))
    energies = []
    for atoms in frames:
        outputs = calculator.run_model(
            atoms, {"energy": ModelOutput(sample_kind="system")}, selected_atoms=center
        )
        energies.append(float(outputs["energy"].block().values[0, 0]))
    return np.array(energies)


def add_cli_arguments(parser):
    """Arguments of ``tricenter demo``."""
    parser.add_argument("--out", default="tricenter-demo", help="output directory")
    parser.add_argument("--data", default=None, help="pairs file (default: shipped)")
    parser.add_argument("--seed", type=int, default=0, help="seed")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1: small tensors gain nothing from more)",
    )


def run_cli(args) -> int:
    """Run ``tricenter demo``."""
    import json

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    result = run_demo(args.out, args.data, args.seed, not args.no_progress)
    degeneracy = result["degeneracy"]
    print("Largest relative difference between partners of 20 B8 pairs:")
    print(f"  ν = 3 invariants (sum of triplets):    {degeneracy['bispectrum']:.2e}")
    print(f"  non-linear triplet summaries Σ φ(T):   {degeneracy['triplet_mlp']:.2e}")
    print(
        f"Quick models ({result['n_train_pairs']} training pairs, "
        f"{result['n_test_pairs']} test pairs), errors relative to the std:"
    )
    print(f"  {'model':6s} {'Mean':>7s} {'Diff':>7s}")
    for name, row in result["rows"].items():
        print(f"  {name:6s} {row['mean']:7.3f} {row['diff']:7.3f}")
    print("Exported (metatomic), centre energies of the test pairs through ASE:")
    for exported in result["exported"].values():
        difference = exported["partner_difference"]
        text = (
            "metatomic-ase not installed" if difference is None else f"{difference:.2e}"
        )
        print(f"  {exported['path']}: largest partner difference {text}")
    print(
        f"Plots in {args.out} (parity.png, models/*/loss.png); "
        f"{result['seconds']:.0f} s"
    )
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "demo.json").write_text(json.dumps(result, indent=2))
    return 0


__all__ = ["run_demo", "degeneracy", "shipped_pairs"]
