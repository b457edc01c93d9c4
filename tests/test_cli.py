"""The ``tricenter`` command: version, help, and errors without tracebacks."""

import importlib
import importlib.metadata
import os
import subprocess
import sys

import pytest

import tricenter
from tricenter.cli import COMMANDS, EXIT_ERROR, EXIT_INTERRUPTED, main


def _tricenter(*args, env=None):
    """Run ``python -m tricenter ARGS`` in a fresh process, as a user would."""
    environment = dict(os.environ)
    environment.pop("TRICENTER_TRACEBACK", None)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "tricenter", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )


def test_version(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out == f"tricenter {tricenter.__version__}\n"
    assert importlib.metadata.version("tricenter") == tricenter.__version__


@pytest.mark.parametrize("command", [[], *([name] for name in COMMANDS)])
def test_help_is_plain_text(command, capsys):
    with pytest.raises(SystemExit) as exit:
        main([*command, "--help"])
    assert exit.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: tricenter {' '.join(command)}".rstrip())
    for markup in ("``", ":py:", ":param", ".. "):
        assert markup not in text


def test_top_level_help_lists_the_commands_and_the_traceback_option(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for name, (_, help) in COMMANDS.items():
        assert name in text and help in text
    assert "--traceback" in text and "TRICENTER_TRACEBACK" in text


def test_missing_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit:
        main([])
    assert exit.value.code == 2
    assert "the following arguments are required: COMMAND" in capsys.readouterr().err


def test_missing_configuration_file(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TRICENTER_TRACEBACK", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "missing.yaml"]) == EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "tricenter train: error: configuration file 'missing.yaml' not found\n"
    )


def test_malformed_configuration_file(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TRICENTER_TRACEBACK", raising=False)
    config = tmp_path / "config.yaml"
    config.write_text("data: [1, 2\n")
    assert main(["train", str(config)]) == EXIT_ERROR
    error = capsys.readouterr().err
    assert error.startswith("tricenter train: error: ")
    assert "while parsing a flow sequence" in error
    assert "Traceback" not in error


def test_missing_checkpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TRICENTER_TRACEBACK", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["export", "missing.ckpt"]) == EXIT_ERROR
    error = capsys.readouterr().err
    assert (
        error == "tricenter export: error: checkpoint 'missing.ckpt' does not exist\n"
    )
    assert not (tmp_path / "model.pt").exists()


def test_traceback_option_and_variable_raise(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRICENTER_TRACEBACK", raising=False)
    with pytest.raises(FileNotFoundError, match="'missing.yaml' not found"):
        main(["--traceback", "train", "missing.yaml"])
    monkeypatch.setenv("TRICENTER_TRACEBACK", "1")
    with pytest.raises(FileNotFoundError, match="'missing.ckpt' does not exist"):
        main(["export", "missing.ckpt"])


def test_traceback_option_after_the_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRICENTER_TRACEBACK", raising=False)
    with pytest.raises(FileNotFoundError, match="'missing.yaml' not found"):
        main(["train", "missing.yaml", "--traceback"])
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--traceback" in capsys.readouterr().out


def _failing_command(monkeypatch, exception):
    module = importlib.import_module(COMMANDS["train"][0])

    def run_cli(args):
        raise exception

    monkeypatch.setattr(module, "run_cli", run_cli)
    monkeypatch.delenv("TRICENTER_TRACEBACK", raising=False)


def test_interrupted(monkeypatch, capsys):
    _failing_command(monkeypatch, KeyboardInterrupt())
    assert main(["train", "config.yaml"]) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "tricenter train: interrupted\n"
    with pytest.raises(KeyboardInterrupt):
        main(["--traceback", "train", "config.yaml"])


def test_missing_optional_dependency(monkeypatch, capsys):
    message = "DFT labels need PySCF: install it with `pip install tricenter[dft]`"
    _failing_command(monkeypatch, ImportError(message))
    assert main(["train", "config.yaml"]) == EXIT_ERROR
    assert capsys.readouterr().err == f"tricenter train: error: {message}\n"


def test_bugs_keep_their_traceback(monkeypatch):
    _failing_command(monkeypatch, RuntimeError("shape mismatch"))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        main(["train", "config.yaml"])


def test_fresh_process_prints_the_error_without_traceback(tmp_path):
    missing = tmp_path / "missing.yaml"
    result = _tricenter("train", str(missing))
    assert result.returncode == EXIT_ERROR
    assert result.stderr == (
        f"tricenter train: error: configuration file '{missing}' not found\n"
    )
    result = _tricenter("train", str(missing), env={"TRICENTER_TRACEBACK": "1"})
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.endswith(
        f"FileNotFoundError: configuration file '{missing}' not found\n"
    )


# what ``import tricenter`` and ``tricenter --help`` must not import: the heavy
# dependencies load only when a feature or a sub-command needs them
_HEAVY = ["metatensor", "metatomic", "numpy", "torch", "yaml"]


@pytest.mark.parametrize("argv", [None, ["--help"], ["--version"]])
def test_import_and_help_stay_light(argv):
    code = "import tricenter"
    if argv is not None:
        code = f"from tricenter.cli import main\ntry:\n    main({argv!r})\n"
        code += "except SystemExit:\n    pass"
    report = "print(sorted({name.split('.')[0] for name in sys.modules}))"
    result = subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}\n{report}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    imported = set(eval(result.stdout.splitlines()[-1]))
    assert "tricenter" in imported
    assert imported.isdisjoint(_HEAVY)
