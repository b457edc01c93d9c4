"""Pieces of ``benchmarks/silicon.py``: the diamond detector behind the DFT
energy-volume points, the radial distribution function, the budgets and the report
tables (the training runs themselves take hours and are not run here)."""

import ase
import ase.build
import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator

from . import script


@pytest.fixture(scope="module")
def silicon():
    return script("silicon"), script("silicon_report")


def _labelled(atoms, energy):
    atoms.calc = SinglePointCalculator(atoms, energy=energy * len(atoms))
    return atoms


def test_diamond_points_finds_diamond_cells_only(silicon):
    module, _ = silicon
    primitive = _labelled(ase.build.bulk("Si", "diamond", a=5.43), -5.42)
    cubic = _labelled(ase.build.bulk("Si", "diamond", a=5.50, cubic=True), -5.41)
    sheared = ase.build.bulk("Si", "diamond", a=5.43, cubic=True)
    sheared.set_cell(sheared.cell @ [[1, 0.05, 0], [0, 1, 0], [0, 0, 1]], True)
    others = [
        ase.build.bulk("Si", "fcc", a=3.9),
        ase.build.bulk("Si", "bcc", a=3.1),
        ase.build.bulk("Si", "sc", a=2.5),
        ase.build.bulk("Si", "hcp", a=2.7),
        sheared,
    ]
    frames = [primitive, cubic] + [_labelled(a, -5.0) for a in others]
    points = module.diamond_points(frames)
    assert len(points) == 2
    volumes, energies = np.array(points).T
    assert np.allclose(volumes, [5.43**3 / 8, 5.50**3 / 8])
    assert np.allclose(energies, [-5.42, -5.41])


def test_rdf_of_an_ideal_gas_is_one(silicon):
    module, _ = silicon
    rng = np.random.default_rng(0)
    frames = [
        ase.Atoms(
            "Si" * 400, positions=rng.uniform(0, 12, (400, 3)), cell=[12] * 3, pbc=True
        )
        for _ in range(5)
    ]
    r, g = module._rdf(frames, r_max=5.0, bins=10)
    assert np.allclose(r, np.arange(0.25, 5.0, 0.5))
    assert abs(np.mean(g[4:]) - 1.0) < 0.03


def test_rdf_of_diamond_counts_four_bonds(silicon):
    module, _ = silicon
    atoms = ase.build.bulk("Si", "diamond", a=5.43, cubic=True).repeat(2)
    r, g = module._rdf([atoms], r_max=5.0, bins=50)
    first = r[np.nonzero(g)[0][0]]
    assert abs(first - 5.43 * np.sqrt(3) / 4) < 0.05
    density = len(atoms) / atoms.get_volume()
    shells = 4 * np.pi * r**2 * (r[1] - r[0]) * density
    assert np.isclose(np.sum((g * shells)[r < 3.0]), 4.0, rtol=0.02)


def test_budgets_scale_with_the_training_set(silicon):
    module, _ = silicon
    assert module.budget_minutes(module.SIZES[-1]) == module.FULL_BUDGET
    assert module.budget_minutes(1) == module.MIN_BUDGET
    assert module.MIN_BUDGET < module.budget_minutes(1500) < module.FULL_BUDGET


@pytest.mark.parametrize(
    "options, message",
    [
        (["--model", "pet", "--channels", "8"], "tricenter potential only"),
        (["--model", "soap-bpnn", "--frame-radius", "2.5"], "tricenter potential only"),
        (["--model", "triplet", "--channels", "0"], "must be positive"),
    ],
)
def test_variant_options_are_checked_before_training(
    silicon, tmp_path, capsys, options, message
):
    module, _ = silicon
    with pytest.raises(SystemExit):
        module.main(["train", str(tmp_path), "--size", "500", *options])
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_nve_needs_a_finished_md_run(silicon, tmp_path, capsys):
    import json

    module, _ = silicon
    run = tmp_path / "triplet-500"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"model": "triplet", "md": {}}))
    options = ["--model", "triplet", "--size", "500", "--temperature", "300"]
    with pytest.raises(SystemExit):
        module.main(["nve", str(tmp_path), *options, "--timestep", "1"])
    assert "no finished MD of triplet-500 at 300 K" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        module.main(["nve", str(tmp_path), *options, "--timestep", "0"])
    assert "must be positive" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        module.main(["nve", str(tmp_path / "missing"), *options, "--timestep", "1"])
    assert "run.json" in capsys.readouterr().err


