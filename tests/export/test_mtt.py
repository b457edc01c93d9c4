"""Exported models in metatrain's ``mtt eval``."""

import importlib.util
import subprocess

import ase
import ase.build
import ase.io
import numpy as np
import pytest
from metatomic.torch import (
    ModelOutput,
)

from .helpers import calculator, executable, periodic_cell


def test_mtt_eval(exported, tmp_path):
    """metatrain's ``mtt eval`` predicts the energies that ASE computes."""
    mtt = executable("mtt")
    if importlib.util.find_spec("metatrain") is None or mtt is None:
        pytest.skip("metatrain is not installed (pip install metatrain)")
    frames = [periodic_cell(seed=seed) for seed in (14, 15, 16)]
    ase.io.write(tmp_path / "structures.xyz", frames)
    (tmp_path / "options.yaml").write_text(
        "systems:\n  read_from: structures.xyz\n  length_unit: angstrom\n"
    )
    process = subprocess.run(
        [mtt, "eval", str(exported), "options.yaml", "-o", "predictions.xyz"]
        + ["--check-consistency"]
        + ["--no-warm-up"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    predictions = ase.io.read(tmp_path / "predictions.xyz", ":")
    assert len(predictions) == len(frames)
    for atoms, predicted in zip(frames, predictions):
        atoms.calc = calculator(exported)
        energy = predicted.get_potential_energy()
        # extxyz round trips positions through text: agree to 1e-8 relative
        assert abs(energy - atoms.get_potential_energy()) < 1e-8 * abs(energy)
        latent = atoms.calc.run_model(
            atoms, {"feature": ModelOutput(sample_kind="atom")}
        )["feature"]
        np.testing.assert_allclose(
            predicted.arrays["feature"], latent.block().values.numpy(), atol=1e-7
        )
