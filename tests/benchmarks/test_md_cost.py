"""``benchmarks/md_cost.py --quick`` on tiny systems: the structure of its JSON, and
a model with wrong forces reported as failed and never timed (no timing
thresholds)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from . import script


ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "md_cost.py"
FAULTY = "tricenter tests.benchmarks.faulty:detached_positions"
GOOD = "tricenter triplet-energy"


def _models_module():
    return script("md_cost_models")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    for module in ("metatrain", "metatomic_ase", "spex"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install metatrain[soap-bpnn])")
    output = tmp_path_factory.mktemp("md-cost") / "md-cost"
    environment = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    command = [sys.executable, str(SCRIPT), "--quick", "--cases", "si"]
    command += ["--si-repeat", "1", "--sizes", "1", "--dtypes", "float64"]
    command += ["--threads", "1", "--cutoff", "3.0", "--max-angular", "1"]
    command += ["--max-radial", "1", "--output", str(output), "--tricenter"]
    command += ["triplet-energy", FAULTY.split(" ", 1)[1]]
    process = subprocess.run(
        command, capture_output=True, text=True, env=environment, timeout=900
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return output, json.loads(Path(f"{output}.json").read_text())


def test_outputs_and_structure(quick):
    output, result = quick
    assert Path(f"{output}.md").read_text().startswith("# MD cost")
    assert Path(f"{output}.png").read_bytes()[:4] == b"\x89PNG"
    meta = result["meta"]
    assert meta["quick"] and meta["cutoff"] == 3.0 and meta["device"] == "cpu"
    assert len(meta["load_average_start"]) == 3
    assert set(result["force_checks"]) == {GOOD, FAULTY, "SOAP-BPNN", "PET"}
    timed = {
        (t["model"], t["case"], t["dtype"], t["threads"]) for t in result["timings"]
    }
    assert timed == {(m, "si", "float64", 1) for m in (GOOD, "SOAP-BPNN", "PET")}
    for timing in result["timings"]:
        assert timing["n_atoms"] == 8
        assert len(timing["times_s"]) == 1 and timing["median_s"] > 0
        assert timing["peak_rss_mib"] >= timing["baseline_rss_mib"] > 0
    (ratio,) = result["ratios"]
    medians = {t["model"]: t["median_s"] for t in result["timings"]}
    assert ratio["vs_PET"] == pytest.approx(medians[GOOD] / medians["PET"])
    assert ratio["vs_SOAP-BPNN"] == pytest.approx(medians[GOOD] / medians["SOAP-BPNN"])
    assert {s["model"] for s in result["scaling"]} == {GOOD, "SOAP-BPNN", "PET"}
    assert result["scaling_fits"][GOOD]["n_atoms"] == [8]


def test_force_check_rejects_wrong_forces(quick):
    _, result = quick
    for model in (GOOD, "SOAP-BPNN", "PET"):
        check = result["force_checks"][model]["si"]
        assert check["passed"] and check["relative_error"] <= 1e-5
    faulty = result["force_checks"][FAULTY]["si"]
    assert not faulty["passed"] and faulty["relative_error"] > 1e-2
    assert FAULTY not in {t["model"] for t in result["timings"]}
    assert FAULTY not in {s["model"] for s in result["scaling"]}


def test_soap_bpnn_needs_sphericart_import(quick):
    _, result = quick
    verification = result["sphericart_verification"]
    assert verification["with_sphericart_import"]["passed"]
    assert verification["without_sphericart_import"]["relative_error"] > 1e-3


def test_water_box():
    models = _models_module()
    atoms = models.water_box(16, seed=3)
    assert atoms.get_chemical_formula() == "H32O16"
    density = atoms.get_masses().sum() / atoms.get_volume() / 0.602214
    assert density == pytest.approx(1.0, rel=1e-3)
    distances = atoms.get_all_distances(mic=True)
    molecule = np.arange(len(atoms)) // 3
    between = distances[molecule[:, None] != molecule[None, :]]
    assert between.min() >= 1.6
    within = distances[(molecule[:, None] == molecule[None, :]) & (distances > 0)]
    assert within.min() > 0.8 and within.max() < 1.8


def test_unknown_tricenter_model():
    models = _models_module()
    with pytest.raises(ValueError, match="unknown tricenter model 'nope'"):
        models.tricenter_factory("nope")
    assert models.tricenter_factory("triplet-energy") is models.triplet_energy


def test_cuda_option_skips_cleanly_without_a_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the CUDA benchmark would run")
    process = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cuda"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0
    assert "CUDA is not available" in process.stdout
