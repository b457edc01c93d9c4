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


ROOT = Path(__file__).resolve().parents[1]
BUDGET_MIB = 8 * 1024
CASE_TYPES = {"si": [14], "water": [1, 8]}
LABELS = {"soap_bpnn": "SOAP-BPNN", "pet": "PET"}


def _atoms_json(atoms):
    return {
        "numbers": atoms.numbers.tolist(),
        "positions": atoms.positions.tolist(),
        "cell": atoms.cell.array.tolist(),
    }


# ---------------------------------------------------------------- worker side


def _memory_mib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _calculator(task):
    from metatomic_ase import MetatomicCalculator

    return MetatomicCalculator(
        task["model"],
        extensions_directory=task.get("extensions"),
        device=task.get("device", "cpu"),
        check_consistency=False,
    )


def _atoms(structure):
    import ase

    return ase.Atoms(
        structure["numbers"],
        positions=structure["positions"],
        cell=structure["cell"],
        pbc=True,
    )


def _forces(calculator, atoms):
    from ase.calculators.calculator import all_changes

    calculator.calculate(atoms, ["energy", "forces"], all_changes)
    return calculator.results["energy"], calculator.results["forces"]


def force_check(task):
    """Relative error ``max |F - F_fd| / max |F_fd|`` of the forces on a few atoms
    against central differences of the energy; with ``model32``, also the largest
    deviation of the float32 export's forces from the float64 ones."""
    atoms = _atoms(task["structure"])
    calculator = _calculator(task)
    _, forces = _forces(calculator, atoms)
    delta = task["delta"]
    indices = task["atoms"]
    finite = np.zeros((len(indices), 3))
    for row, atom in enumerate(indices):
        for direction in range(3):
            energies = []
            for sign in (1, -1):
                moved = atoms.copy()
                moved.positions[atom, direction] += sign * delta
                energies.append(_forces(calculator, moved)[0])
            finite[row, direction] = -(energies[0] - energies[1]) / (2 * delta)
    error = np.abs(forces[indices] - finite).max() / np.abs(finite).max()
    result = {"relative_error": float(error), "max_force": float(np.abs(finite).max())}
    if task.get("model32") is not None:
        forces32 = _forces(_calculator({**task, "model": task["model32"]}), atoms)[1]
        deviation = np.abs(forces32 - forces).max() / np.abs(forces).max()
        result["float32_relative_deviation"] = float(deviation)
    return result


def timing(task):
    """Median wall time of energy + forces after warm-up, and the peak resident
    memory (VmHWM, reset before the first call where the kernel allows it)."""
    import torch

    atoms = _atoms(task["structure"])
    calculator = _calculator(task)
    cuda = task.get("device", "cpu") == "cuda"
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        reset = True
    except OSError:
        reset = False
    baseline = _memory_mib("VmRSS")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    load = os.getloadavg()[0]
    for _ in range(task["warmup"]):
        _forces(calculator, atoms)
    times = []
    for _ in range(task["repeats"]):
        start = time.perf_counter()
        _forces(calculator, atoms)
        times.append(time.perf_counter() - start)
    result = {
        "times_s": times,
        "median_s": float(np.median(times)),
        "baseline_rss_mib": baseline,
        "peak_rss_mib": _memory_mib("VmHWM"),
        "peak_reset": reset,
        "load_average_1min": load,
    }
    if cuda:
        result["peak_cuda_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def worker(path, threads):
    import sphericart.torch  # noqa: F401 (SOAP-BPNN's forces need it imported)
    import torch

    torch.set_num_threads(threads)
    results = []
    for task in json.loads(Path(path).read_text()):
        if not task.get("import_sphericart", True):
            raise ValueError("tasks without sphericart.torch run with --bare-check")
        run = force_check if task["kind"] == "check" else timing
        try:
            results.append(run(task))
        except Exception as error:  # reported per task, the others still run
            results.append({"error": f"{type(error).__name__}: {error}"})
    print(json.dumps(results))


def bare_check(path):
    """A force check in a process that never imports ``sphericart.torch``."""
    import torch

    torch.set_num_threads(1)
    task = json.loads(Path(path).read_text())[0]
    try:
        print(json.dumps([force_check(task)]))
    except Exception as error:
        print(json.dumps([{"error": f"{type(error).__name__}: {error}"}]))


# ---------------------------------------------------------------- driver side


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
        [sys.executable, __file__, *mode, "--threads", str(threads)],
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
                            "skipped": f"extrapolated {time_guess:.0f} s per call, "
                            f"{memory_guess:.0f} MiB over the budget "
                            f"({args.max_call_seconds} s, {BUDGET_MIB} MiB)",
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


def ratios(timings):
    """tricenter's median time over PET's and SOAP-BPNN's, same case, dtype and
    thread count."""
    table = {}
    for t in timings:
        if "median_s" in t:
            table[(t["model"], t["case"], t["dtype"], t["threads"])] = t["median_s"]
    rows = []
    for (model, case, dtype, threads), value in sorted(table.items()):
        if not model.startswith("tricenter "):
            continue
        row = {"model": model, "case": case, "dtype": dtype, "threads": threads}
        for label in LABELS.values():
            other = table.get((label, case, dtype, threads))
            row[f"vs_{label}"] = None if other is None else value / other
        rows.append(row)
    return rows


def fits(scaling):
    """Per model: time per atom, the exponent of a log-log fit of time against
    atoms, and a linear fit of the peak memory, extrapolated to 8 GiB."""
    summary = {}
    for model in dict.fromkeys(s["model"] for s in scaling):
        measured = [s for s in scaling if s["model"] == model and "median_s" in s]
        atoms = np.array([s["n_atoms"] for s in measured], dtype=float)
        seconds = np.array([s["median_s"] for s in measured])
        peak = np.array([s["peak_rss_mib"] for s in measured])
        entry = {
            "n_atoms": atoms.astype(int).tolist(),
            "median_s": seconds.tolist(),
            "us_per_atom": (1e6 * seconds / atoms).tolist(),
            "peak_rss_mib": peak.tolist(),
            "skipped": [
                s["n_atoms"] for s in scaling if s["model"] == model and "skipped" in s
            ],
        }
        if len(measured) >= 2:
            entry["time_exponent"] = float(
                np.polyfit(np.log(atoms), np.log(seconds), 1)[0]
            )
            slope, intercept = np.polyfit(atoms, peak, 1)
            entry["memory_fit_mib"] = {"intercept": intercept, "per_atom": slope}
            if slope > 0:
                largest = (BUDGET_MIB - intercept) / slope
                repeat = int(np.floor((largest / 8) ** (1 / 3)))
                entry["largest_si_in_8gib"] = {
                    "n_atoms_extrapolated": int(largest),
                    "cubic_repeat": repeat,
                    "n_atoms_cubic": 8 * repeat**3,
                }
        summary[model] = entry
    return summary


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 repeat")
    parser.add_argument(
        "--tricenter",
        nargs="+",
        default=["triplet-energy"],
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
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--bare-check", default=None, help=argparse.SUPPRESS)
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
    if args.worker is not None:
        return worker(args.worker, args.threads[0])
    if args.bare_check is not None:
        return bare_check(args.bare_check)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("CUDA is not available on this machine: skipping the CUDA benchmark")
            return 0
    from md_cost_report import write_outputs

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
