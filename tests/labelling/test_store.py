import fcntl
import json
import os
import signal
import subprocess
import sys
import time

import ase
import ase.io
import numpy as np
import pytest
from ase.build import molecule
from ase.units import Hartree

from tricenter.labelling import executors as _parallel
from tricenter.labelling import store as _records
from tricenter.labelling.label import (
    LabellingInputError,
    compute_label,
    failed_path,
    label_file,
    read_labelled,
)

from .waters import CHEAP, METHOD, energies, waters, write


# every test here labels with PySCF's cheapest method
pytest.importorskip("pyscf", reason="these tests label with PySCF (tricenter[dft])")


def test_label_file_records(labelled_waters):
    source, output = labelled_waters
    frames = read_labelled(output)
    inputs = ase.io.read(source, index=":")
    assert sorted(atoms.info["frame"] for atoms in frames) == [0, 1, 2, 3]
    for atoms in frames:
        original = inputs[atoms.info["frame"]]
        np.testing.assert_allclose(atoms.positions, original.positions, atol=1e-8)
        # the input's own info is kept
        assert atoms.info["name"] == original.info["name"]
        assert atoms.get_forces().shape == (3, 3)
        energy_ev = atoms.get_potential_energy()
        assert energy_ev == pytest.approx(atoms.info["energy_ha"] * Hartree)
    assert not failed_path(output).exists()


def test_relabelling_an_output_replaces_its_labels(labelled_waters, tmp_path):
    _, output = labelled_waters
    relabelled = tmp_path / "again.xyz"
    label_file(output, relabelled, METHOD, smearing=0, **CHEAP)
    for atoms in read_labelled(relabelled):
        assert atoms.info["smearing_ha"] == 0
        assert "smearing_method" in atoms.info and "reference_hash" not in atoms.info
        assert atoms.calc is not None and "forces" not in atoms.calc.results
        assert atoms.info["name"].startswith("water-")


def test_rerun_skips_labelled_frames(labelled_waters, tmp_path):
    source, output = labelled_waters
    copy = tmp_path / "out.xyz"
    copy.write_bytes(output.read_bytes())
    summary = label_file(source, copy, METHOD, forces=True, **CHEAP)
    assert (summary.n_done_before, summary.n_labelled) == (4, 0)
    assert copy.read_bytes() == output.read_bytes()


def _record_ends(data):
    return [end for _, end in _records.frame_chunks(data)]


@pytest.mark.parametrize("cut", ["header", "comment", "mid-line", "last-newline"])
def test_truncated_trailing_record_is_repaired(labelled_waters, tmp_path, cut):
    source, output = labelled_waters
    data = output.read_bytes()
    ends = _record_ends(data)
    assert len(ends) == 4
    last = data[ends[2] :]
    keep = {
        "header": 2,
        "comment": last.index(b"\n") + 20,
        "mid-line": len(last) - 30,
        "last-newline": len(last) - 1,
    }[cut]
    broken = tmp_path / "out.xyz"
    broken.write_bytes(data[: ends[2]] + last[:keep])

    # a half-written record is never read back
    assert len(read_labelled(broken)) == 3

    summary = label_file(source, broken, METHOD, forces=True, **CHEAP)
    assert (summary.n_done_before, summary.n_labelled) == (3, 1)
    repaired = broken.read_bytes()
    assert repaired[: ends[2]] == data[: ends[2]]
    frames = read_labelled(broken)
    assert [atoms.info["frame"] for atoms in frames] == [0, 1, 2, 3]
    expected = energies(read_labelled(output))
    for frame, energy in energies(frames).items():
        assert energy == pytest.approx(expected[frame], abs=1e-8)


def _count_records(path):
    return len(_record_ends(path.read_bytes())) if path.exists() else 0


def test_sigkill_and_resume_match_an_uninterrupted_run(tmp_path):
    frames = waters(24, seed=1)
    source = write(tmp_path / "in.xyz", frames)
    output = tmp_path / "out.xyz"
    command = [
        sys.executable,
        "-m",
        "tricenter",
        "label",
        str(source),
        "-o",
        str(output),
        "--method",
        METHOD,
        "--grid-level",
        "0",
        "--threads",
        "1",
        "--quiet",
    ]
    environment = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 300
        while _count_records(output) < 3:
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "no record appeared in time"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    n_killed = _count_records(output)
    assert 3 <= n_killed < len(frames), "the run finished before it was killed"

    finished = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=300
    )
    assert finished.returncode == 0, finished.stderr
    assert f"24/24 frames labelled in '{output}' ({24 - n_killed} now" in (
        finished.stderr
    )

    resumed = read_labelled(output)
    frame_ids = [atoms.info["frame"] for atoms in resumed]
    assert len(frame_ids) == len(set(frame_ids)) == len(frames)

    uninterrupted = tmp_path / "uninterrupted.xyz"
    label_file(source, uninterrupted, METHOD, **CHEAP)
    expected = energies(read_labelled(uninterrupted))
    obtained = energies(resumed)
    assert obtained.keys() == expected.keys()
    for frame, energy in expected.items():
        assert obtained[frame] == pytest.approx(energy, abs=1e-8)


