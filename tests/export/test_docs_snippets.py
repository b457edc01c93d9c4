"""The documentation's ASE snippets, copied word for word from the pages and run in
a fresh Python process (no ``PYTHONPATH``, nothing imported beforehand), with forces
checked against finite differences of the same process' energies."""

import re
import shutil
from pathlib import Path

import ase.io
import pytest

from .helpers import periodic_cell, run_script


REPOSITORY = Path(__file__).resolve().parents[2]

# appended to a snippet: central differences of the energy of a fresh copy of the
# snippet's structure, against the snippet's forces
FINITE_DIFFERENCES = r"""
import json, sys
import numpy as np

def _check(reference, calculator, forces):
    delta = 1e-5
    differences = np.zeros_like(forces)
    for atom in range(len(reference)):
        for direction in range(3):
            energies = []
            for sign in (1, -1):
                moved = reference.copy()
                moved.positions[atom, direction] += sign * delta
                moved.calc = calculator
                energies.append(moved.get_potential_energy())
            differences[atom, direction] = -(energies[0] - energies[1]) / (2 * delta)
    return float(np.abs(forces - differences).max() / np.abs(differences).max())

_reference = ase.io.read(STRUCTURE)
_reference.calc = MetatomicCalculator(MODEL)
_forces = _reference.get_forces() if FORCES is None else FORCES
json.dump(
    {
        "error": _check(_reference, MetatomicCalculator(MODEL), np.asarray(_forces)),
        "modules": sorted(
            name for name in sys.modules
            if name.split(".")[0] in ("tricenter", "sphericart")
        ),
    },
    sys.stdout,
)
"""


def python_blocks(page):
    """The ``.. code-block:: python`` blocks of a documentation page, dedented."""
    text = (REPOSITORY / "docs" / "src" / page).read_text()
    blocks = []
    for match in re.finditer(
        r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text, re.MULTILINE
    ):
        lines = match.group(1).rstrip("\n").split("\n")
        blocks.append("\n".join(line[4:] for line in lines) + "\n")
    return blocks


def run_snippet(snippet, check, cwd):
    """Run ``snippet`` then ``check`` in a fresh process; its JSON and stderr."""
    result, stderr = run_script(snippet + check, cwd)
    # the snippet needs neither tricenter nor sphericart, and loads no extension
    assert result["modules"] == []
    assert "extension" not in stderr, stderr[-3000:]
    return result


def test_results_snippet(record_property):
    """The shipped model, as ``results.rst`` loads it, from the repository root."""
    pytest.importorskip("metatomic_ase", reason="metatomic-ase is not installed")
    (snippet,) = [b for b in python_blocks("results.rst") if "b8-pbe-triplet.pt" in b]
    setting = (
        'MODEL = "models/b8-pbe-triplet.pt"\n'
        'STRUCTURE = "src/tricenter/datasets/data/b8-pbe-pairs-0000-1499.xyz.gz"\n'
        "FORCES = None\n"
    )
    result = run_snippet(snippet, setting + FINITE_DIFFERENCES, REPOSITORY)
    record_property("results_snippet_forces_fd", result["error"])
    assert result["error"] < 1e-6


def test_ase_howto_snippet(exported, tmp_path, record_property):
    """The first block of the ASE how-to, next to an exported model and a
    structure."""
    pytest.importorskip("metatomic_ase", reason="metatomic-ase is not installed")
    snippet = python_blocks("howto/ase.rst")[0]
    assert 'MetatomicCalculator("model.pt"' in snippet
    shutil.copy(exported, tmp_path / "model.pt")
    ase.io.write(tmp_path / "structure.xyz", periodic_cell(seed=19))
    # the snippet's forces, before its MD moved the atoms
    setting = 'MODEL = "model.pt"\nSTRUCTURE = "structure.xyz"\nFORCES = forces\n'
    result = run_snippet(snippet, setting + FINITE_DIFFERENCES, tmp_path)
    record_property("ase_snippet_forces_fd", result["error"])
    assert result["error"] < 1e-6


def test_snippet_blocks_are_found():
    """The extraction sees the blocks (a page edited into another layout fails
    here, not silently)."""
    assert len(python_blocks("howto/ase.rst")) == 2
    assert any("MetatomicCalculator" in b for b in python_blocks("results.rst"))


# appended to the silicon snippet: float32 forces against central differences with a
# step large enough for float32 energies, and the energy per atom
SILICON_CHECK = r"""
import json, sys
import numpy as np

_delta = 1e-2
_worst = 0.0
for _atom in (0, 7):
    for _direction in range(3):
        _energies = []
        for _sign in (1, -1):
            _moved = atoms.copy()
            _moved.positions[_atom, _direction] += _sign * _delta
            _moved.calc = atoms.calc
            _energies.append(_moved.get_potential_energy())
        _fd = -(_energies[0] - _energies[1]) / (2 * _delta)
        _worst = max(_worst, abs(forces[_atom, _direction] - _fd))
json.dump(
    {
        "per_atom": energy / len(atoms),
        "force_error": _worst / float(np.abs(forces).max()),
        "net_force": float(np.abs(forces.sum(axis=0)).max()),
        "modules": sorted(
            name for name in sys.modules
            if name.split(".")[0] in ("tricenter", "sphericart")
        ),
    },
    sys.stdout,
)
"""


def test_silicon_snippet(record_property):
    """The shipped silicon potential, as ``silicon.rst`` loads it, from the
    repository root: a diamond cell near the data set's diamond energy, forces
    that are the gradient of the energy."""
    pytest.importorskip("metatomic_ase", reason="metatomic-ase is not installed")
    (snippet,) = [b for b in python_blocks("silicon.rst") if "si-triplet.pt" in b]
    result = run_snippet(snippet, SILICON_CHECK, REPOSITORY)
    record_property("silicon_snippet_forces_fd", result["force_error"])
    # the data set's diamond silicon: -5.425 eV/atom
    assert abs(result["per_atom"] + 5.425) < 0.1
    assert result["force_error"] < 2e-2
    assert result["net_force"] < 1e-3
