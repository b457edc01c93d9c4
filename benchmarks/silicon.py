"""The silicon comparison: the tricenter potential against metatrain's SOAP-BPNN and
PET on the ``pyxtal-ff`` silicon data, each trained with the same wall-clock budget
on one thread, then evaluated through the same engine (metatomic-ase).

Steps, each resumable (a killed step is run again with the same command)::

    python benchmarks/silicon.py prepare runs/silicon
    python benchmarks/silicon.py train runs/silicon --model triplet --size 4205
    python benchmarks/silicon.py train runs/silicon --model soap-bpnn --size 4205
    python benchmarks/silicon.py train runs/silicon --model pet --size 4205
    python benchmarks/silicon.py evaluate runs/silicon
    python benchmarks/silicon.py md runs/silicon --model triplet --size 4205 \\
        --temperature 1500
    python benchmarks/silicon.py nve runs/silicon --model triplet --size 4205 \\
        --temperature 1500 --timestep 1
    python benchmarks/silicon.py report runs/silicon docs/results/silicon

``prepare`` writes the fixed split of :py:func:`tricenter.datasets.silicon_split`
and nested training subsets (a seeded permutation of the training structures; the
first ``size`` of them). ``train`` gives a run of ``size`` training structures a
budget of ``--minutes`` (default: :py:data:`FULL_BUDGET` minutes times the fraction
of the full training set, at least :py:data:`MIN_BUDGET`). The tricenter potential
stops itself at the budget (``training.time_limit``, with its cosine schedule fitted
to it); metatrain's runs get the number of epochs that the budget fits at the epoch
times of :py:data:`EPOCH_SECONDS` (their cosine schedule needs it up front) and are
stopped at the budget if they have not finished, keeping their last checkpoint.
Validation decides early stopping and the kept model; the test set is read only by
``evaluate``. ``md`` runs Langevin NVT of Si-216, then 1 ps of NVE; ``nve`` runs NVE
again from the state the NVT run ended in, with another time step, to tell a drift
of the model from one of the integrator.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Tuple

import numpy as np


#: the training budget of a run on the full training set, in minutes
FULL_BUDGET = 40.0
#: the smallest budget of a run, in minutes
MIN_BUDGET = 5.0
#: seconds per epoch on the full training set, one thread, next to another run
EPOCH_SECONDS = {"soap-bpnn": 21.0, "pet": 250.0}
#: training-set sizes of the learning curves
SIZES = (500, 1500, 4205)
MODELS = ("triplet", "soap-bpnn", "pet")
CUTOFF = 4.5
#: seed of the permutation that orders the training structures for the subsets
SUBSET_SEED = 1


def _data(folder: Path) -> Path:
    return folder / "data"


def prepare(folder: Path):
    """Write the split and the nested training subsets."""
    import ase.io

    from tricenter.datasets import write_silicon_split

    paths = write_silicon_split(_data(folder))
    train = ase.io.read(paths["train"], ":")
    order = np.random.default_rng(SUBSET_SEED).permutation(len(train))
    for size in SIZES:
        if size > len(train):
            raise ValueError(f"size {size} > {len(train)} training structures")
        ase.io.write(
            _data(folder) / f"train-{size}.xyz",
            [train[i] for i in order[:size]],
            format="extxyz",
        )
    print(f"wrote {', '.join(str(p) for p in sorted(_data(folder).iterdir()))}")


def _sets(folder: Path, size: int) -> dict:
    data = _data(folder).resolve()

    def part(name):
        return {
            "systems": {"read_from": str(data / name), "length_unit": "angstrom"},
            "targets": {
                "energy": {"key": "energy", "unit": "eV", "forces": {"key": "forces"}}
            },
        }

    return {
        "training_set": part(f"train-{size}.xyz"),
        "validation_set": part("val.xyz"),
        # the test set is read by `evaluate` only
        "test_set": 0.0,
    }


def budget_minutes(size: int, n_full: int = SIZES[-1]) -> float:
    """The default budget of a run on ``size`` training structures."""
    return max(MIN_BUDGET, FULL_BUDGET * size / n_full)


def _write_yaml(path: Path, values: dict):
    import yaml

    path.write_text(yaml.safe_dump(values, sort_keys=False))


def _record(run: Path, **values):
    path = run / "run.json"
    record = json.loads(path.read_text()) if path.exists() else {}
    record.update(values)
    path.write_text(json.dumps(record, indent=1))
    return record


def train(
    folder: Path,
    model: str,
    size: int,
    minutes: float,
    epochs=None,
    frame_radius=None,
    channels=None,
):
    """Train one model on ``size`` structures within ``minutes`` of wall-clock;
    ``frame_radius`` and ``channels`` set the tricenter potential's frame cutoff and
    projected channels (a variant, in its own folder ``triplet-rfR-cC-size``)."""
    import yaml

    if (frame_radius is not None or channels is not None) and model != "triplet":
        raise ValueError(
            "--frame-radius and --channels apply to the tricenter potential only"
        )
    if channels is not None and channels <= 0:
        raise ValueError(f"--channels must be positive, got {channels}")
    name = model if frame_radius is None else f"{model}-rf{frame_radius:g}"
    name = name if channels is None else f"{name}-c{channels}"
    run = (folder / f"{name}-{size}").resolve()
    run.mkdir(parents=True, exist_ok=True)
    record = _record(
        run,
        model=model,
        size=size,
        budget_minutes=minutes,
        frame_radius=frame_radius,
        channels=channels,
    )
    spent = record.get("seconds", 0.0)
    if record.get("done"):
        print(f"{run} is done")
        return
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if model == "triplet":
        options = _sets(folder, size)
        options.pop("test_set")
        options.update(
            {
                "model": {
                    "type": "potential",
                    "hypers": _hypers(frame_radius),
                    **({} if channels is None else {"channels": channels}),
                },
                "training": {
                    "epochs": 100000,
                    "batch_size": 16,
                    "learning_rate": 1e-3,
                    "scheduler": "cosine",
                    "min_learning_rate": 1e-5,
                    "early_stopping": 100000,
                    "time_limit": 60.0 * minutes,
                    "dtype": "float32",
                    "threads": 1,
                    "progress": False,
                },
                "output": str(run / "output"),
            }
        )
        _write_yaml(run / "options.yaml", options)
        command = [sys.executable, "-m", "tricenter", "train", "options.yaml"]
        timeout = None
    else:
        if epochs is None:
            seconds = EPOCH_SECONDS[model] * size / SIZES[-1]
            epochs = max(1, int(0.95 * 60.0 * minutes / seconds))
        options = {
            "seed": 0,
            "base_precision": 32,
            "architecture": {
                "name": model.replace("-", "_"),
                "model": (
                    {"soap": {"cutoff": {"radius": CUTOFF}}}
                    if model == "soap-bpnn"
                    else {"cutoff": CUTOFF}
                ),
                "training": {"num_epochs": epochs, "checkpoint_interval": 1},
            },
            **_sets(folder, size),
        }
        _write_yaml(run / "options.yaml", options)
        command = ["mtt", "train", "options.yaml", "-o", "model.pt"]
        if list(run.glob("outputs/*/*/model_*.ckpt")):
            command += ["--restart", "auto"]
        timeout = max(1.0, 60.0 * minutes - spent)
    start = time.perf_counter()
    with open(run / "train.log", "a") as log:
        try:
            code = subprocess.run(
                command, cwd=run, env=env, stdout=log, stderr=log, timeout=timeout
            ).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    seconds = spent + time.perf_counter() - start
    record = _record(run, seconds=seconds, exit=code)
    if model == "triplet" and code == 0:
        _export_triplet(run)
    elif model != "triplet" and not (run / "model.pt").exists():
        _export_last_checkpoint(run)
    _record(
        run,
        done=(run / "model.pt").exists(),
        options=yaml.safe_load((run / "options.yaml").read_text()),
    )
    print(json.dumps(_record(run), indent=1))


def _hypers(frame_radius) -> dict:
    """The default potential's hypers, with ``frame_radius`` when given."""
    from tricenter.models.build import default_options

    hypers = default_options("potential")["hypers"]
    if frame_radius is not None:
        hypers["frame_cutoff"]["radius"] = float(frame_radius)
    return hypers


