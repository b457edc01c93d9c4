"""``tricenter label``: its output, and one clear line for each mistake."""

import pytest

from tricenter.cli import EXIT_ERROR
from tricenter.cli import main as cli_main
from tricenter.labelling.label import MethodError, read_labelled

from .waters import METHOD, energies, waters, write


# every test here labels with PySCF's cheapest method
pytest.importorskip("pyscf", reason="these tests label with PySCF (tricenter[dft])")

CHEAP = ["-m", METHOD, "--grid-level", "0", "--threads", "1", "--quiet"]


def test_cli(labelled_waters, tmp_path, capsys):
    source, _ = labelled_waters
    copy = tmp_path / "out.xyz"
    status = cli_main(["label", str(source), "-o", str(copy), *CHEAP, "--forces"])
    assert status == 0
    assert "4/4 frames labelled" in capsys.readouterr().err
    assert energies(read_labelled(copy)).keys() == {0, 1, 2, 3}


def test_unknown_method(tmp_path, capsys):
    source = write(tmp_path / "in.xyz", waters(1))
    arguments = ["label", str(source), "-o", str(tmp_path / "out.xyz"), "-m", "nope"]
    assert cli_main(arguments) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("tricenter label: error: unknown method 'nope': use 'xc/")
    assert "Traceback" not in err
    with pytest.raises(MethodError, match="unknown method 'nope'"):
        cli_main(["--traceback", *arguments])


def test_unreadable_input(tmp_path, capsys):
    missing = tmp_path / "missing.xyz"
    output = tmp_path / "out.xyz"
    assert cli_main(["label", str(missing), "-o", str(output), *CHEAP]) == EXIT_ERROR
    assert capsys.readouterr().err == (
        f"tricenter label: error: cannot read '{missing}': no such file\n"
    )
    source = write(tmp_path / "in.xyz", waters(2))
    lines = source.read_text().splitlines(keepends=True)
    source.write_text("".join(lines[:-1]))
    assert cli_main(["label", str(source), "-o", str(output), *CHEAP]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith(f"tricenter label: error: cannot read '{source}', frame 1 ")
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_unconverged_reference(tmp_path, capsys):
    source = write(tmp_path / "in.xyz", waters(1))
    reference = write(tmp_path / "reference.xyz", waters(1, seed=3))
    arguments = ["label", str(source), "-o", str(tmp_path / "out.xyz"), *CHEAP]
    arguments += ["--reference", str(reference), "--max-cycle", "1"]
    assert cli_main(arguments) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith(
        "tricenter label: error: reference structure: SCF did not converge after 3 "
        "attempts"
    )
    assert "Traceback" not in err
