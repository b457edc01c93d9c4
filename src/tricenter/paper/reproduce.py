"""``tricenter reproduce``: the command line of the Table 1 reproduction (``table1``)
and of its latent-size sweep alone (``latent``, Fig. S4)."""

from pathlib import Path

import torch

from .report import collect_table1
from .settings import PRESETS, ROWS
from .table1 import check_model_names, run_latent_sweep, run_table1, train_models


def add_cli_arguments(parser):
    """Arguments of ``tricenter reproduce``."""
    parser.add_argument(
        "what",
        choices=["table1", "latent"],
        help="what to reproduce: table1 (its ten rows and figures) or latent (the "
        "latent-size sweep of Fig. S4 alone; in a table1 run's --out, its A^ρ rows "
        "are read back)",
    )
    parser.add_argument("--data", required=True, help="extxyz file of B8 pairs")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="full",
        help="sizes of the run: full (400 training pairs, hours), public (all 1500 "
        "public pairs, every row trained until validation stops improving: a day "
        "or more), quick (minutes)",
    )
    parser.add_argument("--quick", action="store_true", help="same as --preset quick")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything")
    parser.add_argument("--prefix", default="table1", help="name of the outputs")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--collect",
        action="store_true",
        help="only write the table from the rows an interrupted run finished",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="MODEL",
        help="train only these models (rows such as B_NL, or sweep models such as "
        "A_rho_NL_q8) and print their errors: processes sharing --out can split a "
        "run between them, and the full command then reads their rows back",
    )


def run_cli(args) -> int:
    """Run ``tricenter reproduce``."""
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    written = Path(args.out) / (args.prefix + ".json")
    preset_name = "quick" if args.quick else args.preset
    preset = PRESETS[preset_name]
    if args.collect:
        collect_table1(args.out, args.prefix, args.data, preset=preset_name)
        print(f"written to {written}")
        return 0
    common = dict(seed=args.seed, progress=not args.no_progress, preset=preset)
    if args.only:
        check_model_names(args.only, preset)
        rows = train_models(args.data, args.out, args.only, **common)
        print(f"{'model':14s} {'Mean':>7s} {'Diff':>7s}")
        for name, row in rows.items():
            print(f"{name:14s} {row['mean']:7.3f} {row['diff']:7.3f}")
        print(f"rows in {Path(args.out) / 'rows'}")
        return 0
    if args.what == "latent":
        result = run_latent_sweep(args.data, args.out, prefix=args.prefix, **common)
        print(f"{'latent':>6s} {'kind':10s} {'Mean':>7s} {'Diff':>7s}")
        for kind, values in result["latent_sweep"].items():
            for q, row in values.items():
                print(f"{q:>6s} {kind:10s} {row['mean']:7.3f} {row['diff']:7.3f}")
        print(f"written to {Path(args.out) / (args.prefix + '-latent.json')}")
        return 0
    result = run_table1(args.data, args.out, prefix=args.prefix, **common)
    print("Mean, Diff: errors of the partners' mean and difference, relative to the")
    print("std of the energies and of the differences (Diff = 1: no resolution)")
    print(f"{'model':10s} {'Mean':>7s} {'Diff':>7s}   paper Mean   Diff")
    for name in ROWS:
        ours, paper = result["rows"][name], result["paper"][name]
        print(
            f"{name:10s} {ours['mean']:7.3f} {ours['diff']:7.3f}   "
            f"{paper['mean']:10.3f} {paper['diff']:6.3f}"
        )
    print(f"written to {written}")
    return 0


__all__ = ["add_cli_arguments", "run_cli"]
