"""
Label structures with DFT (PySCF) or GFN-xTB (tblite), resumably and in parallel.

:py:func:`label_file` reads an extended XYZ file and appends one labelled frame at a
time to the output, each with a single ``write`` followed by ``flush`` and
``fsync``. Records are keyed by the index of the input frame (``info["frame"]``):
rerunning the same command skips the frames already labelled, so a run killed at
any point (even with ``SIGKILL``) loses nothing it computed and duplicates nothing.
A half-written trailing record is detected on the next run and cut off before
anything is appended. Structures whose SCF does not converge, even with the
stronger settings of the retry ladder, never enter the labelled output: they are
appended, with the reason, to ``OUTPUT.failed.jsonl``.

Work runs serially, on local processes (``workers``) or on a Dask cluster
(``scheduler``); only the calling process writes, in completion order.

Each labelled frame carries, in ``info``: ``frame``, ``energy`` (eV),
``energy_ha`` (Hartree), ``target = E - E_ref`` (eV, only with a reference),
``reference_energy_ha``, ``converged``, the SCF attempt that converged, every setting
of the method and the version of the code that ran it; with forces, the ``forces``
array holds ``-dE/dR`` in eV/Å.

>>> from ase.build import molecule
>>> labelled = compute_label(molecule("H2O"), "lda/sto-3g", grid_level=0, threads=1)
>>> round(labelled.info["energy_ha"], 3), labelled.info["smearing_ha"]
(-74.083, 0.01)
"""

import contextlib
import gzip
import hashlib
import io
import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import ase
import ase.io
import numpy as np
from ase.units import Bohr, Hartree

from ._methods import (
    Method,
    MethodError,
    check_structure,
    parse_method,
    run_calculation,
)


__all__ = [
    "LabellingInputError",
    "LabellingSummary",
    "Method",
    "MethodError",
    "SCFNotConvergedError",
    "add_cli_arguments",
    "compute_label",
    "default_dataset_path",
    "failed_path",
    "label_file",
    "parse_method",
    "read_default_dataset",
    "read_labelled",
    "run_cli",
]

#: labels of an input frame that a new labelling replaces
_STALE_INFO = {"energy", "free_energy", "energy_ha", "target", "forces", "stress"}
_STALE_ARRAYS = {"forces", "gradient", "gradient_habohr"}
#: settings that change the retry ladder, never the converged result
_LADDER_ONLY = {"max_cycle"}


class LabellingInputError(ValueError):
    """Input that cannot be labelled: the message names the file and the frame."""


class SCFNotConvergedError(RuntimeError):
    """The SCF of a structure did not converge with any setting of the retry ladder."""


def default_dataset_path() -> Path:
    """
    Path of the embedded GFN2-xTB B8 data set.

    The 4000 bispectrum-degenerate B8 pairs of the paper (seed 12345, frame ``2k`` is
    pair ``k`` '+', ``2k + 1`` its '-' partner), labelled by
    ``scripts/make_xtb_dataset.py`` with GFN2-xTB: ``energy`` and ``target`` (eV,
    relative to the B8 minimum) in ``info``, ``forces`` (eV/Å).

    :return: path of the gzip-compressed extended XYZ file
    """
    return Path(str(files("tricenter") / "data" / "b8-xtb-pairs.xyz.gz"))


def read_default_dataset(index=":") -> list[ase.Atoms]:
    """
    Read the embedded GFN2-xTB B8 data set, see :py:func:`default_dataset_path`.

    The file is decompressed in memory first: ``ase.io.read`` seeks back and forth
    in a compressed extended XYZ file, which makes reading all 8000 frames from the
    ``.gz`` path take minutes instead of seconds.

    :param index: which frames, as for :py:func:`ase.io.read`
    :return: the frames; ``get_potential_energy()`` and ``get_forces()`` give the
        GFN2-xTB energy (eV) and forces (eV/Å), ``info["target"]`` the energy
        relative to the B8 minimum (eV)
    """
    with gzip.open(default_dataset_path(), "rt") as fd:
        text = fd.read()
    frames = ase.io.read(io.StringIO(text), index=index, format="extxyz")
    return frames if isinstance(frames, list) else [frames]


