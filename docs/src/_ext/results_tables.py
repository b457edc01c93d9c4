"""Tables of the results page, rendered from the files in ``docs/results``.

``.. results-table:: ../results/table1-pbe.json``
    Table 1 (a ``table1*.json`` written by ``tricenter reproduce``) or the shipped
    model's errors (``b8-pbe-triplet.json``), as a table.
``.. text-tables:: ../results/triplets-benchmark.txt``
    A benchmark's plain-text output: each block of aligned columns (a header line of
    names separated by two or more spaces, then one row per line) becomes a table,
    the line above it its caption; other lines stay text.
``.. markdown-tables:: ../results/fused-layer-benchmark.md``
    A markdown report: pipe tables become tables, other lines text.

Numbers are shown as they are stored or rounded to three digits; nothing is
recomputed.
"""

import json
import os
import re

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList

from tricenter.paper.settings import DESCRIPTIONS, PAPER_TABLE1, ROWS


_CODE = re.compile(r"(?<!`)`([^`]+)`(?!`)")
_COLUMNS = re.compile(r"\s{2,}")


def _list_table(header, rows, caption="", widths=None):
    lines = [f".. list-table:: {caption}".rstrip(), "    :header-rows: 1"]
    if widths is not None:
        lines.append(f"    :widths: {' '.join(str(w) for w in widths)}")
    lines.append("")
    for row in [header, *rows]:
        for index, cell in enumerate(row):
            marker = "    * - " if index == 0 else "      - "
            lines.append(marker + (str(cell) if str(cell) else r"\ "))
    return lines + [""]


def _number(value, digits=3):
    return "not run" if value is None else f"{value:.{digits}f}"


def _table1(result):
    # runs that record each row's epochs show them
    epochs = any("epochs" in result["rows"][name] for name in ROWS)
    rows = []
    for name in ROWS:
        ours, paper = result["rows"][name], PAPER_TABLE1[name]
        label = name.replace("A_rho", "A^ρ").replace("_", r"\_")
        row = [label, DESCRIPTIONS[name], _number(ours["mean"]), _number(ours["diff"])]
        if epochs:
            row.append(str(ours.get("epochs", "")))
        rows.append(row + [_number(paper["mean"]), _number(paper["diff"])])
    header = ["model", "architecture", "Mean", "Diff"]
    header += ["epochs"] if epochs else []
    header += ["paper Mean", "paper Diff"]
    caption = (
        f"{result['n_train_pairs']} training, {result['n_val_pairs']} validation "
        f"and {result['n_test_pairs']} test pairs of ``{result['data']}``"
    )
    widths = [8, 40, 8, 8] + ([6] if epochs else []) + [8, 8]
    lines = _list_table(header, rows, caption, widths)
    if "std_energy_ev" in result:
        lines += [
            f"std of the test energies: {result['std_energy_ev']:.3f} eV; std of "
            f"the pair differences: {result['std_pair_difference_ev']:.3f} eV.",
            "",
        ]
    return lines


def _shipped_model(result):
    rows = []
    for part, values in result["parts"].items():
        rows.append(
            [
                part,
                values["n_pairs"],
                _number(values["mean"]),
                _number(values["diff"]),
                f"{values['energy_rmse_ev']:.4f}",
                f"{values['force_rmse_ev_per_a']:.4f}",
                _number(values["difference_pearson_r"]),
                f"{100 * values['difference_sign_agreement']:.0f} %",
            ]
        )
    header = [
        "part",
        "pairs",
        "Mean",
        "Diff",
        "E RMSE / eV",
        "F RMSE / eV/Å",
        "r(ΔE)",
        "sign(ΔE) agrees",
    ]
    return _list_table(header, rows, f"``{result['model']}``")


def _text(line):
    return _CODE.sub(r"``\1``", line)


def _line(line):
    """A line of a benchmark's output as a line block; a leading ``$ command`` is
    code."""
    command, _, rest = line.strip().partition("  ")
    if command.startswith("$ "):
        return f"| ``{command}`` {_text(rest.strip())}".rstrip()
    return f"| {_text(line.strip())}"


class _FileDirective(Directive):
    required_arguments = 1

    def path(self):
        source = self.state.document.current_source
        path = os.path.normpath(
            os.path.join(os.path.dirname(source), self.arguments[0])
        )
        self.state.document.settings.record_dependencies.add(path)
        return path

    def render(self, lines):
        parsed = nodes.container()
        self.state.nested_parse(StringList(lines, self.arguments[0]), 0, parsed)
        return parsed.children


class ResultsTable(_FileDirective):
    """``results-table``: a JSON result as a table."""

    def run(self):
        with open(self.path()) as stream:
            result = json.load(stream)
        if "rows" in result and "paper" in result:
            return self.render(_table1(result))
        if "parts" in result:
            return self.render(_shipped_model(result))
        raise self.error(f"'{self.arguments[0]}' is neither Table 1 nor a model")


class TextTables(_FileDirective):
    """``text-tables``: blocks of aligned columns as tables."""

    def run(self):
        with open(self.path()) as stream:
            blocks = stream.read().strip().split("\n\n")
        lines = []
        for block in blocks:
            rows = [row for row in block.split("\n") if row.strip()]
            table_start = next(
                (
                    i
                    for i, row in enumerate(rows)
                    if row.startswith(" ") and len(_COLUMNS.split(row.strip())) > 2
                ),
                None,
            )
            if table_start is None:
                lines += [*[_line(row) for row in rows], ""]
                continue
            caption = " ".join(rows[:table_start])
            names = _COLUMNS.split(rows[table_start].strip())
            body = [row.split() for row in rows[table_start + 1 :]]
            lines += _list_table(["", *names], body, _text(caption))
        return self.render(lines)


class MarkdownTables(_FileDirective):
    """``markdown-tables``: pipe tables as tables, other lines as text."""

    def run(self):
        with open(self.path()) as stream:
            source = stream.read().split("\n")
        lines, table, fenced = [], [], False
        for line in [*source, ""]:
            if line.startswith("|"):
                cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
                if not all(set(cell) <= set("-: ") for cell in cells):
                    table.append(cells)
                continue
            if table:
                lines += ["", *_list_table(table[0], table[1:])]
                table = []
            if line.startswith("```"):
                fenced = not fenced
                lines.append("")
                continue
            if line.startswith("#"):
                continue
            if not line.strip():
                lines.append("")
            else:
                lines.append(_line(line) if fenced else _text(line))
        return self.render(lines)


def setup(app):
    app.add_directive("results-table", ResultsTable)
    app.add_directive("text-tables", TextTables)
    app.add_directive("markdown-tables", MarkdownTables)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
