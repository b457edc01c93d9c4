"""The documentation describes the package as it is, and stays inside the repository."""

import re
from pathlib import Path

import tricenter


ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(tricenter.__file__).resolve().parent


def _public_modules():
    """Every module of the package that the architecture page must describe.

    Private modules (``_compat``, ``__main__``) are left out, and so are packages
    whose ``__init__`` only gathers their modules; a package that has no module of its
    own (``cli``) is described as a module.
    """
    modules = set()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            has_modules = any(
                not child.name.startswith("_") for child in path.parent.glob("*.py")
            )
            if has_modules or len(parts) == 1:
                continue
            parts = parts[:-1]
        if any(part.startswith("_") for part in parts):
            continue
        modules.add(".".join(("tricenter", *parts)))
    return modules


def test_architecture_page_lists_every_module():
    text = (ROOT / "docs" / "src" / "architecture.rst").read_text()
    listed = re.findall(r"^ {4}(tricenter(?:\.\w+)*)$", text, flags=re.MULTILINE)
    assert len(listed) == len(set(listed))
    modules = _public_modules()
    assert "tricenter.features.contraction" in modules and "tricenter.cli" in modules
    assert set(listed) == modules


def test_readme_and_docs_stay_inside_the_repository():
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.rst"))]
    files += sorted((ROOT / "docs" / "results").glob("*.md"))
    outside = re.compile(r"\.\./shared|DESIGN\.md")
    offending = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in files
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if outside.search(line)
    ]
    assert offending == []


def test_readme_links_exist():
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#]+)\)", text)
    local = [link for link in links if "://" not in link]
    assert "docs/src/architecture.rst" in local
    assert [link for link in local if not (ROOT / link).exists()] == []


def test_table1_pages_show_the_epochs_when_the_run_records_them():
    """The results page's Table 1 gets an epochs column from runs that record each
    row's epochs (the public preset), and none from older runs."""
    import importlib.util
    import json

    import pytest

    pytest.importorskip("docutils", reason="the docs' extension needs docutils")
    spec = importlib.util.spec_from_file_location(
        "results_tables", ROOT / "docs" / "src" / "_ext" / "results_tables.py"
    )
    tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tables)
    public = json.loads(
        (ROOT / "docs" / "results" / "table1-pbe-public.json").read_text()
    )
    lines = tables._table1(public)
    assert "      - epochs" in lines
    b_nl = lines.index("    * - B\\_NL")
    assert lines[b_nl + 2 : b_nl + 7] == [
        "      - 0.041",
        "      - 0.304",
        "      - 319",
        "      - 0.017",
        "      - 0.199",
    ]
    older = json.loads((ROOT / "docs" / "results" / "table1-pbe.json").read_text())
    assert "      - epochs" not in tables._table1(older)