def compute_label(
    atoms: ase.Atoms,
    method: "str | Method" = "pbe/cc-pvdz",
    *,
    forces: bool = False,
    reference_energy: float | None = None,
    min_distance: float = 0.5,
    threads: int | None = None,
    **settings,
) -> ase.Atoms:
    """
    Label one structure.

    :param atoms: the structure (a molecule: no periodic boundary conditions)
    :param method: method string (``"pbe/cc-pvdz"``, ``"gfn2-xtb"``, ...) or a
        :py:class:`Method`
    :param forces: also compute the forces, stored as ``arrays["forces"]`` in eV/Å
    :param reference_energy: energy of the reference structure in Hartree; when
        given, ``info["target"]`` is ``E - E_ref`` in eV
    :param min_distance: atoms closer than this (Å) are rejected as overlapping
    :param threads: OpenMP threads of PySCF in this process (default: unchanged)
    :param settings: method settings overriding the defaults, see
        :py:func:`parse_method` (``smearing``, ``grid_level``, ``max_cycle``, ...)
    :return: a copy of ``atoms`` with the labels in ``info`` (and ``arrays``)
    :raises LabellingInputError: if the structure cannot be labelled by ``method``
    :raises SCFNotConvergedError: if no SCF attempt converged
    """
    method = parse_method(method, **settings)
    try:
        check_structure(atoms, method, min_distance)
    except ValueError as error:
        raise LabellingInputError(str(error)) from None
    _, outcome = _run_task((None, atoms, method, forces), threads)
    if not outcome.converged:
        raise SCFNotConvergedError(outcome.reason)
    reference = None
    if reference_energy is not None:
        reference = (float(reference_energy), None)
    return _labelled_frame(atoms, None, method, outcome, reference)


@dataclass
class LabellingSummary:
    """
    What a :py:func:`label_file` call did.

    :param output: the labelled output file
    :param n_frames: number of frames in the input
    :param n_done_before: frames already labelled when the call started
    :param n_labelled: frames labelled by this call
    :param failed: input indices of the frames recorded as failed (this call or an
        earlier one) and not labelled, with the reason
    :param wall_time: seconds spent
    """

    output: Path
    n_frames: int
    n_done_before: int
    n_labelled: int
    failed: dict = field(default_factory=dict)
    wall_time: float = 0.0

    @property
    def complete(self) -> bool:
        """Whether every input frame has a label."""
        return self.n_done_before + self.n_labelled == self.n_frames


def failed_path(output: "str | os.PathLike") -> Path:
    """Path of the log of failed frames that goes with the labelled ``output``."""
    output = Path(output)
    return output.with_name(output.name + ".failed.jsonl")


def label_file(
    input: "str | os.PathLike",
    output: "str | os.PathLike",
    method: "str | Method" = "pbe/cc-pvdz",
    *,
    forces: bool = False,
    reference: "str | os.PathLike | ase.Atoms | None" = None,
    workers: int = 1,
    threads: int | None = None,
    scheduler=None,
    retry_failed: bool = False,
    min_distance: float = 0.5,
    progress: bool = True,
    **settings,
) -> LabellingSummary:
    """
    Label every frame of ``input`` into ``output``; resume if ``output`` exists.

    Everything that can be checked cheaply (the files, the method, every structure
    and the reference) is checked before the first calculation.

    :param input: extended XYZ file (or any format ASE reads) with the structures
    :param output: extended XYZ file the labelled frames are appended to
        (uncompressed, so that it can be appended and repaired)
    :param method: method string or :py:class:`Method`, see :py:func:`parse_method`
    :param forces: also compute the forces (eV/Å)
    :param reference: the reference structure (file or :py:class:`ase.Atoms`),
        labelled with the same method; each frame then gets ``info["target"]``
    :param workers: number of local worker processes
    :param threads: threads of each worker's numerical libraries; by default the
        cores are shared among local workers, and left unchanged otherwise
    :param scheduler: address of a Dask scheduler (``"tcp://host:8786"``) or a
        :py:class:`distributed.Client`; replaces the local workers
    :param retry_failed: label again the frames recorded as failed
    :param min_distance: atoms closer than this (Å) are rejected as overlapping
    :param progress: show a progress bar
    :param settings: method settings overriding the defaults
    :return: what was done
    :raises LabellingInputError: on unreadable input, unusable structures or an
        output file that belongs to a different input or method
    """
    start = time.perf_counter()
    method = parse_method(method, **settings)
    output = Path(output)
    if output.suffix in (".gz", ".bz2", ".xz"):
        raise LabellingInputError(
            f"output '{output}' must be uncompressed to be appended to"
        )
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    frames = read_frames(input)
    for index, atoms in enumerate(frames):
        _check(atoms, method, min_distance, f"'{input}', frame {index}")
    reference_atoms = None
    if reference is not None:
        if isinstance(reference, ase.Atoms):
            reference_atoms, name = reference, "the reference structure"
        else:
            reference_atoms = read_frames(reference)[-1]
            name = f"reference '{reference}'"
        _check(reference_atoms, method, min_distance, name)

    with _exclusive(output):
        return _label_frames(
            frames,
            output,
            method,
            forces,
            reference_atoms,
            workers,
            threads,
            scheduler,
            retry_failed,
            progress,
            start,
        )


