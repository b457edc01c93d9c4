"""``tricenter demo``: a complete model tells apart two structures that the
bispectrum cannot.

The data are the paper's B8 pairs with PBE energies, shipped with tricenter: the two
partners of a pair share every interatomic distance, so their bispectra (the ν = 3
invariants of the central atom) coincide while their energies differ. Every model
is evaluated on pairs that no model here was trained on: the test pairs of the
shipped model ``models/b8-pbe-triplet.ckpt``, whose split is recomputed from the
configuration stored in it.

1. the shipped complete model (a deep set on triplets) next to an MLP on the
   bispectrum trained here;
2. a quick complete model trained here in a few minutes;
3. both models trained here, exported and run by an engine (``metatomic-ase``).

Errors are Mean and Diff (:py:func:`~tricenter.paper.metrics.pair_metrics`).
"""

import dataclasses
import json
import time
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np
import torch

from ..datasets import shipped_path
from ..export import load_checkpoint
from ..features.neighbors import systems_with_neighbors
from ..models import PAPER_HYPERS, TripletEncoder
from ..models.inputs import TripletInputs
from ..train.config import SplitConfig
from ..train.data import split_groups
from ..train.energy import predict_energies, selection
from .engine import engine_center_energies, export_models
from .figures import parity_figure
from .pairs import load_pairs
from .settings import Preset
from .table1 import Table1


#: file name of the shipped model, under ``models/`` in the repository
SHIPPED_MODEL = "b8-pbe-triplet.ckpt"


@dataclass
class DemoSizes:
    """Sizes of the demo (a few minutes on 2 CPU cores).

    :param n_test_pairs: held-back pairs evaluated (at most the shipped model's 150)
    :param n_val_pairs: validation pairs (early stopping), from the shipped model's
    :param n_bispectrum_pairs: training pairs of the bispectrum model
    :param n_quick_pairs: training pairs of the quick complete model
    :param bispectrum_epochs: epochs of the bispectrum model
    :param quick_epochs: epochs of the quick complete model
    :param latent: latent width of the quick model
    :param encoder_hidden: hidden widths of its triplet MLP
    :param head_hidden: hidden widths of the bispectrum MLP
    :param batch_size: pairs per batch of the quick model
    :param bispectrum_batch_size: pairs per batch of the bispectrum model
    """

    n_test_pairs: int = 150
    n_val_pairs: int = 150
    n_bispectrum_pairs: int = 1200
    n_quick_pairs: int = 300
    bispectrum_epochs: int = 60
    quick_epochs: int = 30
    latent: int = 32
    encoder_hidden: List[int] = field(default_factory=lambda: [64, 64])
    head_hidden: List[int] = field(default_factory=lambda: [64, 64])
    batch_size: int = 8
    bispectrum_batch_size: int = 32

    def preset(self, epochs: int, batch_size: int) -> Preset:
        """The :py:class:`~tricenter.paper.settings.Preset` of the rows trained."""
        return Preset(
            latent=self.latent,
            encoder_hidden=self.encoder_hidden,
            head_hidden=self.head_hidden,
            epochs=epochs,
            triplet_epochs=epochs,
            batch_size=batch_size,
            triplet_dtype="float64",
        )


def find_shipped_model(path=None) -> Optional[Path]:
    """The shipped model's checkpoint: ``path``, or ``models/b8-pbe-triplet.ckpt``
    in the working directory or in the repository this package runs from.

    :param path: explicit checkpoint (must exist)
    :return: the checkpoint, or ``None`` where none is found
    """
    if path is not None:
        if not Path(path).is_file():
            raise FileNotFoundError(f"model checkpoint '{path}' does not exist")
        return Path(path)
    repository = Path(__file__).resolve().parents[3]
    for folder in (Path.cwd(), repository):
        candidate = folder / "models" / SHIPPED_MODEL
        if candidate.is_file():
            return candidate
    return None


