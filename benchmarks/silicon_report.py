"""The results page of ``silicon.py``: ``NAME.json`` (every figure), ``NAME.md`` (the
tables) and ``NAME.png`` (parity plots, learning curves and energy-volume curves)."""

import json
from pathlib import Path

import numpy as np

from tricenter.models.build import default_options


LABELS = {"triplet": "tricenter potential", "soap-bpnn": "SOAP-BPNN", "pet": "PET"}
COLORS = {"triplet": "C3", "soap-bpnn": "C0", "pet": "C2"}
#: line styles of the radial distribution functions (curves that coincide stay seen)
STYLES = {"triplet": "-", "soap-bpnn": "--", "pet": "-"}
#: the tricenter potential's default frame radius (Å)
DEFAULT_FRAME_RADIUS = default_options("potential")["hypers"]["frame_cutoff"]["radius"]
#: the tricenter potential's default number of projected channels
DEFAULT_CHANNELS = default_options("potential")["channels"]


def _epochs(run: Path) -> int:
    log = run / "output" / "log.csv"
    if log.exists():
        return len(log.read_text().splitlines()) - 1
    numbers = [int(p.stem.split("_")[-1]) for p in run.glob("outputs/*/*/model_*.ckpt")]
    return max(numbers) + 1 if numbers else 0


def collect(folder: Path) -> dict:
    """Every evaluated run, by model and training-set size."""
    runs = []
    for path in sorted(folder.glob("*/run.json")):
        record = json.loads(path.read_text())
        if "evaluation" not in record:
            continue
        runs.append(
            {
                "model": record["model"],
                "size": record["size"],
                "budget_minutes": record["budget_minutes"],
                "training_minutes": record["seconds"] / 60,
                "epochs": _epochs(path.parent),
                "exit": record["exit"],
                # the run's options, with paths relative to the comparison's folder
                "options": json.loads(
                    json.dumps(record.get("options")).replace(
                        str(folder.resolve()) + "/", ""
                    )
                ),
                "md": record.get("md", {}),
                # a variant of the tricenter potential with another frame radius
                # or another number of projected channels
                "frame_radius": record.get("frame_radius"),
                "channels": record.get("channels"),
                **record["evaluation"],
            }
        )
    runs.sort(key=lambda r: (list(LABELS).index(r["model"]), r["size"]))
    diamond = folder / "diamond.json"
    points = json.loads(diamond.read_text()) if diamond.exists() else []
    dft = None
    if len(points) >= 5:
        from ase.eos import EquationOfState
        from ase.units import GPa

        volumes, energies = np.array(points).T
        v0, e0, b = EquationOfState(volumes, energies, eos="birchmurnaghan").fit()
        dft = {"v0": float(v0), "e0": float(e0), "bulk_modulus_gpa": float(b / GPa)}
    return {"runs": runs, "diamond_dft_points": points, "diamond_dft_eos": dft}


