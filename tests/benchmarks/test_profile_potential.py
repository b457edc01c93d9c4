"""``benchmarks/profile_potential.py`` runs and prints its time and its profile."""

import sys
from pathlib import Path


SCRIPTS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_profile_of_an_md_step(capsys):
    sys.path.insert(0, str(SCRIPTS))
    try:
        import profile_potential
    finally:
        sys.path.remove(str(SCRIPTS))
    profile_potential.main(["--repeats", "1", "--rows", "3", "--dtype", "float32"])
    output = capsys.readouterr().out
    assert "Si-512 energy + forces, float32, 1 thread(s):" in output
    assert "Self CPU time total" in output
