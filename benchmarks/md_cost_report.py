"""Analysis and outputs of ``md_cost.py``: ratios, scaling fits, the JSON with every
number, a markdown summary and a log-log plot of time against atoms."""

import json
from pathlib import Path

import numpy as np


#: peak memory budget of the largest-cell extrapolation
BUDGET_MIB = 8 * 1024


def ratios(timings):
    """tricenter's median time over PET's and SOAP-BPNN's, same case, dtype and
    thread count."""
    table = {}
    for t in timings:
        if "median_s" in t:
            table[(t["model"], t["case"], t["dtype"], t["threads"])] = t["median_s"]
    baselines = sorted({key[0] for key in table if not key[0].startswith("tricenter ")})
    rows = []
    for (model, case, dtype, threads), value in sorted(table.items()):
        if not model.startswith("tricenter "):
            continue
        row = {"model": model, "case": case, "dtype": dtype, "threads": threads}
        for label in baselines:
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


def _number(value, digits=3):
    return "–" if value is None else f"{value:.{digits}g}"


def _checks(result):
    lines = [
        "## Forces against finite differences (float64, before any timing)",
        "",
        "| model | case | rel. error | passed | float32 vs float64 forces |",
        "|---|---|---|---|---|",
    ]
    for model, cases in result["force_checks"].items():
        for case, check in cases.items():
            error = check.get("relative_error")
            shown = _number(error) if error is not None else check.get("error", "?")
            lines.append(
                f"| {model} | {case} | {shown} | {'yes' if check['passed'] else 'NO'} "
                f"| {_number(check.get('float32_relative_deviation'))} |"
            )
    for model, error in result["export_errors"].items():
        lines.append(f"| {model} | – | {error} | NO | – |")
    verification = result["sphericart_verification"]
    if verification is not None:
        bare = verification["without_sphericart_import"]
        bare = _number(bare.get("relative_error")) if "relative_error" in bare else bare
        good = _number(verification["with_sphericart_import"].get("relative_error"))
        lines += [
            "",
            "SOAP-BPNN (Si) force error with `import sphericart.torch` in the timing "
            f"process: {good}; "
            f"in a process without it: {bare}.",
        ]
    return lines