def test_unconverged_frames_are_excluded_and_reported(tmp_path):
    source = write(tmp_path / "in.xyz", waters(2))
    output = tmp_path / "out.xyz"
    summary = label_file(source, output, METHOD, max_cycle=1, **CHEAP)
    assert summary.n_labelled == 0 and not summary.complete
    assert sorted(summary.failed) == [0, 1]
    assert all("did not converge" in reason for reason in summary.failed.values())
    assert read_labelled(output) == []

    entries = [
        json.loads(line) for line in failed_path(output).read_text().split("\n") if line
    ]
    assert [entry["frame"] for entry in entries] == [0, 1]
    for entry in entries:
        assert entry["converged"] is False
        assert entry["method"] == METHOD
        assert len(entry["history"]) == 3

    # failed frames are not retried by default ...
    again = label_file(source, output, METHOD, max_cycle=1, **CHEAP)
    assert again.n_labelled == 0 and sorted(again.failed) == [0, 1]
    # ... but on request, here with enough cycles
    retried = label_file(source, output, METHOD, retry_failed=True, **CHEAP)
    assert retried.n_labelled == 2 and retried.failed == {} and retried.complete
    assert len(read_labelled(output)) == 2


def test_reference_gives_targets_and_is_reused(tmp_path, monkeypatch):
    source = write(tmp_path / "in.xyz", waters(3))
    reference = write(tmp_path / "ref.xyz", [molecule("H2O")])
    output = tmp_path / "out.xyz"
    label_file(source, output, METHOD, reference=reference, **CHEAP)
    e_ref = compute_label(molecule("H2O"), METHOD, grid_level=0, threads=1)
    for atoms in read_labelled(output):
        info = atoms.info
        assert info["reference_energy_ha"] == pytest.approx(
            e_ref.info["energy_ha"], abs=1e-10
        )
        target = (info["energy_ha"] - info["reference_energy_ha"]) * Hartree
        assert info["target"] == pytest.approx(target, rel=1e-12)

    # on resume, the stored reference energy is used instead of a new calculation
    data = output.read_bytes()
    output.write_bytes(data[: _record_ends(data)[1]])
    calls = []
    original = _parallel.run_task

    def counting(task, threads=None):
        calls.append(task[0])
        return original(task, threads)

    monkeypatch.setattr(_parallel, "run_task", counting)
    label_file(source, output, METHOD, reference=reference, **CHEAP)
    assert calls == [2]


def test_local_process_pool_matches_serial(labelled_waters, tmp_path):
    source, output = labelled_waters
    parallel = tmp_path / "parallel.xyz"
    summary = label_file(source, parallel, METHOD, forces=True, workers=2, **CHEAP)
    assert summary.complete
    expected = {a.info["frame"]: a for a in read_labelled(output)}
    frames = read_labelled(parallel)
    assert sorted(expected) == sorted(a.info["frame"] for a in frames)
    for atoms in frames:
        reference = expected[atoms.info["frame"]]
        assert atoms.get_potential_energy() == pytest.approx(
            reference.get_potential_energy(), abs=1e-8
        )
        np.testing.assert_allclose(
            atoms.get_forces(), reference.get_forces(), atol=1e-6
        )


def test_dask_scheduler_matches_serial(labelled_waters, tmp_path):
    distributed = pytest.importorskip(
        "distributed",
        reason="dask.distributed is not installed (tricenter[distributed])",
    )
    source, output = labelled_waters
    expected = energies(read_labelled(output))
    with distributed.LocalCluster(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
    ) as cluster:
        by_address = tmp_path / "address.xyz"
        summary = label_file(
            source,
            by_address,
            METHOD,
            forces=True,
            scheduler=cluster.scheduler_address,
            **CHEAP,
        )
        assert summary.complete
        with distributed.Client(cluster) as client:
            by_client = tmp_path / "client.xyz"
            label_file(
                source, by_client, METHOD, forces=True, scheduler=client, **CHEAP
            )
    for path in (by_address, by_client):
        obtained = energies(read_labelled(path))
        assert obtained.keys() == expected.keys()
        for frame, energy in expected.items():
            assert obtained[frame] == pytest.approx(energy, abs=1e-8)


def _overlapping():
    frames = waters(2)
    frames[1].positions[2] = frames[1].positions[0] + [0.3, 0.0, 0.0]
    return frames


