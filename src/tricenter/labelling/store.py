"""
The files of the labelling pipeline: reading input, appending and repairing output.

A labelled output is an extended XYZ file that only grows, one complete frame per
``write`` + ``flush`` + ``fsync``; a frame cut short by a killed writer is detected
(:py:func:`~tricenter.datasets.extxyz.frame_chunks`) and truncated away before
anything else is appended. The failures go, one JSON object per line, to a sibling
``.failed.jsonl`` file.
"""

import contextlib
import dataclasses
import hashlib
import io
import json
import math
import os
import time
from pathlib import Path

import ase
import ase.io
import numpy as np
from ase.units import Bohr, Hartree

from .. import __version__
from ..datasets.extxyz import frame_chunks, read_extxyz
from .methods import Method


#: labels of an input frame (say, an earlier output) that a new labelling replaces
_STALE_INFO = {
    "energy",
    "free_energy",
    "energy_ha",
    "target",
    "forces",
    "stress",
    "reference_energy_ha",
    "reference_hash",
    "converged",
    "scf_attempt",
    "scf_history",
    "wall_time_s",
    "pyscf_version",
    "tblite_version",
    "tricenter_version",
    "method",
    "smearing_ha",
    *(field.name for field in dataclasses.fields(Method) if field.name != "name"),
}
_STALE_ARRAYS = {"forces", "gradient", "gradient_habohr"}
#: settings that change the retry ladder, never the converged result
LADDER_ONLY = {"max_cycle"}


class LabellingInputError(ValueError):
    """Input that cannot be labelled: the message names the file and the frame."""


def read_frames(path: "str | os.PathLike") -> list[ase.Atoms]:
    """
    Read all the structures of an extended XYZ file, naming the faulty frame if that
    fails.

    :param path: extended XYZ file, possibly compressed, see
        :py:func:`~tricenter.datasets.extxyz.read_extxyz`
    :return: the structures
    :raises LabellingInputError: if the file is missing, empty or malformed
    """
    try:
        return read_extxyz(path)
    except (FileNotFoundError, ValueError) as error:
        raise LabellingInputError(str(error)) from error


def read_labelled(path: "str | os.PathLike") -> list[ase.Atoms]:
    """
    Read the complete frames of a labelled output, ignoring a half-written tail.

    :param path: output of :py:func:`label_file`
    :return: the labelled frames, in the order they were written
    """
    data = Path(path).read_bytes()
    end = _complete_frames_end(data)
    if end == 0:
        return []
    return ase.io.read(io.StringIO(data[:end].decode()), index=":", format="extxyz")


def _complete_frames_end(data: bytes) -> int:
    """Byte offset just after the last complete XYZ frame at the start of ``data``."""
    chunks = frame_chunks(data)
    return chunks[-1][1] if chunks else 0


def _is_partial_frame(tail: bytes) -> bool:
    """Whether ``tail`` looks like the beginning of one XYZ frame, and nothing more."""
    lines = tail.split(b"\n")
    if not lines[0].strip().isdigit():
        return False
    if len(lines) == 1:
        return True
    return len(lines) <= int(lines[0]) + 2


