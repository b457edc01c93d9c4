"""``benchmarks/profile_potential.py`` runs and prints its time and its profile."""

from . import script


def test_profile_of_an_md_step(capsys):
    profile_potential = script("profile_potential")
    profile_potential.main(["--repeats", "1", "--rows", "3", "--dtype", "float32"])
    output = capsys.readouterr().out
    assert "Si-512 energy + forces, float32, 1 thread(s):" in output
    assert "Self CPU time total" in output