def shipped_split(config: dict, n_pairs: int) -> Dict[str, np.ndarray]:
    """The pairs on which a model trained by ``tricenter train`` was trained,
    validated and tested, recomputed from its configuration.

    :param config: the ``"config"`` stored in its checkpoint
    :param n_pairs: number of pairs of its data (frames ``2k``, ``2k + 1``)
    :return: sorted pair indices of ``"train"``, ``"val"`` and ``"test"``
    """
    data, split = config["data"], config["split"]
    if not data.get("consecutive_pairs") or data.get("pair_key") is not None:
        raise ValueError("the model was not trained on consecutive pairs of frames")
    frames = split_groups(
        np.arange(2 * n_pairs) // 2,
        (split["train"], split["val"], split["test"]),
        split["seed"],
    )
    return {part: np.unique(index // 2) for part, index in frames.items()}


def degeneracy(frames: list, seed: int = 0) -> dict:
    """Largest relative difference between partners of ν = 3 invariants and of
    non-linear triplet summaries (untrained triplet MLP, latent 32).

    :param frames: pairs, ``2k`` and ``2k + 1`` being partners
    :return: ``{"bispectrum": float, "triplet_mlp": float}``
    """
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


def _timed_row(say, table, name: str, train_row, label: str, epochs: int) -> dict:
    """Train one row of ``table`` with ``train_row()``, then say how its run went."""
    begin = time.perf_counter()
    row = train_row()
    say(_summary(label, table.logs.get(name, []), epochs, time.perf_counter() - begin))
    return row


def _summary(name: str, log: list, epochs: int, seconds: float) -> str:
    """One line on a finished training: epochs, time, best epoch, early stop."""
    if not log:
        return f"  {name}: read back from an earlier run in this folder"
    best = min(log, key=lambda entry: entry["val_loss"])
    text = f"  {name}: {len(log)} epochs in {seconds:.0f} s"
    if len(log) < epochs:
        text += (
            f", stopped early (no better validation loss in the last "
            f"{len(log) - 1 - best['epoch']} epochs)"
        )
    return (
        f"{text}; best validation loss {best['val_loss']:.3g} at epoch {best['epoch']}"
    )


def _rows(rows: Dict[str, dict], labels: Dict[str, str]) -> List[str]:
    lines = [f"  {'model':46s} {'Mean':>6s} {'Diff':>6s}"]
    for name, row in rows.items():
        lines.append(f"  {labels[name]:46s} {row['mean']:6.3f} {row['diff']:6.3f}")
    return lines


def run_demo(
    out,
    model=None,
    seed: int = 0,
    progress: bool = True,
    sizes: Optional[DemoSizes] = None,
    say: Callable[[str], None] = lambda text: None,
) -> dict:
    """Run the demo and write its outputs into ``out``.

    :param out: output directory
    :param model: checkpoint of the shipped model (default: see
        :py:func:`find_shipped_model`; stage 1 skips it where none is found)
    :param seed: seed of the models trained here
    :param progress: show progress bars
    :param sizes: sizes of the demo
    :param say: called with each line of the report, as the stages progress
    :return: ``{"rows", "degeneracy", "exported", "sizes", "seconds", ...}``
    """
    start = time.perf_counter()
    out = Path(out)
    sizes = sizes or DemoSizes()
    frames, targets, _ = load_pairs(shipped_path("b8-pbe-pairs"))
    checkpoint = find_shipped_model(model)
    config = {"data": {"consecutive_pairs": True}, "split": SPLIT}
    if checkpoint is not None:
        config = torch.load(checkpoint, map_location="cpu", weights_only=False)
        config = config["config"]
    held_back = shipped_split(config, len(frames) // 2)
    test = held_back["test"][: sizes.n_test_pairs]
    val = held_back["val"][: sizes.n_val_pairs]
    result = {"degeneracy": degeneracy(frames[:40], seed), "rows": {}}

    degenerate = result["degeneracy"]
    for line in (
        "tricenter demo: can a model tell apart structures the bispectrum cannot?",
        "",
        f"Data: {len(frames) // 2} pairs of B8 clusters with PBE energies, the "
        "paper's,",
        "shipped with tricenter. The two partners of a pair share every interatomic",
        "distance, so the bispectra of their central atoms coincide; their energies",
        "do not. Relative differences between the partners of 20 pairs:",
        f"  bispectrum (ν = 3 invariants)            {degenerate['bispectrum']:.1e}",
        f"  sum over triplets of an MLP, Σ φ(T)      {degenerate['triplet_mlp']:.1e}",
        f"Errors on {len(test)} held-back pairs, never used for training here:",
        "  Mean: error of the partners' average energy / std of the energies",
        "  Diff: error of the partners' energy difference / std of the differences;",
        "        Diff = 1: no better than predicting no difference at all",
    ):
        say(line)
    say("")
    say("== Stage 1: the shipped complete model next to a bispectrum model ==")
    train = held_back["train"][: sizes.n_bispectrum_pairs]
    table = Table1(
        frames,
        targets,
        {"train": train, "val": val, "test": test},
        out,
        sizes.preset(sizes.bispectrum_epochs, sizes.bispectrum_batch_size),
        seed,
        progress,
        "b8-pbe-pairs",
    )
    result["rows"]["D_NL"] = _timed_row(
        say,
        table,
        "D_NL",
        lambda: table.bispectrum_model("D_NL", linear=False),
        f"bispectrum MLP on {len(train)} pairs",
        sizes.bispectrum_epochs,
    )
    labels = {"D_NL": "MLP on the bispectrum (trained here)"}
    if checkpoint is None:
        say(f"  the shipped model, models/{SHIPPED_MODEL}, is in the tricenter")
        say("  repository, not in the installed package: add it with --model PATH")
    else:
        shipped = load_checkpoint(checkpoint)
        dtype = next(shipped.parameters()).dtype
        systems = systems_with_neighbors(
            [table.frames[i] for i in table.index["test"]], shipped.cutoff, dtype=dtype
        )
        with torch.no_grad():
            predicted, _ = predict_energies(shipped, systems, [0])
        result["rows"]["shipped"] = table.record(
            "shipped", predicted.double().numpy(), table.targets_of("test"), 0.0
        )
        labels["shipped"] = f"shipped complete model ({checkpoint.name})"
    for line in _rows(result["rows"], labels):
        say(line)
    say("  The bispectrum model predicts the same energy for both partners:")
    say("  its Diff is 1 by construction, however long it trains.")
    parity_figure(
        table, out / "parity.png", [n for n in ("D_NL", "shipped") if n in labels]
    )

    say("")
    say("== Stage 2: train a quick complete model ==")
    say(
        f"  a sum of MLP triplet energies, {sizes.n_quick_pairs} training pairs, "
        f"at most {sizes.quick_epochs} epochs"
    )
    quick = Table1(
        frames,
        targets,
        {"train": train[: sizes.n_quick_pairs], "val": val, "test": test},
        out,
        sizes.preset(sizes.quick_epochs, sizes.batch_size),
        seed,
        progress,
        "b8-pbe-pairs",
    )
    result["rows"]["B_NL"] = _timed_row(
        say,
        quick,
        "B_NL",
        lambda: quick.triplet_energy_model("B_NL", linear=False),
        "complete model",
        sizes.quick_epochs,
    )
    for line in _rows(
        {"B_NL": result["rows"]["B_NL"]}, {"B_NL": "complete model (trained here)"}
    ):
        say(line)
    if result["rows"]["B_NL"]["diff"] < 1:
        say("  Diff < 1: it tells the partners apart; more pairs and epochs bring")
        say("  it towards the shipped model (trained 82 min, with forces).")
    else:
        say("  Too little training to resolve the partners yet; the shipped model")
        say("  above shows what longer training reaches.")

    say("")
    say("== Stage 3: the models trained here, exported and run by ASE ==")
    result["exported"] = export_models(quick, out / "exported", ["B_NL", "D_NL"])
    if find_spec("metatomic_ase") is None:
        say("  metatomic-ase is not installed: the models are exported, not run")
    else:
        say("  centre energies of the held-back pairs computed by ASE; partners")
        say("  differ (relative) by up to")
        for exported in result["exported"].values():
            difference = exported["partner_difference"]
            say(f"  {difference:.1e}  {exported['path']}")

    result["sizes"] = dataclasses.asdict(sizes)
    result["test_pairs"] = test.tolist()
    result["shipped_model"] = None if checkpoint is None else str(checkpoint)
    result["seconds"] = time.perf_counter() - start
    say("")
    say(
        f"Outputs in {out}: demo.json, parity.png, models/*/loss.png "
        f"({result['seconds']:.0f} s in all)"
    )
    (out / "demo.json").write_text(json.dumps(result, indent=2))
    return result


def add_cli_arguments(parser):
    """Arguments of ``tricenter demo``."""
    parser.add_argument("--out", default="tricenter-demo", help="output directory")
    parser.add_argument(
        "--model",
        default=None,
        help=f"checkpoint of the shipped model (default: models/{SHIPPED_MODEL} of "
        "the repository)",
    )
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
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    run_demo(args.out, args.model, args.seed, not args.no_progress, say=print)
    return 0


#: the split of ``tricenter train``'s defaults, which the shipped model used
SPLIT = dataclasses.asdict(SplitConfig())

__all__ = [
    "DemoSizes",
    "engine_center_energies",
    "degeneracy",
    "find_shipped_model",
    "run_demo",
    "shipped_split",
]
