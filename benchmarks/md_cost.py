"""Cost of one MD step (energy + forces through metatomic-ase) of tricenter
potentials against metatrain's SOAP-BPNN and PET, all in one invocation::

    python benchmarks/md_cost.py                  # full (slow: see --max-call-seconds)
    python benchmarks/md_cost.py --quick          # small sizes, one repeat
    python benchmarks/md_cost.py --device cuda    # the same on a GPU (skips without)

Every model is exported to a file (tricenter with :py:func:`tricenter.export.export`,
metatrain's untrained models as ``mtt train`` exports them) and run by
``metatomic_ase.MetatomicCalculator`` in worker processes that import
``sphericart.torch`` (SOAP-BPNN's forces are wrong without it; the run checks that
too) and set the number of torch threads once. Before any timing, the forces of
each float64 export are compared with central finite differences of its energy on
a small system; a model above ``--force-tolerance`` is reported as failed and not
timed. Outputs ``<output>.json`` (every number), ``<output>.md`` and ``<output>.png``
(time against atoms, log-log).

Cases: a rattled diamond Si cell (512 atoms; 64 with ``--quick``) and a box of
liquid-like water (64 molecules at 1 g/cm³; 8 with ``--quick``), in each dtype and
thread count; then Si cells of growing size (float64, first thread count) for the
time per atom, a fitted exponent, the peak memory and the largest Si cell whose
peak stays in 8 GiB (extrapolated from a linear fit of the measured peaks). In a
full run every (model, dtype, threads, structure) runs in its own process, so that
its peak memory is its own.
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


sys.path.insert(0, str(Path(__file__).resolve().parent))
import md_cost_models as models  # noqa: E402
from md_cost_report import BUDGET_MIB, fits, ratios, render, write_outputs  # noqa: E402


ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().parent / "md_cost_worker.py"
CASE_TYPES = {"si": [14], "water": [1, 8]}
LABELS = {"soap_bpnn": "SOAP-BPNN", "pet": "PET"}


def _atoms_json(atoms):
    return {
        "numbers": atoms.numbers.tolist(),
        "positions": atoms.positions.tolist(),
        "cell": atoms.cell.array.tolist(),
    }


def run_workers(tasks, threads, folder, bare=False):
    """Run ``tasks`` in one worker process with ``threads`` torch threads."""
    if len(tasks) == 0:
        return []
    handle, path = tempfile.mkstemp(suffix=".json", dir=folder)
    with os.fdopen(handle, "w") as file:
        json.dump(tasks, file)
    environment = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        environment[name] = str(threads)
    mode = ["--bare-check", path] if bare else ["--worker", path]
    process = subprocess.run(
        [sys.executable, str(WORKER), *mode, "--threads", str(threads)],
        capture_output=True,
        text=True,
        env=environment,
    )
    if process.returncode != 0:
        message = process.stderr.strip().splitlines()[-1:] or ["no output"]
        return [{"error": f"worker failed: {message[0]}"}] * len(tasks)
    return json.loads(process.stdout.strip().splitlines()[-1])


def export_all(args, folder):
    """Export every model for every case's types and dtype; ``{model: {case:
    {dtype: path}}}`` plus the build errors."""
    exported, errors = {}, {}
    basis = {
        key: value
        for key, value in (
            ("max_angular", args.max_angular),
            ("max_radial", args.max_radial),
        )
        if value is not None
    }
    names = [f"tricenter {name}" for name in args.tricenter] + [
        LABELS[a] for a in args.baselines
    ]
    for label in names:
        exported[label] = {}
        for case in args.cases:
            types = CASE_TYPES[case]
            exported[label][case] = {}
            for dtype_name in args.dtypes:
                import torch

                dtype = getattr(torch, dtype_name)
                path = folder / label.replace(" ", "-") / case / f"{dtype_name}.pt"
                path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    if label.startswith("tricenter "):
                        name = label.split(" ", 1)[1]
                        models.export_tricenter(
                            name, types, args.cutoff, dtype, path, basis
                        )
                    else:
                        architecture = {v: k for k, v in LABELS.items()}[label]
                        models.export_metatrain(
                            architecture, types, args.cutoff, dtype, path
                        )
                    exported[label][case][dtype_name] = str(path)
                except Exception as error:
                    errors[label] = f"export failed: {type(error).__name__}: {error}"
    return exported, errors


def check_systems(quick):
    """Small systems of each case for the finite-difference check."""
    return {
        "si": models.silicon(1, seed=1),
        "water": models.water_box(4 if quick else 8, seed=1),
    }


def _extensions(path):
    folder = Path(path).parent / "extensions"
    return str(folder) if folder.is_dir() else None


def run_checks(args, exported, folder):
    systems = check_systems(args.quick)
    tasks, keys = [], []
    for label, cases in exported.items():
        for case, paths in cases.items():
            if "float64" not in paths:
                continue
            tasks.append(
                {
                    "kind": "check",
                    "model": paths["float64"],
                    "model32": paths.get("float32"),
                    "extensions": _extensions(paths["float64"]),
                    "structure": _atoms_json(systems[case]),
                    "atoms": [0, 1, 2],
                    "delta": args.delta,
                }
            )
            keys.append((label, case))
    checks = {label: {} for label in exported}
    for (label, case), result in zip(keys, run_workers(tasks, 1, folder)):
        passed = result.get("relative_error", np.inf) <= args.force_tolerance
        checks[label][case] = {**result, "passed": bool(passed)}
    verification = None
    soap = exported.get("SOAP-BPNN", {}).get("si", {})
    if "float64" in soap:
        index = keys.index(("SOAP-BPNN", "si"))
        task = {**tasks[index], "model32": None}
        bare = run_workers([task], 1, folder, bare=True)[0]
        verification = {
            "with_sphericart_import": checks["SOAP-BPNN"]["si"],
            "without_sphericart_import": bare,
        }
    return checks, verification


def _timing_task(path, atoms, args):
    return {
        "kind": "time",
        "model": path,
        "extensions": _extensions(path),
        "structure": _atoms_json(atoms),
        "repeats": args.repeats,
        "warmup": args.warmup,
        "device": args.device,
    }


def run_timings(args, exported, checks, folder):
    cases = {
        "si": lambda: models.silicon(args.si_repeat),
        "water": lambda: models.water_box(args.water_molecules, seed=0),
    }
    cases = {case: cases[case]() for case in args.cases}
    plan = []
    for label in exported:
        for case, atoms in cases.items():
            if not checks[label].get(case, {}).get("passed", False):
                continue
            for dtype in args.dtypes:
                for threads in args.threads:
                    path = exported[label][case][dtype]
                    key = {
                        "model": label,
                        "case": case,
                        "n_atoms": len(atoms),
                        "dtype": dtype,
                        "threads": threads,
                    }
                    plan.append((key, _timing_task(path, atoms, args)))
    results = []
    if args.quick:
        for threads in args.threads:
            group = [(k, t) for k, t in plan if k["threads"] == threads]
            outcome = run_workers([t for _, t in group], threads, folder)
            results += [{**k, **r} for (k, _), r in zip(group, outcome)]
    else:
        for key, task in plan:
            outcome = run_workers([task], key["threads"], folder)[0]
            results.append({**key, **outcome})
            _progress(results[-1])
    return results


def _progress(result):
    if "median_s" in result:
        print(
            f"{result['model']:>28} {result['case']:>6} {result['n_atoms']:>5} "
            f"{result['dtype']} {result['threads']}t {result['median_s']:.3f} s",
            file=sys.stderr,
        )


def run_scaling(args, exported, checks, timings, folder):
    """Si cells of growing size at the first dtype and thread count; a size is
    skipped when the linear extrapolation of the last one passes the time or
    memory budget."""
    dtype, threads = args.dtypes[0], args.threads[0]
    series, pending = [], []
    if "si" not in args.cases:
        return series
    for label in exported:
        if not checks[label].get("si", {}).get("passed", False):
            continue
        path = exported[label]["si"][dtype]
        last = None
        for repeat in args.sizes:
            atoms = models.silicon(repeat)
            key = {
                "model": label,
                "case": "si-scaling",
                "n_atoms": len(atoms),
                "dtype": dtype,
                "threads": threads,
            }
            if last is not None and "median_s" in last:
                factor = len(atoms) / last["n_atoms"]
                time_guess = factor * last["median_s"]
                memory_guess = factor * (
                    last["peak_rss_mib"] - last["baseline_rss_mib"]
                )
                if time_guess > args.max_call_seconds or memory_guess > BUDGET_MIB:
                    series.append(
                        {
                            **key,
                            "skipped": f"skipped: extrapolated {time_guess:.0f} s per "
                            f"call (budget {args.max_call_seconds:g} s), "
                            f"{memory_guess:.0f} MiB above the baseline (budget "
                            f"{BUDGET_MIB} MiB)",
                            "extrapolated_s": time_guess,
                            "extrapolated_mib": memory_guess,
                        }
                    )
                    continue
            reused = [
                t
                for t in timings
                if t["model"] == label
                and t["case"] == "si"
                and t["n_atoms"] == len(atoms)
                and t["dtype"] == dtype
                and t["threads"] == threads
                and "median_s" in t
            ]
            if len(reused) == 1:
                result = {**reused[0], "case": "si-scaling"}
            elif args.quick:
                pending.append((len(series), _timing_task(path, atoms, args)))
                result = key
            else:
                task = _timing_task(path, atoms, args)
                result = {**key, **run_workers([task], threads, folder)[0]}
                _progress(result)
            series.append(result)
            last = result
    # a quick run times every size of every model in one process
    outcome = run_workers([task for _, task in pending], threads, folder)
    for (index, _), measured in zip(pending, outcome):
        series[index] = {**series[index], **measured}
    return series


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 repeat")
    parser.add_argument(
        "--tricenter",
        nargs="+",
        default=["potential"],
        help=f"tricenter models: {sorted(models.TRICENTER)} or package.module:function",
    )
    parser.add_argument(
        "--baselines",
        nargs="*",
        default=list(models.METATRAIN),
        choices=models.METATRAIN,
    )
    parser.add_argument(
        "--cutoff", type=float, default=4.5, help="cutoff of all models"
    )
    parser.add_argument("--max-angular", type=int, default=None)
    parser.add_argument("--max-radial", type=int, default=None)
    parser.add_argument(
        "--cases", nargs="+", default=["si", "water"], choices=CASE_TYPES
    )
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=None, help="timed calls (5)")
    # TorchScript's profiling executor optimises on the second call
    parser.add_argument("--warmup", type=int, default=None, help="warm-up calls (2)")
    parser.add_argument("--si-repeat", type=int, default=None, help="Si cell: 4 (512)")
    parser.add_argument("--water-molecules", type=int, default=None, help="64")
    parser.add_argument(
        "--sizes", nargs="+", type=int, default=None, help="Si repeats of the scaling"
    )
    parser.add_argument("--max-call-seconds", type=float, default=120.0)
    parser.add_argument("--force-tolerance", type=float, default=1e-5)
    parser.add_argument("--delta", type=float, default=1e-4, help="FD step (Å)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--output", default=None, help="docs/results/md-cost[-cuda]")
    parser.add_argument(
        "--from-json",
        default=None,
        help="write the markdown and plot of an earlier run's JSON (no timing)",
    )
    args = parser.parse_args(argv)
    quick = {"repeats": 1, "warmup": 2, "si_repeat": 2, "water_molecules": 8}
    full = {"repeats": 5, "warmup": 2, "si_repeat": 4, "water_molecules": 64}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.sizes is None:
        args.sizes = [1, 2] if args.quick else [2, 3, 4, 5, 6, 8]
    if args.output is None:
        suffix = "-cuda" if args.device == "cuda" else ""
        args.output = str(ROOT / "docs" / "results" / f"md-cost{suffix}")
    return args


def main(argv=None):
    args = parse(argv)
    if args.from_json is not None:
        source = Path(args.from_json)
        render(json.loads(source.read_text()), source.with_suffix(""))
        return 0
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("CUDA is not available on this machine: skipping the CUDA benchmark")
            return 0

    started = time.time()
    meta = {
        "command": "python benchmarks/md_cost.py "
        + shlex.join(sys.argv[1:] if argv is None else argv),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu_count": os.cpu_count(),
        "load_average_start": list(os.getloadavg()),
        "quick": args.quick,
        "device": args.device,
        "cases": args.cases,
        "dtypes": args.dtypes,
        "threads": args.threads,
        "cutoff": args.cutoff,
        "basis": {"max_angular": args.max_angular, "max_radial": args.max_radial},
        "repeats": args.repeats,
        "warmup": args.warmup,
        "force_tolerance": args.force_tolerance,
        "memory": "peak resident memory (VmHWM) of the worker; "
        + ("one process per thread count" if args.quick else "one process per timing"),
        "versions": _versions(),
    }
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        exported, errors = export_all(args, folder)
        checks, verification = run_checks(args, exported, folder)
        timings = run_timings(args, exported, checks, folder)
        scaling = run_scaling(args, exported, checks, timings, folder)
    meta["load_average_end"] = list(os.getloadavg())
    meta["wall_s"] = time.time() - started
    result = {
        "meta": meta,
        "export_errors": errors,
        "force_checks": checks,
        "sphericart_verification": verification,
        "timings": timings,
        "ratios": ratios(timings),
        "scaling": scaling,
        "scaling_fits": fits(scaling),
    }
    write_outputs(result, Path(args.output))
    return 0


def _versions():
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in (
        "torch",
        "metatomic-torch",
        "metatomic-ase",
        "metatrain",
        "tricenter",
    ):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


if __name__ == "__main__":
    sys.exit(main())