def test_nve_checks_survive_a_rerun_of_a_finished_md(silicon, tmp_path, monkeypatch):
    """The nve step reruns NVE from the end of an NVT run and stores its drift; the md
    step run again on a finished NVT run keeps those checks, and drops them when the
    NVT run goes on (its end state changes). Lennard-Jones stands in for a model."""
    import json

    from ase.calculators.lj import LennardJones

    module, _ = silicon
    monkeypatch.setattr(module, "_calculator", lambda path: LennardJones(rc=3.0))
    run = tmp_path / "triplet-500"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"model": "triplet"}))
    options = dict(picoseconds=0.1, timestep=1.0, nve_picoseconds=0.01)
    module.md(tmp_path, "triplet", 500, 300.0, **options)
    module.nve(tmp_path, "triplet", 500, 300.0, timestep=0.5, picoseconds=0.01)
    check = json.loads((run / "run.json").read_text())["md"]["300"]["nve"]["0.5"]
    assert check["timestep_fs"] == 0.5 and np.isfinite(check["drift_mev_atom_ps"])
    module.md(tmp_path, "triplet", 500, 300.0, **options)
    assert json.loads((run / "run.json").read_text())["md"]["300"]["nve"] == {
        "0.5": check
    }
    module.md(tmp_path, "triplet", 500, 300.0, **{**options, "picoseconds": 0.2})
    assert "nve" not in json.loads((run / "run.json").read_text())["md"]["300"]


def test_report_tables(silicon, tmp_path):
    _, report = silicon
    evaluation = {
        "energy_mae_mev_atom": 1.0,
        "energy_rmse_mev_atom": 2.0,
        "forces_mae_mev_a": 30.0,
        "forces_rmse_mev_a": 40.0,
        "eos": {"v0": 20.4, "e0": -5.4, "bulk_modulus_gpa": 90.0},
        "curve": [[19.0, -5.3], [20.4, -5.4], [22.0, -5.3]],
    }
    md = {
        "temperature_k": 300.0,
        "picoseconds": 10.0,
        "mean_temperature_k": 301.0,
        "min_distance_a": 2.1,
        "stable": True,
        "nve_drift_mev_atom_ps": 0.01,
        "seconds_per_step": 0.1,
        "rdf": [[2.35], [3.0]],
    }
    result = {
        "runs": [
            {
                "model": "pet",
                "size": 500,
                "budget_minutes": 5.0,
                "training_minutes": 5.2,
                "epochs": 3,
                "exit": "timeout",
                "md": {"300": md},
                "frame_radius": None,
                **evaluation,
            }
        ],
        "diamond_dft_points": [[20.4, -5.42]],
        "diamond_dft_eos": None,
    }
    result["runs"].append({**result["runs"][0], "size": 1500, "eos": None, "md": {}})
    text = report.markdown(result)
    assert "| PET | 1500 | no minimum fitted | – | – |" in text
    assert "| PET | 500 | 5 | 5.2 | 3 | 1.0 | 2.0 | 30.0 | 40.0 | – |" in text
    assert "| PET | 500 | 300 | 10.0 | 301 | 2.10 | yes | 0.010 | 0.100 |" in text
    assert "NVE from the end" not in text
    md["nve"] = {
        "1": {
            "timestep_fs": 1.0,
            "picoseconds": 1.0,
            "drift_mev_atom_ps": 0.004,
            "fluctuation_mev_atom": 0.012,
        }
    }
    text = report.markdown(result)
    assert "| PET | 500 | 300 | 1 | 1 | 0.004 | 0.012 |" in text
    # frame-radius variants of the potential: in their own table only
    triplet = {**result["runs"][0], "model": "triplet", "md": {}}
    result["runs"] += [
        triplet,
        {**triplet, "frame_radius": 4.0, "epochs": 2},
        {**triplet, "channels": 2 * report.DEFAULT_CHANNELS, "epochs": 4},
    ]
    text = report.markdown(result)
    # the default potential in the main and the energy-volume tables, not its
    # variants
    assert text.count("| tricenter potential | 500 |") == 2
    assert "| tricenter potential | 500 | 5 | 5.2 | 2 |" not in text
    assert "| tricenter potential | 500 | 5 | 5.2 | 4 |" not in text
    default, more = report.DEFAULT_CHANNELS, 2 * report.DEFAULT_CHANNELS
    assert f"| 3.0 | {default} | 500 | 3 | 2.0 | 40.0 | – |" in text
    assert f"| 3.0 | {more} | 500 | 4 | 2.0 | 40.0 | – |" in text
    assert f"| 4.0 | {default} | 500 | 2 | 2.0 | 40.0 | – |" in text
    report.plot_md(result, tmp_path / "md.png")
    assert (tmp_path / "md.png").read_bytes()[:4] == b"\x89PNG"