@contextlib.contextmanager
def _exclusive(output: Path):
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


def _label_frames(
    frames,
    output,
    method,
    forces,
    reference_atoms,
    workers,
    threads,
    scheduler,
    retry_failed,
    progress,
    start,
) -> LabellingSummary:
    done, stored_reference = _recover_output(output, frames, method, forces)
    key = None if reference_atoms is None else _structure_hash(reference_atoms)
    for frame, info in done.items():
        stored = info.get("reference_hash")
        if stored != key:
            before = "no reference" if stored is None else "another reference"
            now = "none" if key is None else "a different one"
            raise LabellingInputError(
                f"'{output}', frame {frame}: labelled with {before}, this run has "
                f"{now}; write to another output file"
            )
    failed = {
        frame: entry
        for frame, entry in _recover_failed(failed_path(output)).items()
        if frame not in done
    }
    skip = set(done) | (set() if retry_failed else set(failed))
    todo = [index for index in range(len(frames)) if index not in skip]
    summary = LabellingSummary(output, len(frames), len(done), 0)
    if retry_failed:
        failed = {}

    reference_value = None
    if reference_atoms is not None and todo:
        if stored_reference.get(key) is not None:
            reference_value = (stored_reference[key], key)
        else:
            _, outcome = _run_task((None, reference_atoms, method, False), threads)
            if not outcome.converged:
                raise SCFNotConvergedError(f"reference structure: {outcome.reason}")
            reference_value = (outcome.energy, key)

    tasks = [(index, frames[index], method, forces) for index in todo]
    with (
        contextlib.closing(_run_tasks(tasks, workers, threads, scheduler)) as results,
        _record_writer(output) as write_record,
        _record_writer(failed_path(output)) as write_failure,
        _progress_bar(len(frames), len(frames) - len(todo), method, progress) as bar,
    ):
        for index, outcome in results:
            if outcome.converged:
                atoms = _labelled_frame(
                    frames[index], index, method, outcome, reference_value
                )
                write_record(_to_extxyz(atoms))
                summary.n_labelled += 1
            else:
                entry = _failure_entry(index, method, outcome)
                write_failure(json.dumps(entry) + "\n")
                failed[index] = entry
                bar.set_postfix(failed=len(failed))
            bar.update(1)
    summary.failed = {frame: entry["reason"] for frame, entry in sorted(failed.items())}
    summary.wall_time = time.perf_counter() - start
    return summary


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


def read_frames(path: "str | os.PathLike") -> list[ase.Atoms]:
    """
    Read all the structures of a file, naming the faulty frame if that fails.

    :param path: extended XYZ (possibly compressed) or any format ASE reads
    :return: the structures
    :raises LabellingInputError: if the file is missing, empty or malformed
    """
    path = Path(path)
    if not path.is_file():
        raise LabellingInputError(f"cannot read '{path}': no such file")
    if path.stat().st_size == 0:
        raise LabellingInputError(f"cannot read '{path}': it holds no structure")
    try:
        frames = ase.io.read(path, index=":")
    except Exception as error:  # noqa: BLE001 -- ASE raises many types here
        where = _locate_bad_frame(path)
        raise LabellingInputError(
            f"cannot read '{path}'{where}: {type(error).__name__}: {error}"
        ) from None
    if not frames:
        raise LabellingInputError(f"cannot read '{path}': it holds no structure")
    return frames


