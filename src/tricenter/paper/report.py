"""Table 1 as markdown, and the table of an interrupted run."""

import dataclasses
import json
from pathlib import Path
from typing import Dict

from .settings import DESCRIPTIONS, PAPER_TABLE1, PRESETS, ROWS


def write_markdown(
    result: dict, path: Path, title: str, descriptions: Dict[str, str] = DESCRIPTIONS
):
    """Write ``result`` (the content of ``table1.json``) as a markdown table, our
    rows next to the paper's.

    :param result: see :py:func:`~tricenter.paper.table1.run_table1`
    :param path: markdown file to write
    :param title: first heading
    :param descriptions: architecture of each row
    """
    lines = [
        f"# {title}",
        "",
        f"Data: `{result['data']}`; {result['n_train_pairs']} training, "
        f"{result['n_val_pairs']} validation and {result['n_test_pairs']} test pairs "
        "(the paper: 3500 training pairs, 500 validation pairs on which it reports). "
        "Errors on the test pairs, relative to the std of the targets (Mean) and of "
        "the pair differences (Diff); a model that cannot tell the partners apart "
        "has Diff = 1.",
        "",
        "| model | architecture | Mean | Diff | epochs | paper Mean | paper Diff |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ROWS:
        ours = result["rows"][name]
        paper = result["paper"][name]
        label = name.replace("A_rho", "A^ρ")
        if ours["mean"] is None:
            values = "not run | not run | "
        else:
            values = f"{ours['mean']:.3f} | {ours['diff']:.3f} | "
            # rows written before the epochs were recorded have none
            values += "" if ours.get("epochs") is None else str(ours["epochs"])
        lines.append(
            f"| {label} | {descriptions[name]} | {values} "
            f"| {paper['mean']:.3f} | {paper['diff']:.3f} |"
        )
    lines.append("")
    if "std_energy_ev" in result:
        lines += [
            f"std of the test energies: {result['std_energy_ev']:.3f} eV; std of the "
            f"pair differences: {result['std_pair_difference_ev']:.3f} eV.",
            "",
        ]
    path.write_text("\n".join(lines))


def collect_table1(
    out,
    prefix: str = "table1",
    data: str = "",
    quick: bool = False,
    preset: str = "full",
):
    """Write ``{prefix}.json`` and ``{prefix}.md`` from the rows an interrupted run
    has finished (missing rows are ``null``), without training anything.

    :param out: output directory of the run
    :param prefix: name of the table files
    :param data: name of the data file, for the record
    :param quick: whether the run used the ``quick`` preset (same as ``preset =
        "quick"``)
    :param preset: the name of the run's preset in :py:data:`PRESETS`
    :return: the content of ``{prefix}.json``
    :raises FileNotFoundError: when ``out`` holds no rows
    """
    out = Path(out)
    if not (out / "rows").is_dir():
        raise FileNotFoundError(
            f"'{out}' holds no rows of a Table 1 run (no '{out / 'rows'}'): pass the "
            "--out folder of the interrupted run"
        )
    preset = PRESETS["quick" if quick else preset]
    rows = {}
    for name in ROWS:
        path = out / "rows" / f"{name}.json"
        if path.exists():
            values = json.loads(path.read_text())
            rows[name] = {key: values.get(key) for key in ("mean", "diff", "epochs")}
        else:
            rows[name] = {"mean": None, "diff": None, "epochs": None}
    result = {
        "rows": rows,
        "paper": PAPER_TABLE1,
        "n_train_pairs": preset.n_train_pairs,
        "n_val_pairs": preset.n_val_pairs,
        "n_test_pairs": preset.n_test_pairs,
        "data": Path(data).name,
        "preset": dataclasses.asdict(preset),
        "complete": all(v["mean"] is not None for v in rows.values()),
    }
    (out / f"{prefix}.json").write_text(json.dumps(result, indent=2))
    write_markdown(result, out / f"{prefix}.md", f"Table 1 on {result['data']}")
    return result


__all__ = ["collect_table1", "write_markdown"]