@contextlib.contextmanager
def exclusive(output: Path):
    """Hold an advisory lock on ``output``: two runs must not append to one file."""
    import fcntl

    with open(output, "ab") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LabellingInputError(
                f"another process is labelling into '{output}'"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def recover_output(output: Path, frames, method: Method, forces: bool):
    """
    Repair and read an existing output file.

    :return: ``{frame: info}`` of the labelled frames and ``{hash: energy}`` of the
        references they used
    """
    if not output.exists():
        return {}, {}
    data = output.read_bytes()
    end = _complete_frames_end(data)
    if end < len(data):
        if not _is_partial_frame(data[end:]):
            raise LabellingInputError(
                f"'{output}' holds something other than labelled frames after byte "
                f"{end}; it was not written by this program, move it away"
            )
        # a record cut short by a kill: drop it, it is recomputed
        with open(output, "r+b") as fd:
            fd.truncate(end)
            fd.flush()
            os.fsync(fd.fileno())
        data = data[:end]
    records = {}
    references = {}
    expected = {
        key: value for key, value in method.metadata().items() if key not in LADDER_ONLY
    }
    if not data:
        return {}, {}
    try:
        stored = ase.io.read(io.StringIO(data.decode()), index=":", format="extxyz")
    except Exception as error:  # noqa: BLE001 -- ASE raises many types here
        raise LabellingInputError(
            f"cannot read the existing output '{output}' ({error}); it was not "
            "written by this program, move it away"
        ) from None
    for position, atoms in enumerate(stored):
        header = atoms.info
        where = f"'{output}', record {position}"
        frame = header.get("frame")
        if not isinstance(frame, (int, np.integer)) or not 0 <= frame < len(frames):
            raise LabellingInputError(
                f"{where}: no valid 'frame' key for the {len(frames)} input frames; "
                "was it written for another input?"
            )
        frame = int(frame)
        if frame in records:
            raise LabellingInputError(f"{where}: frame {frame} is labelled twice")
        for key, value in expected.items():
            old = header.get(key)
            old = old.item() if isinstance(old, np.generic) else old
            same = (
                math.isclose(old, value, rel_tol=1e-12)
                if isinstance(value, float) and isinstance(old, (int, float))
                else old == value
            )
            if not same:
                raise LabellingInputError(
                    f"{where}: labelled with {key}={old!r}, this run asks for "
                    f"{key}={value!r}; write to another output file"
                )
        has_forces = atoms.calc is not None and "forces" in atoms.calc.results
        if has_forces != forces:
            raise LabellingInputError(
                f"{where}: labelled {'with' if has_forces else 'without'} forces, "
                f"this run {'asks for' if forces else 'does not ask for'} them; write "
                "to another output file"
            )
        source = frames[frame]
        if len(atoms) != len(source) or not (
            np.array_equal(atoms.numbers, source.numbers)
            and np.allclose(atoms.positions, source.positions, atol=1e-6)
        ):
            raise LabellingInputError(
                f"{where}: frame {frame} does not match the input structure; was it "
                "written for another input?"
            )
        records[frame] = header
        if "reference_hash" in header:
            references[header["reference_hash"]] = header["reference_energy_ha"]
    return records, references


def failed_path(output: "str | os.PathLike") -> Path:
    """Path of the log of failed frames that goes with the labelled ``output``."""
    output = Path(output)
    return output.with_name(output.name + ".failed.jsonl")


def recover_failed(path: Path) -> dict:
    """Read the failure log, dropping a half-written last line."""
    if not path.exists():
        return {}
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as fd:
            fd.truncate(end)
            fd.flush()
            os.fsync(fd.fileno())
    failed = {}
    for number, line in enumerate(data[:end].decode().splitlines()):
        if line.strip():
            try:
                entry = json.loads(line)
                failed[int(entry["frame"])] = entry
            except (ValueError, KeyError, TypeError) as error:
                raise LabellingInputError(
                    f"'{path}', line {number + 1}: not a failure record ({error})"
                ) from None
    return failed


@contextlib.contextmanager
def record_writer(path: Path):
    """Append whole records to ``path``, each durable before the next starts."""
    handle = None

    def write(text: str):
        nonlocal handle
        if handle is None:
            handle = open(path, "ab")
        handle.write(text.encode())
        handle.flush()
        os.fsync(handle.fileno())

    try:
        yield write
    finally:
        if handle is not None:
            handle.close()


def to_extxyz(atoms: ase.Atoms) -> str:
    buffer = io.StringIO()
    ase.io.write(buffer, atoms, format="extxyz")
    return buffer.getvalue()


def structure_hash(atoms: ase.Atoms) -> str:
    digest = hashlib.sha1(atoms.numbers.astype(np.int64).tobytes())
    digest.update(np.round(atoms.positions, 6).astype(np.float64).tobytes())
    digest.update(str(atoms.info.get("charge", 0)).encode())
    return digest.hexdigest()[:16]


def labelled_frame(atoms, index, method, outcome, reference) -> ase.Atoms:
    labelled = ase.Atoms(
        numbers=atoms.numbers,
        positions=atoms.positions,
        cell=atoms.cell,
        pbc=atoms.pbc,
    )
    for key, value in atoms.arrays.items():
        if key not in ("numbers", "positions") and key not in _STALE_ARRAYS:
            labelled.arrays[key] = value.copy()
    info = {k: v for k, v in atoms.info.items() if k not in _STALE_INFO}
    if index is not None:
        info["frame"] = index
    info["energy"] = outcome.energy * Hartree
    info["energy_ha"] = outcome.energy
    if reference is not None:
        energy, key = reference
        info["target"] = (outcome.energy - energy) * Hartree
        info["reference_energy_ha"] = energy
        if key is not None:
            info["reference_hash"] = key
    info["converged"] = True
    info.update(method.metadata())
    info["scf_attempt"] = outcome.attempt
    info["scf_history"] = "; ".join(outcome.history)
    info["wall_time_s"] = round(outcome.wall_time, 3)
    version_key, version_value = outcome.version
    info[version_key] = version_value
    info["tricenter_version"] = __version__
    labelled.info = info
    if outcome.gradient is not None:
        labelled.arrays["forces"] = -outcome.gradient * (Hartree / Bohr)
    return labelled


def failure_entry(index, method, outcome) -> dict:
    version_key, version_value = outcome.version
    return {
        "frame": index,
        "method": method.name,
        "converged": False,
        "reason": outcome.reason,
        "history": outcome.history,
        "wall_time_s": round(outcome.wall_time, 3),
        "settings": method.metadata(),
        version_key: version_value,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
