"""Worker processes of ``md_cost.py``: force checks against finite differences and
timings of energy + forces through ``metatomic_ase.MetatomicCalculator``.

Run as ``python md_cost_worker.py (--worker | --bare-check) TASKS.json --threads N``;
prints one JSON list, one result per task. ``--worker`` imports ``sphericart.torch``
first (SOAP-BPNN's forces are wrong without it), ``--bare-check`` never does.
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--worker", help="tasks to run with sphericart.torch imported")
    mode.add_argument("--bare-check", help="one force check, without sphericart.torch")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, args.threads)
    else:
        bare_check(args.bare_check)
