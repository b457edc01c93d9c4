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
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import ase
import ase.io

from . import executors
from .executors import progress_bar
from .methods import Method, MethodError, check_structure, parse_method
from .store import (
    LabellingInputError,
    exclusive,
    failed_path,
    failure_entry,
    labelled_frame,
    read_frames,
    read_labelled,
    record_writer,
    recover_failed,
    recover_output,
    structure_hash,
    to_extxyz,
)


__all__ = [
    "LabellingInputError",
    "LabellingSummary",
    "Method",
    "MethodError",
    "SCFNotConvergedError",
    "add_cli_arguments",
    "compute_label",
    "failed_path",
    "label_file",
    "parse_method",
    "read_frames",
    "read_labelled",
    "run_cli",
]


class SCFNotConvergedError(RuntimeError):
    """The SCF of a structure did not converge with any setting of the retry ladder."""


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
    _, outcome = executors.run_task((None, atoms, method, forces), threads)
    if not outcome.converged:
        raise SCFNotConvergedError(outcome.reason)
    reference = None
    if reference_energy is not None:
        reference = (float(reference_energy), None)
    return labelled_frame(atoms, None, method, outcome, reference)


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

    with exclusive(output):
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
    done, stored_reference = recover_output(output, frames, method, forces)
    key = None if reference_atoms is None else structure_hash(reference_atoms)
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
        for frame, entry in recover_failed(failed_path(output)).items()
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
            task = (None, reference_atoms, method, False)
            _, outcome = executors.run_task(task, threads)
            if not outcome.converged:
                raise SCFNotConvergedError(f"reference structure: {outcome.reason}")
            reference_value = (outcome.energy, key)

    tasks = [(index, frames[index], method, forces) for index in todo]
    results = executors.run_tasks(tasks, workers, threads, scheduler)
    with (
        contextlib.closing(results),
        record_writer(output) as write_record,
        record_writer(failed_path(output)) as write_failure,
        progress_bar(len(frames), len(frames) - len(todo), method, progress) as bar,
    ):
        for index, outcome in results:
            if outcome.converged:
                atoms = labelled_frame(
                    frames[index], index, method, outcome, reference_value
                )
                write_record(to_extxyz(atoms))
                summary.n_labelled += 1
            else:
                entry = failure_entry(index, method, outcome)
                write_failure(json.dumps(entry) + "\n")
                failed[index] = entry
                bar.set_postfix(failed=len(failed))
            bar.update(1)
    summary.failed = {frame: entry["reason"] for frame, entry in sorted(failed.items())}
    summary.wall_time = time.perf_counter() - start
    return summary


def _check(atoms, method, min_distance, where):
    try:
        check_structure(atoms, method, min_distance)
    except ValueError as error:
        raise LabellingInputError(f"{where}: {error}") from None


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
    except SCFNotConvergedError as error:
        # a reference structure that does not converge is a fact about the input, not
        # a bug: the command line shows tracebacks for RuntimeError only
        print(f"tricenter label: error: {error}", file=sys.stderr)
        return 1
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