def _timings(result):
    lines = [
        "## Energy + forces, median wall time (s)",
        "",
        "| model | case | atoms | dtype | threads | median (s) | peak RSS (MiB) | "
        "load (1 min) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in result["timings"]:
        if "median_s" in t:
            lines.append(
                f"| {t['model']} | {t['case']} | {t['n_atoms']} | {t['dtype']} | "
                f"{t['threads']} | {t['median_s']:.3g} | {t['peak_rss_mib']:.0f} | "
                f"{t['load_average_1min']:.2f} |"
            )
        else:
            lines.append(
                f"| {t['model']} | {t['case']} | {t['n_atoms']} | {t['dtype']} | "
                f"{t['threads']} | {t.get('error', '?')} | | |"
            )
    lines += [
        "",
        "## Ratios (same run, same case, dtype and threads)",
        "",
        "| model | case | dtype | threads | / PET | / SOAP-BPNN |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["ratios"]:
        lines.append(
            f"| {r['model']} | {r['case']} | {r['dtype']} | {r['threads']} | "
            f"{_number(r.get('vs_PET'))} | {_number(r.get('vs_SOAP-BPNN'))} |"
        )
    return lines


def _scaling(result):
    lines = [
        "## Cost against size (Si, float64, first thread count)",
        "",
        "| model | atoms | median (s) | µs / atom | peak RSS (MiB) |",
        "|---|---|---|---|---|",
    ]
    for s in result["scaling"]:
        if "median_s" in s:
            lines.append(
                f"| {s['model']} | {s['n_atoms']} | {s['median_s']:.3g} | "
                f"{1e6 * s['median_s'] / s['n_atoms']:.3g} | {s['peak_rss_mib']:.0f} |"
            )
        else:
            lines.append(
                f"| {s['model']} | {s['n_atoms']} | "
                f"{s.get('skipped', s.get('error', '?'))} | | |"
            )
    lines += [
        "",
        "| model | time exponent (log-log fit) | memory fit (MiB) | largest Si cell "
        "in 8 GiB (extrapolated) |",
        "|---|---|---|---|",
    ]
    for model, fit in result["scaling_fits"].items():
        memory = fit.get("memory_fit_mib")
        largest = fit.get("largest_si_in_8gib")
        lines.append(
            f"| {model} | {_number(fit.get('time_exponent'))} | "
            + (
                "–"
                if memory is None
                else f"{memory['intercept']:.0f} + {memory['per_atom']:.3g} × atoms"
            )
            + " | "
            + (
                "–"
                if largest is None
                else f"~{largest['n_atoms_extrapolated']} atoms "
                f"({largest['cubic_repeat']}³ cubic cells = "
                f"{largest['n_atoms_cubic']} atoms)"
            )
            + " |"
        )
    return lines


def _sharing(result) -> str:
    """Whether other jobs ran during the benchmark, from the load averages."""
    meta = result["meta"]
    loads = [meta["load_average_start"][0], meta["load_average_end"][0]]
    loads += [t["load_average_1min"] for t in result["timings"] if "median_s" in t]
    own = max(meta["threads"])
    if max(loads) > own + 0.5:
        return (
            f"**The machine was shared while this ran**: the 1-minute load average "
            f"reached {max(loads):.1f} on {meta['cpu_count']} CPUs, while this "
            f"benchmark runs at most {own} threads at a time. Times are noisy; the "
            "ratios compare models timed minutes apart under similar loads (each "
            "row gives the load when it started)."
        )
    return (
        f"The 1-minute load average stayed at or below {max(loads):.1f} "
        f"({meta['cpu_count']} CPUs, at most {own} benchmark threads)."
    )


def markdown(result) -> str:
    meta = result["meta"]
    start, end = meta["load_average_start"], meta["load_average_end"]
    lines = [
        "# MD cost: energy + forces through metatomic-ase",
        "",
        f"Command: `{meta['command']}` ({meta['date']}, {meta['wall_s']:.0f} s, "
        f"device {meta['device']}, {meta['cpu_count']} CPUs).",
        "",
        f"Load average (1, 5, 15 min) at the start: {start[0]:.2f}, {start[1]:.2f}, "
        f"{start[2]:.2f}; at the end: {end[0]:.2f}, {end[1]:.2f}, {end[2]:.2f}.",
        "",
        _sharing(result),
        "",
        f"Cutoff {meta['cutoff']} Å for every model; tricenter basis "
        f"{meta['basis']}; median of {meta['repeats']} calls after "
        f"{meta['warmup']} warm-up calls; memory: {meta['memory']}. "
        "Untrained models (trained weights cost the same); metatrain's at their "
        "default hyper-parameters. Versions: "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
        + ".",
        "",
        *_checks(result),
        "",
        *_timings(result),
        "",
        *_scaling(result),
        "",
        "The largest cell is a linear extrapolation of the measured peaks, not a "
        "measurement.",
        "",
    ]
    return "\n".join(lines)


def plot(result, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 4))
    for model, fit in result["scaling_fits"].items():
        exponent = fit.get("time_exponent")
        label = model if exponent is None else f"{model} (slope {exponent:.2f})"
        axes.loglog(fit["n_atoms"], fit["median_s"], "o-", label=label)
    sizes = sorted(
        {n for fit in result["scaling_fits"].values() for n in fit["n_atoms"]}
    )
    if len(sizes) >= 2:
        top = max(max(fit["median_s"]) for fit in result["scaling_fits"].values())
        guide = top * np.array(sizes) / sizes[-1]
        axes.loglog(sizes, guide, ":", color="grey", label="linear")
    axes.set_xlabel("atoms (Si)")
    axes.set_ylabel("energy + forces (s)")
    axes.set_title(
        f"{result['meta']['device']}, float64, cutoff {result['meta']['cutoff']} Å"
    )
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def render(result, output: Path):
    """``output`` + ``.md`` and ``.png`` from a result."""
    Path(f"{output}.md").write_text(markdown(result))
    plot(result, Path(f"{output}.png"))


def write_outputs(result, output: Path):
    """``output`` + ``.json``, ``.md`` and ``.png``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{output}.json").write_text(json.dumps(result, indent=1) + "\n")
    render(result, output)