@pytest.mark.parametrize(
    "frames, match",
    [
        (_overlapping(), r"frame 1: atoms 0 and 2 are 0\.300 Å apart \(overlapping"),
        (
            [molecule("H2O"), ase.Atoms("Xe2", positions=[[0, 0, 0], [0, 0, 3.0]])],
            r"frame 1: basis set 'sto-3g' has no functions for Xe",
        ),
        (
            [ase.Atoms("H3", positions=[[0, 0, 0], [0, 0, 1.0], [0, 0, 2.0]])],
            r"frame 0: odd number of electrons \(3\)",
        ),
        (
            [
                ase.Atoms(
                    "H2", positions=[[0, 0, 0], [0, 0, 1.0]], cell=[5] * 3, pbc=True
                )
            ],
            r"frame 0: periodic structures are not supported",
        ),
    ],
)
def test_bad_structures(tmp_path, frames, match):
    source = write(tmp_path / "in.xyz", frames)
    with pytest.raises(LabellingInputError, match=match):
        label_file(source, tmp_path / "out.xyz", METHOD, **CHEAP)
    assert not (tmp_path / "out.xyz").exists()


def test_bad_files(tmp_path):
    output = tmp_path / "out.xyz"
    with pytest.raises(LabellingInputError, match="no such file"):
        label_file(tmp_path / "missing.xyz", output, METHOD, **CHEAP)

    text = (tmp_path / "in.xyz").write_text
    write(tmp_path / "good.xyz", waters(3))
    lines = (tmp_path / "good.xyz").read_text().splitlines(keepends=True)
    text("".join(lines[:-1]))
    with pytest.raises(LabellingInputError, match=r"frame 2 \(truncated or malformed"):
        label_file(tmp_path / "in.xyz", output, METHOD, **CHEAP)

    text("".join(lines[:7] + ["O 0.0 zero 0.0\n"] + lines[8:]))
    with pytest.raises(LabellingInputError, match=r"frame 1 \(malformed\)"):
        label_file(tmp_path / "in.xyz", output, METHOD, **CHEAP)

    text("")
    with pytest.raises(LabellingInputError, match="holds no structure"):
        label_file(tmp_path / "in.xyz", output, METHOD, **CHEAP)

    with pytest.raises(LabellingInputError, match="must be uncompressed"):
        label_file(tmp_path / "good.xyz", tmp_path / "out.xyz.gz", METHOD, **CHEAP)
    assert not output.exists()


def test_existing_output_is_never_damaged(labelled_waters, tmp_path):
    source, output = labelled_waters
    data = output.read_bytes()
    copy = tmp_path / "out.xyz"

    def attempt(match, *args, **kwargs):
        copy.write_bytes(data)
        with pytest.raises(LabellingInputError, match=match):
            label_file(*args, **{"forces": True, **kwargs})
        assert copy.read_bytes() == data

    other_input = write(tmp_path / "other.xyz", waters(4, seed=7))
    attempt("does not match the input structure", other_input, copy, METHOD, **CHEAP)
    attempt(
        "labelled with grid_level=0, this run asks for grid_level=1",
        source,
        copy,
        METHOD,
        **{**CHEAP, "grid_level": 1},
    )
    attempt("labelled with method='lda/sto-3g'", source, copy, "lda/3-21g", **CHEAP)
    short = write(tmp_path / "short.xyz", waters(2))
    attempt("no valid 'frame' key for the 2 input frames", short, copy, METHOD, **CHEAP)
    attempt(
        "frame 1: atoms 0 and 2",
        write(tmp_path / "bad.xyz", _overlapping()),
        copy,
        METHOD,
        **CHEAP,
    )

    attempt(
        "labelled with forces, this run does not ask for them",
        source,
        copy,
        METHOD,
        forces=False,
        **CHEAP,
    )
    reference = write(tmp_path / "ref.xyz", [molecule("H2O")])
    attempt(
        "frame 0: labelled with no reference, this run has a different one",
        source,
        copy,
        METHOD,
        reference=reference,
        **CHEAP,
    )

    # a second run into the same file waits for nobody: it stops
    copy.write_bytes(data)
    with open(copy, "ab") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        with pytest.raises(LabellingInputError, match="another process is labelling"):
            label_file(source, copy, METHOD, forces=True, **CHEAP)
    assert copy.read_bytes() == data

    # a file that is not a labelled output is left alone
    foreign = tmp_path / "notes.xyz"
    foreign.write_text("my precious notes\nmore notes\n")
    with pytest.raises(LabellingInputError, match="not written by this program"):
        label_file(source, foreign, METHOD, **CHEAP)
    assert foreign.read_text() == "my precious notes\nmore notes\n"