def _export_triplet(run: Path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tricenter",
            "export",
            str(run / "output"),
            "-o",
            str(run / "model.pt"),
            "--dtype",
            "float32",
        ],
        check=True,
    )


def _export_last_checkpoint(run: Path):
    checkpoints = glob.glob(str(run / "outputs/*/*/model_*.ckpt"))
    if not checkpoints:
        return
    last = max(checkpoints, key=lambda p: int(Path(p).stem.split("_")[-1]))
    subprocess.run(["mtt", "export", last, "-o", "model.pt"], cwd=run, check=True)
    _record(run, exported_from=last)


def diamond_points(frames) -> list:
    """``(volume, energy)`` per atom of the structures that are diamond silicon:
    every atom with exactly 4, 12 and 12 neighbours at 1, (8/3)^1/2 and (11/3)^1/2
    times the shortest distance (2 % tolerance), and none in between."""
    from ase.neighborlist import neighbor_list

    shells = np.sqrt([1.0, 8 / 3, 11 / 3])
    points = []
    for atoms in frames:
        first, distances = neighbor_list("id", atoms, 5.0)
        if len(distances) == 0:
            continue
        distances = distances / distances.min()
        diamond = True
        for atom in range(len(atoms)):
            mine = distances[first == atom]
            mine = mine[mine < shells[-1] + 0.02]
            counts = [int(np.sum(np.abs(mine - shell) < 0.02)) for shell in shells]
            if counts != [4, 12, 12] or len(mine) != 28:
                diamond = False
                break
        if diamond:
            n = len(atoms)
            points.append((atoms.get_volume() / n, atoms.get_potential_energy() / n))
    return sorted(points)