def _locate_bad_frame(path: Path) -> str:
    """Say which frame of an XYZ file is truncated or malformed, if that can be told."""
    try:
        with ase.io.formats.open_with_compression(str(path), "rb") as fd:
            data = fd.read()
    except Exception:  # noqa: BLE001 -- only used to improve an error message
        return ""
    chunks = _frame_chunks(data)
    for index, (start, stop) in enumerate(chunks):
        try:
            ase.io.read(io.StringIO(data[start:stop].decode()), format="extxyz")
        except Exception:  # noqa: BLE001 -- as above
            return f", frame {index} (malformed)"
    end = chunks[-1][1] if chunks else 0
    if data[end:].strip():
        return f", frame {len(chunks)} (truncated or malformed)"
    return ""


def _check(atoms, method, min_distance, where):
    try:
        check_structure(atoms, method, min_distance)
    except ValueError as error:
        raise LabellingInputError(f"{where}: {error}") from None


def _frame_chunks(data: bytes) -> list[tuple[int, int]]:
    """
    Byte ranges of the complete XYZ frames at the start of ``data``.

    A frame is complete when its atom count parses and all its ``n_atoms + 2`` lines
    are there, each ending with a newline; the scan stops at the first frame that
    is not, e.g. one cut short by a killed writer.
    """
    chunks = []
    position = 0
    size = len(data)
    while position < size:
        newline = data.find(b"\n", position)
        if newline < 0:
            break
        try:
            n_atoms = int(data[position:newline])
        except ValueError:
            break
        end = newline
        for _ in range(n_atoms + 1):
            end = data.find(b"\n", end + 1)
            if end < 0:
                return chunks
        chunks.append((position, end + 1))
        position = end + 1
    return chunks


def _complete_frames_end(data: bytes) -> int:
    """Byte offset just after the last complete XYZ frame at the start of ``data``."""
    chunks = _frame_chunks(data)
    return chunks[-1][1] if chunks else 0


def _is_partial_frame(tail: bytes) -> bool:
    """Whether ``tail`` looks like the beginning of one XYZ frame, and nothing more."""
    lines = tail.split(b"\n")
    if not lines[0].strip().isdigit():
        return False
    if len(lines) == 1:
        return True
    return len(lines) <= int(lines[0]) + 2


def _recover_output(output: Path, frames, method: Method, forces: bool):
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
        key: value
        for key, value in method.metadata().items()
        if key not in _LADDER_ONLY
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


def _recover_failed(path: Path) -> dict:
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
def _record_writer(path: Path):
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


@contextlib.contextmanager
def _progress_bar(total, initial, method, enabled):
    from tqdm.auto import tqdm

    bar = tqdm(
        total=total,
        initial=initial,
        unit="frame",
        desc=f"labelling ({method.name})",
        disable=not enabled,
        dynamic_ncols=True,
    )
    try:
        yield bar
    finally:
        bar.close()


def _to_extxyz(atoms: ase.Atoms) -> str:
    buffer = io.StringIO()
    ase.io.write(buffer, atoms, format="extxyz")
    return buffer.getvalue()


def _structure_hash(atoms: ase.Atoms) -> str:
    digest = hashlib.sha1(atoms.numbers.astype(np.int64).tobytes())
    digest.update(np.round(atoms.positions, 6).astype(np.float64).tobytes())
    digest.update(str(atoms.info.get("charge", 0)).encode())
    return digest.hexdigest()[:16]


def _labelled_frame(atoms, index, method, outcome, reference) -> ase.Atoms:
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
    from . import __version__

    info["tricenter_version"] = __version__
    labelled.info = info
    if outcome.gradient is not None:
        labelled.arrays["forces"] = -outcome.gradient * (Hartree / Bohr)
    return labelled


def _failure_entry(index, method, outcome) -> dict:
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


def _run_task(task, threads=None):
    """Compute one frame: runs in a worker; returns ``(index, outcome)``."""
    index, atoms, method, forces = task
    if threads is not None and method.backend == "pyscf":
        from ._methods import import_pyscf

        import_pyscf().lib.num_threads(threads)
    return index, run_calculation(atoms, method, forces)