def _number(value, digits=1):
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(result: dict) -> str:
    lines = [
        "# Silicon: the tricenter potential against SOAP-BPNN and PET",
        "",
        "Test-set errors (526 structures never used in training, early stopping or "
        "model selection), each model trained on one thread with the wall-clock "
        "budget shown, evaluated through metatomic-ase. Commands: "
        "`benchmarks/silicon.py` (see its docstring).",
        "",
        "| model | train size | budget (min) | used (min) | epochs | E MAE | E RMSE |"
        " F MAE | F RMSE | Si-512 E+F (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in _main(result):
        lines.append(
            f"| {LABELS[run['model']]} | {run['size']} | {run['budget_minutes']:.0f} "
            f"| {run['training_minutes']:.1f} | {run['epochs']} "
            f"| {_number(run['energy_mae_mev_atom'])} "
            f"| {_number(run['energy_rmse_mev_atom'])} "
            f"| {_number(run['forces_mae_mev_a'])} "
            f"| {_number(run['forces_rmse_mev_a'])} "
            f"| {_number(run.get('si512_seconds'), 3)} |"
        )
    lines += [
        "",
        "Energies in meV/atom, forces in meV/Å (over every Cartesian component).",
        "",
        "## Diamond silicon: energy–volume curve",
        "",
        "| model | train size | V0 (Å³/atom) | E0 (eV/atom) | B (GPa) |",
        "|---|---|---|---|---|",
    ]
    dft = result["diamond_dft_eos"]
    if dft is not None:
        lines.append(
            f"| DFT (the data set's {len(result['diamond_dft_points'])} diamond "
            f"structures) | – | {dft['v0']:.2f} | {dft['e0']:.3f} "
            f"| {dft['bulk_modulus_gpa']:.0f} |"
        )
    for run in _main(result):
        eos = run["eos"]
        if eos is None:
            lines.append(
                f"| {LABELS[run['model']]} | {run['size']} | no minimum fitted "
                "| – | – |"
            )
            continue
        lines.append(
            f"| {LABELS[run['model']]} | {run['size']} | {eos['v0']:.2f} "
            f"| {eos['e0']:.3f} | {eos['bulk_modulus_gpa']:.0f} |"
        )
    lines += [
        "",
        "## Molecular dynamics of Si-216 (Langevin NVT, then 1 ps NVE)",
        "",
        "| model | train size | T (K) | ps | mean T (K) | min distance (Å) | stable |"
        " NVE drift (meV/atom/ps) | s/step |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in _main(result):
        for md in sorted(run["md"].values(), key=lambda md: md["temperature_k"]):
            lines.append(
                f"| {LABELS[run['model']]} | {run['size']} "
                f"| {md['temperature_k']:.0f} | {md['picoseconds']:.1f} "
                f"| {md['mean_temperature_k']:.0f} | {md['min_distance_a']:.2f} "
                f"| {'yes' if md['stable'] else 'no'} "
                f"| {md['nve_drift_mev_atom_ps']:.3f} | {md['seconds_per_step']:.3f} |"
            )
    checks = [
        (run, md, check)
        for run in _main(result)
        for md in run["md"].values()
        for check in md.get("nve", {}).values()
    ]
    if checks:
        lines += [
            "",
            "## NVE from the end of the NVT runs, by time step",
            "",
            "| model | train size | T (K) | time step (fs) | ps | drift (meV/atom/ps) "
            "| fluctuation (meV/atom) |",
            "|---|---|---|---|---|---|---|",
        ]
        for run, md, check in sorted(
            checks,
            key=lambda c: (
                c[1]["temperature_k"],
                list(LABELS).index(c[0]["model"]),
                -c[2]["timestep_fs"],
            ),
        ):
            lines.append(
                f"| {LABELS[run['model']]} | {run['size']} "
                f"| {md['temperature_k']:.0f} | {check['timestep_fs']:g} "
                f"| {check['picoseconds']:g} | {check['drift_mev_atom_ps']:.3f} "
                f"| {check['fluctuation_mev_atom']:.3f} |"
            )
    variants = [r for r in result["runs"] if _is_variant(r)]
    if variants:
        sizes = {r["size"] for r in variants}
        rows = variants + [
            r for r in _main(result) if r["model"] == "triplet" and r["size"] in sizes
        ]
        rows.sort(key=lambda r: (r["size"], _radius(r), -_channels(r)))
        lines += [
            "",
            "## Frame radius and channels of the tricenter potential",
            "",
            "The same budget and data, another frame radius r_f (the tagged "
            "neighbours' cutoff; the density keeps 4.5 Å) or another number of "
            "projected channels.",
            "",
            "| r_f (Å) | channels | train size | epochs | E RMSE | F RMSE "
            "| Si-512 E+F (s) |",
            "|---|---|---|---|---|---|---|",
        ]
        for run in rows:
            lines.append(
                f"| {_radius(run):.1f} | {_channels(run)} | {run['size']} "
                f"| {run['epochs']} "
                f"| {_number(run['energy_rmse_mev_atom'])} "
                f"| {_number(run['forces_rmse_mev_a'])} "
                f"| {_number(run.get('si512_seconds'), 3)} |"
            )
    return "\n".join(lines) + "\n"


def _is_variant(run: dict) -> bool:
    return run["frame_radius"] is not None or run.get("channels") is not None


def _radius(run: dict) -> float:
    return run["frame_radius"] or DEFAULT_FRAME_RADIUS


def _channels(run: dict) -> int:
    return run.get("channels") or DEFAULT_CHANNELS


def _main(result: dict) -> list:
    """The runs of the comparison proper (no variants of the potential)."""
    return [r for r in result["runs"] if not _is_variant(r)]


def plot_md(result: dict, path: Path):
    """The radial distribution functions of every model, one panel per
    temperature."""
    from matplotlib.figure import Figure

    temperatures = sorted(
        {key for run in result["runs"] for key in run["md"]}, key=float
    )
    if not temperatures:
        return
    figure = Figure(figsize=(5 * len(temperatures), 4), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(temperatures)))
    for axis, temperature in zip(axes, temperatures):
        for run in _main(result):
            md = run["md"].get(temperature)
            if md is None or not md["rdf"][0]:
                continue
            axis.plot(
                *md["rdf"],
                color=COLORS[run["model"]],
                linestyle=STYLES[run["model"]],
                label=(
                    f"{LABELS[run['model']]} ({run['size']}, "
                    f"{md['picoseconds']:.0f} ps)"
                ),
            )
        axis.set(xlabel="r (Å)", ylabel="g(r)")
        axis.set_title(f"Si-216, {temperature} K")
        axis.legend()
    figure.savefig(path, dpi=110)


def plot(result: dict, folder: Path, path: Path):
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    figure = Figure(figsize=(13, 8), layout="constrained")
    axes = figure.subplots(2, 3)
    runs = _main(result)
    full = {}
    for run in runs:
        if run["size"] >= full.get(run["model"], {"size": 0})["size"]:
            full[run["model"]] = run
    for model, run in full.items():
        data = np.load(folder / f"{model}-{run['size']}" / "parity.npz")
        energies, forces = data["energies"], data["forces"]
        label = f"{LABELS[model]} ({run['size']})"
        axes[0, 0].scatter(
            *energies.T, s=4, alpha=0.5, color=COLORS[model], label=label
        )
        axes[0, 1].scatter(*forces.T, s=1, alpha=0.2, color=COLORS[model], label=label)
    for axis, name, unit in (
        (axes[0, 0], "energy", "eV/atom"),
        (axes[0, 1], "force", "eV/Å"),
    ):
        low, high = axis.get_xlim()
        axis.plot([low, high], [low, high], "k--", linewidth=0.8)
        axis.set(xlabel=f"DFT {name} ({unit})", ylabel=f"predicted {name} ({unit})")
        axis.set_title(f"test set: {name}, largest training set")
        axis.legend(markerscale=4)
    for model in LABELS:
        mine = [r for r in runs if r["model"] == model]
        if not mine:
            continue
        sizes = [r["size"] for r in mine]
        for axis, key in (
            (axes[1, 0], "energy_rmse_mev_atom"),
            (axes[1, 1], "forces_rmse_mev_a"),
        ):
            axis.plot(
                sizes,
                [r[key] for r in mine],
                "o-",
                color=COLORS[model],
                label=LABELS[model],
            )
    for axis, unit in (
        (axes[1, 0], "energy RMSE (meV/atom)"),
        (axes[1, 1], "force RMSE (meV/Å)"),
    ):
        axis.set(xscale="log", yscale="log", xlabel="training structures", ylabel=unit)
        axis.yaxis.set_major_formatter(ScalarFormatter())
        axis.yaxis.set_minor_formatter(ScalarFormatter())
        sizes = sorted({r["size"] for r in runs})
        axis.set_xticks(sizes, [str(size) for size in sizes])
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_title("learning curves (test set)")
        axis.legend()
    axis = axes[0, 2]
    for model, run in full.items():
        volumes, energies = np.array(run["curve"]).T
        minimum = energies.min() if run["eos"] is None else run["eos"]["e0"]
        axis.plot(
            volumes,
            1000 * (energies - minimum),
            "-",
            color=COLORS[model],
            label=LABELS[model],
        )
    dft = result["diamond_dft_eos"]
    if result["diamond_dft_points"] and dft is not None:
        volumes, energies = np.array(result["diamond_dft_points"]).T
        axis.plot(
            volumes,
            1000 * (energies - dft["e0"]),
            "ko",
            markersize=4,
            label="DFT (data set)",
        )
    axis.set(xlabel="volume (Å³/atom)", ylabel="energy − fitted minimum (meV/atom)")
    axis.set_title("diamond Si, from each fitted minimum")
    axis.legend()
    axis = axes[1, 2]
    timed = [r for r in full.values() if r.get("si512_seconds") is not None]
    if timed:
        axis.bar(
            [LABELS[r["model"]] for r in timed],
            [r["si512_seconds"] for r in timed],
            color=[COLORS[r["model"]] for r in timed],
        )
        axis.set(yscale="log", ylabel="Si-512 energy + forces (s, 1 thread)")
        axis.set_title("cost of one MD step")
    else:
        axis.set_axis_off()
    figure.savefig(path, dpi=110)


def write_report(folder: Path, output: Path):
    """Write ``output.json``, ``output.md`` and ``output.png`` from ``folder``."""
    result = collect(folder)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(result, indent=1))
    output.with_suffix(".md").write_text(markdown(result))
    plot(result, folder, output.with_suffix(".png"))
    plot_md(result, output.parent / f"{output.name}-md.png")
    print(f"wrote {output}.{{json,md,png}} and {output.name}-md.png")