def _fit_eos(volumes, energies) -> dict:
    from ase.eos import EquationOfState
    from ase.units import GPa

    try:
        v0, e0, b = EquationOfState(volumes, energies, eos="birchmurnaghan").fit()
    except (RuntimeError, ValueError):
        # no minimum that the equation of state fits: reported as missing
        return None
    return {"v0": float(v0), "e0": float(e0), "bulk_modulus_gpa": float(b / GPa)}


#: lattice parameters (Å) of the energy-volume curve of diamond silicon: volumes
#: within about ±12 % of the data set's diamond minimum
LATTICE = np.linspace(5.25, 5.70, 10)


def _calculator(model: Path):
    import sphericart.torch  # noqa: F401 (SOAP-BPNN's forces need it imported)
    from metatomic_ase import MetatomicCalculator

    extensions = model.parent / "extensions"
    return MetatomicCalculator(
        str(model),
        extensions_directory=str(extensions) if extensions.exists() else None,
        check_consistency=False,
    )


def _time_si512(calculator, repeats=5, warmup=3) -> dict:
    import ase.build

    atoms = ase.build.bulk("Si", "diamond", a=5.43, cubic=True).repeat(4)
    atoms.rattle(0.05, seed=0)
    atoms.calc = calculator
    # TorchScript optimises a model during its first calls: one warm-up call left
    # some timings twice too long
    for step in range(warmup):
        atoms.rattle(0.001, seed=100 + step)
        atoms.get_forces()
    times = []
    for _ in range(repeats):
        atoms.rattle(0.001, seed=len(times))
        start = time.perf_counter()
        atoms.get_forces()
        times.append(time.perf_counter() - start)
    return {"si512_seconds": float(np.median(times)), "load": os.getloadavg()[0]}


def _test_errors(calculator, test) -> Tuple[dict, np.ndarray, np.ndarray]:
    """Errors on the test structures, and the (reference, predicted) energies per
    atom and force components."""
    energies, forces = [], []
    for atoms in test:
        reference = (atoms.get_potential_energy(), atoms.get_forces())
        atoms = atoms.copy()
        atoms.calc = calculator
        n = len(atoms)
        energies.append((reference[0] / n, atoms.get_potential_energy() / n))
        forces.append(np.stack([reference[1], atoms.get_forces()], axis=-1))
    energies = np.array(energies)
    forces = np.concatenate(forces).reshape(-1, 2)
    e_error = energies[:, 1] - energies[:, 0]
    f_error = forces[:, 1] - forces[:, 0]
    errors = {
        "energy_mae_mev_atom": 1000 * float(np.mean(np.abs(e_error))),
        "energy_rmse_mev_atom": 1000 * float(np.sqrt(np.mean(e_error**2))),
        "forces_mae_mev_a": 1000 * float(np.mean(np.abs(f_error))),
        "forces_rmse_mev_a": 1000 * float(np.sqrt(np.mean(f_error**2))),
    }
    return errors, energies, forces


