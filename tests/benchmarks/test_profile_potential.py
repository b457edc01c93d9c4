"""``benchmarks/profile_potential.py`` runs and prints its time and its profile."""

from . import script


def test_profile_of_an_md_step(capsys):
    profile_potential = script("profile_potential")
    options = ["--repeats", "1", "--rows", "3", "--dtype", "float32"]
    profile_potential.main(options)
    output = capsys.readouterr().out
    assert "Si-512 energy + forces, float32, 1 thread(s), 8 channels:" in output
    profile_potential.main([*options, "--channels", "4"])
    assert "1 thread(s), 4 channels:" in capsys.readouterr().out
    assert "Self CPU time total" in output


def test_bad_channels_is_a_usage_error(capsys):
    import pytest

    with pytest.raises(SystemExit):
        script("profile_potential").main(["--channels", "0"])
    assert "--channels must be positive, got 0" in capsys.readouterr().err