@contextlib.contextmanager
def _thread_environment(threads):
    """Limit the threads of the OpenMP/BLAS libraries of the processes started here."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({name: str(threads) for name in names})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run_tasks(tasks, workers, threads, scheduler):
    """Yield ``(index, outcome)`` of every task, in completion order."""
    if not tasks:
        return
    if scheduler is not None:
        yield from _run_dask(tasks, threads, scheduler)
    elif workers == 1:
        for task in tasks:
            yield _run_task(task, threads)
    else:
        import multiprocessing

        if threads is None:
            threads = max(1, (os.cpu_count() or 1) // workers)
        # "spawn": forking a process that holds OpenMP and tqdm threads can deadlock
        context = multiprocessing.get_context("spawn")
        with _thread_environment(threads):
            executor = ProcessPoolExecutor(workers, mp_context=context)
            futures = [executor.submit(_run_task, task, threads) for task in tasks]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            executor.shutdown(wait=False, cancel_futures=True)


def _run_dask(tasks, threads, scheduler):
    try:
        import distributed
    except ImportError as error:
        raise ImportError(
            "a Dask scheduler needs dask.distributed: install it with "
            "`pip install tricenter[distributed]`"
        ) from error
    own_client = not isinstance(scheduler, distributed.Client)
    client = distributed.Client(scheduler) if own_client else scheduler
    try:
        futures = client.map(_run_task, tasks, threads=threads, pure=False)
        try:
            for _, result in distributed.as_completed(futures, with_results=True):
                yield result
        finally:
            client.cancel(futures)
    finally:
        if own_client:
            client.close()


def add_cli_arguments(parser):
    """
    Declare the arguments of ``tricenter label``.

    :param parser: the :py:class:`argparse.ArgumentParser` of the sub-command
    """
    parser.add_argument("input", help="structures to label (extended XYZ)")
    parser.add_argument(
        "-o", "--output", required=True, help="labelled output (extended XYZ)"
    )
    parser.add_argument(
        "-m",
        "--method",
        default="pbe/cc-pvdz",
        help="'xc/basis' for PySCF (default: %(default)s) or gfn2-xtb / gfn1-xtb",
    )
    parser.add_argument("--forces", action="store_true", help="also compute forces")
    parser.add_argument(
        "--reference", help="reference structure: targets are E - E_ref (eV)"
    )
    parser.add_argument(
        "-j", "--workers", type=int, default=1, help="local worker processes"
    )
    parser.add_argument(
        "--threads", type=int, help="threads per worker (default: cores / workers)"
    )
    parser.add_argument(
        "--scheduler", help="Dask scheduler address (tcp://host:port) to run on"
    )
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="label again the frames recorded in OUTPUT.failed.jsonl",
    )
    group = parser.add_argument_group("method settings (default: paper settings)")
    group.add_argument(
        "--smearing", type=float, help="Fermi smearing width / electronic kT (Ha)"
    )
    group.add_argument("--grid-level", type=int, help="DFT grid level (PySCF)")
    group.add_argument("--init-guess", help="initial SCF guess (PySCF)")
    group.add_argument("--conv-tol", type=float, help="SCF convergence (Ha, PySCF)")
    group.add_argument("--max-cycle", type=int, help="SCF cycles of the first attempt")
    parser.add_argument(
        "--min-distance",
        type=float,
        default=0.5,
        help="reject structures with atoms closer than this (Å, default %(default)s)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run_cli(args) -> int:
    """
    Run ``tricenter label`` with parsed arguments.

    :param args: the :py:class:`argparse.Namespace` of :py:func:`add_cli_arguments`
    :return: the exit status
    """
    import sys

    settings = {
        "smearing": args.smearing,
        "grid_level": args.grid_level,
        "init_guess": args.init_guess,
        "conv_tol": args.conv_tol,
        "max_cycle": args.max_cycle,
    }
    try:
        summary = label_file(
            args.input,
            args.output,
            args.method,
            forces=args.forces,
            reference=args.reference,
            workers=args.workers,
            threads=args.threads,
            scheduler=args.scheduler,
            retry_failed=args.retry_failed,
            min_distance=args.min_distance,
            progress=not args.quiet,
            **settings,
        )
    except (LabellingInputError, MethodError, SCFNotConvergedError) as error:
        sys.exit(f"tricenter label: error: {error}")
    done = summary.n_done_before + summary.n_labelled
    message = (
        f"{done}/{summary.n_frames} frames labelled in '{summary.output}' "
        f"({summary.n_labelled} now, {summary.wall_time:.1f} s)"
    )
    if summary.failed:
        message += (
            f"; {len(summary.failed)} failed (excluded, reasons in "
            f"'{failed_path(summary.output)}')"
        )
    print(message, file=sys.stderr)
    return 0