def _diamond_curve(calculator) -> dict:
    import ase.build

    curve = []
    for a in LATTICE:
        atoms = ase.build.bulk("Si", "diamond", a=a)
        atoms.calc = calculator
        curve.append((atoms.get_volume() / 2, atoms.get_potential_energy() / 2))
    curve = np.array(curve)
    return {"eos": _fit_eos(curve[:, 0], curve[:, 1]), "curve": curve.tolist()}


def evaluate(folder: Path, timing: bool = False, again: bool = False):
    """Test errors, parity data and the energy-volume curve of every finished run
    not evaluated yet (``again``: of every finished run); with ``timing``, energy +
    forces on Si-512 of the runs not timed yet (run it on an idle machine)."""
    import ase.io
    import torch

    torch.set_num_threads(1)
    test = ase.io.read(_data(folder) / "test.xyz", ":")
    for run in sorted(p.parent for p in folder.glob("*/run.json")):
        record = json.loads((run / "run.json").read_text())
        result = record.get("evaluation", {})
        errors = again or not result
        time_it = timing and (again or "si512_seconds" not in result)
        if not record.get("done") or not (errors or time_it):
            continue
        calculator = _calculator(run / "model.pt")
        if errors:
            result, energies, forces = _test_errors(calculator, test)
            result.update(_diamond_curve(calculator))
            np.savez_compressed(run / "parity.npz", energies=energies, forces=forces)
        if time_it:
            result.update(_time_si512(calculator))
        _record(run, evaluation=result)
        print(
            f"{run.name}: E {result['energy_rmse_mev_atom']:.1f} meV/atom, "
            f"F {result['forces_rmse_mev_a']:.1f} meV/Å, "
            f"B {(result['eos'] or {}).get('bulk_modulus_gpa', float('nan')):.1f} GPa, "
            f"Si-512 {result.get('si512_seconds', float('nan')):.3f} s"
        )
    frames = []
    for part in ("train", "val", "test"):
        frames += ase.io.read(_data(folder) / f"{part}.xyz", ":")
    points = diamond_points(frames)
    (folder / "diamond.json").write_text(json.dumps(points))


def _rdf(frames, r_max=5.0, bins=100):
    """Radial distribution function averaged over periodic frames."""
    from ase.neighborlist import neighbor_list

    edges = np.linspace(0.0, r_max, bins + 1)
    histogram = np.zeros(bins)
    for atoms in frames:
        distances = neighbor_list("d", atoms, r_max)
        histogram += np.histogram(distances, edges)[0]
    atoms = frames[0]
    density = len(atoms) / atoms.get_volume()
    shells = 4 / 3 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    g = histogram / (len(frames) * len(atoms) * density * shells)
    return 0.5 * (edges[1:] + edges[:-1]), g


def md(
    folder: Path,
    model: str,
    size: int,
    temperature: float,
    picoseconds: float,
    timestep: float = 2.0,
    nve_picoseconds: float = 1.0,
):
    """Langevin NVT of Si-216 at ``temperature`` for ``picoseconds``, then an NVE
    segment; resumable from ``md-T.npz`` (the thermostat's noise after a resume is
    a new draw)."""
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import thermalize_momenta

    run = folder / f"{model}-{size}"
    state_path = run / f"md-{temperature:.0f}.npz"
    atoms = _si216(run)
    n_steps = int(round(picoseconds * 1000 / timestep))
    every = int(round(50 / timestep))
    state = {"step": 0, "min_distance": [], "temperature": [], "seconds": 0.0}
    samples = []
    if state_path.exists():
        saved = _restore(atoms, state_path)
        state = saved["state"].item()
        samples = list(saved["samples"])
    else:
        thermalize_momenta(
            atoms, temperature_K=temperature, rng=np.random.default_rng(0)
        )
    dynamics = Langevin(
        atoms,
        timestep * units.fs,
        temperature_K=temperature,
        friction=0.01 / units.fs,
        fixcm=False,
        rng=np.random.default_rng(state["step"]),
    )
    equilibration = int(round(2000 / timestep))

    def save():
        np.savez(
            state_path,
            positions=atoms.positions,
            momenta=atoms.get_momenta(),
            state=np.array(state, dtype=object),
            samples=np.array(samples),
        )

    finished = state["step"] >= n_steps
    start = time.perf_counter()
    while state["step"] < n_steps:
        dynamics.run(every)
        state["step"] += every
        distances = atoms.get_all_distances(mic=True)
        state["min_distance"].append(float(distances[distances > 0].min()))
        state["temperature"].append(float(atoms.get_temperature()))
        if state["step"] > equilibration:
            samples.append(atoms.positions.copy())
        if state["step"] % (10 * every) == 0:
            state["seconds"] += time.perf_counter() - start
            start = time.perf_counter()
            save()
            print(
                f"{run.name} {temperature:.0f} K: "
                f"{state['step'] * timestep / 1000:.1f} ps"
            )
    state["seconds"] += time.perf_counter() - start
    save()
    drift, fluctuation = _nve(atoms, timestep, nve_picoseconds)
    frames = []
    for positions in samples:
        frame = atoms.copy()
        frame.positions = positions
        frames.append(frame)
    r, g = _rdf(frames) if frames else (np.array([]), np.array([]))
    result = {
        "temperature_k": temperature,
        "picoseconds": state["step"] * timestep / 1000,
        "timestep_fs": timestep,
        "mean_temperature_k": float(
            np.mean(state["temperature"][len(state["temperature"]) // 5 :])
        ),
        "min_distance_a": float(min(state["min_distance"])),
        "stable": bool(min(state["min_distance"]) >= 1.8),
        "nve_drift_mev_atom_ps": drift,
        "nve_fluctuation_mev_atom": fluctuation,
        "seconds": state["seconds"],
        "seconds_per_step": state["seconds"] / max(state["step"], 1),
        "rdf": [r.tolist(), g.tolist()],
    }
    record = json.loads((run / "run.json").read_text())
    previous = record.setdefault("md", {}).get(f"{temperature:.0f}", {})
    if finished and "nve" in previous:
        # the NVT run ended where it had: the nve step's checks still hold
        result["nve"] = previous["nve"]
    record["md"][f"{temperature:.0f}"] = result
    (run / "run.json").write_text(json.dumps(record, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "rdf"}, indent=1))


def _si216(run: Path):
    """Diamond Si-216 with the run's model on one thread, its centre of mass fixed."""
    import ase.build
    import torch
    from ase.constraints import FixCom

    torch.set_num_threads(1)
    atoms = ase.build.bulk("Si", "diamond", a=5.43, cubic=True).repeat(3)
    atoms.calc = _calculator(run / "model.pt")
    atoms.set_constraint(FixCom())
    return atoms


def _restore(atoms, path: Path):
    """Positions and momenta of a saved MD state into ``atoms``; the saved arrays."""
    saved = np.load(path, allow_pickle=True)
    atoms.positions = saved["positions"]
    atoms.set_momenta(saved["momenta"])
    return saved


def _nve(atoms, timestep: float, picoseconds: float) -> Tuple[float, float]:
    """Velocity Verlet from the state of ``atoms``: the drift of the total energy
    (meV/atom/ps, a linear fit) and its standard deviation (meV/atom)."""
    from ase import units
    from ase.md.verlet import VelocityVerlet

    dynamics = VelocityVerlet(atoms, timestep * units.fs)
    energies = []
    for _ in range(int(round(picoseconds * 1000 / timestep))):
        dynamics.run(1)
        energies.append(atoms.get_total_energy() / len(atoms))
    times = np.arange(len(energies)) * timestep / 1000
    drift = np.polyfit(times, energies, 1)[0]
    return 1000 * float(drift), 1000 * float(np.std(energies))


def nve(
    folder: Path,
    model: str,
    size: int,
    temperature: float,
    timestep: float,
    picoseconds: float = 1.0,
):
    """NVE of Si-216 with another time step, from the state that the NVT run of
    ``md`` at ``temperature`` ended in: is a drift the model's or the time step's?"""
    run = folder / f"{model}-{size}"
    record = json.loads((run / "run.json").read_text())
    if f"{temperature:.0f}" not in record.get("md", {}):
        raise ValueError(
            f"no finished MD of {run.name} at {temperature:.0f} K: run the md step "
            "first"
        )
    atoms = _si216(run)
    _restore(atoms, run / f"md-{temperature:.0f}.npz")
    drift, fluctuation = _nve(atoms, timestep, picoseconds)
    result = {
        "timestep_fs": timestep,
        "picoseconds": picoseconds,
        "drift_mev_atom_ps": drift,
        "fluctuation_mev_atom": fluctuation,
    }
    runs = record["md"][f"{temperature:.0f}"].setdefault("nve", {})
    runs[f"{timestep:g}"] = result
    (run / "run.json").write_text(json.dumps(record, indent=1))
    print(json.dumps(result, indent=1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)
    step = steps.add_parser("prepare", help="write the split and the subsets")
    step.add_argument("folder", type=Path)
    step = steps.add_parser("train", help="train one model on one training size")
    step.add_argument("folder", type=Path)
    step.add_argument("--model", choices=MODELS, required=True)
    step.add_argument("--size", type=int, choices=SIZES, required=True)
    step.add_argument("--minutes", type=float, default=None)
    step.add_argument("--epochs", type=int, default=None, help="metatrain epochs")
    step.add_argument(
        "--frame-radius", type=float, default=None, help="tricenter potential's r_f"
    )
    step.add_argument(
        "--channels", type=int, default=None, help="tricenter potential's channels"
    )
    step = steps.add_parser("evaluate", help="test errors and checks of every run")
    step.add_argument("folder", type=Path)
    step.add_argument("--time", action="store_true", help="time Si-512 (idle!)")
    step.add_argument("--again", action="store_true", help="evaluated runs too")
    step = steps.add_parser("md", help="NVT then NVE molecular dynamics of Si-216")
    step.add_argument("folder", type=Path)
    step.add_argument("--model", choices=MODELS, required=True)
    step.add_argument("--size", type=int, choices=SIZES, required=True)
    step.add_argument("--temperature", type=float, required=True)
    step.add_argument("--ps", type=float, default=10.0, help="NVT picoseconds")
    step.add_argument("--timestep", type=float, default=2.0, help="fs")
    step = steps.add_parser(
        "nve", help="NVE from the end of an md run, with another time step"
    )
    step.add_argument("folder", type=Path)
    step.add_argument("--model", choices=MODELS, required=True)
    step.add_argument("--size", type=int, choices=SIZES, required=True)
    step.add_argument("--temperature", type=float, required=True)
    step.add_argument("--timestep", type=float, required=True, help="fs")
    step.add_argument("--ps", type=float, default=1.0, help="NVE picoseconds")
    step = steps.add_parser("report", help="write the results page")
    step.add_argument("folder", type=Path)
    step.add_argument("output", type=Path, help="output path, without suffix")
    args = parser.parse_args(argv)
    if args.step == "prepare":
        prepare(args.folder)
    elif args.step == "train":
        minutes = budget_minutes(args.size) if args.minutes is None else args.minutes
        try:
            train(
                args.folder,
                args.model,
                args.size,
                minutes,
                args.epochs,
                args.frame_radius,
                args.channels,
            )
        except ValueError as error:
            parser.error(str(error))
    elif args.step == "md":
        md(args.folder, args.model, args.size, args.temperature, args.ps, args.timestep)
    elif args.step == "nve":
        if args.timestep <= 0 or args.ps <= 0:
            parser.error("--timestep and --ps must be positive")
        try:
            nve(
                args.folder,
                args.model,
                args.size,
                args.temperature,
                args.timestep,
                args.ps,
            )
        except (ValueError, FileNotFoundError) as error:
            parser.error(str(error))
    elif args.step == "evaluate":
        evaluate(args.folder, args.time, args.again)
    else:
        from silicon_report import write_report

        write_report(args.folder, args.output)


if __name__ == "__main__":
    main()
