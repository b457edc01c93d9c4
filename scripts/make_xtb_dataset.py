"""
Regenerate the shipped data set ``src/tricenter/datasets/data/b8-xtb-pairs.xyz.gz``.

The 4000 bispectrum-degenerate B8 pairs of the paper
(:py:func:`tricenter.datasets.b8_pairs` with seed 12345; frame ``2k`` is pair
``k`` '+', frame ``2k + 1`` its '-' partner) are labelled with GFN2-xTB (tblite) by
:py:func:`tricenter.labelling.label_file`: energies, forces, and targets relative to
the same method on the minimum-energy B8 structure (``--reference``, from the data
archive of the paper's authors; it is not shipped). The labelling is resumable:
rerunning the script after an interruption continues where it stopped (intermediate
files live in ``--work-dir``).

The script checks that the geometries match the paper's PBE labels of pairs 0-1499
shipped with the package, and reports how well the GFN2-xTB pair differences
``E+ - E-`` track the PBE ones. It prints the new file's SHA-256, which goes into
``tricenter.datasets.shipped.SHA256`` and the data README.

Usage (from the repository root, with ``tricenter[xtb]`` installed)::

    python scripts/make_xtb_dataset.py --reference b8-reference-minimum.xyz

Last run (two busy cores, 2 workers): labelling the 8000 frames took 127 s, the
whole script 148 s; no SCF failed; 1.9 MB. On pairs 0-1499 the GFN2-xTB pair
differences ``E+ - E-`` correlate with the PBE ones with Pearson r = 0.695 (slope
0.54), the energies themselves with r = 0.968.
"""

import argparse
import gzip
import io
import sys
import time
from pathlib import Path

import ase
import ase.io
import numpy as np
from ase.units import Hartree

from tricenter.datasets import file_sha256, read_shipped
from tricenter.datasets.structures import b8_pairs
from tricenter.labelling.label import failed_path, label_file, read_labelled


ROOT = Path(__file__).resolve().parents[1]
#: info keys kept in the embedded data set, besides the method settings
KEYS = ("frame", "pair", "partner", "energy", "target")
METADATA = ("method", "smearing_ha", "reference_energy_ha", "tblite_version")


def main(argv=None):
    """Label the B8 pairs with GFN2-xTB and write the compressed data set."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--n-pairs", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--method", default="gfn2-xtb")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--reference",
        type=Path,
        required=True,
        help="the minimum-energy B8 structure (extended XYZ): E_ref of the targets",
    )
    parser.add_argument("--work-dir", type=Path, default=ROOT / "build" / "xtb-b8")
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT
        / "src"
        / "tricenter"
        / "datasets"
        / "data"
        / "b8-xtb-pairs.xyz.gz",
    )
    args = parser.parse_args(argv)

    start = time.perf_counter()
    frames = b8_pairs(args.n_pairs, seed=args.seed)
    if not args.reference.is_file():
        sys.exit(f"reference structure '{args.reference}' not found")
    archive = read_shipped("b8-pbe-pairs")
    n = min(len(archive), len(frames))
    error = max(
        np.abs(a.positions - b.positions).max() for a, b in zip(frames[:n], archive[:n])
    )
    print(f"geometries vs the PBE pairs ({n} frames): max |Δr| = {error:.2e} Å")
    if error > 1e-6:
        sys.exit("the generated geometries do not match the PBE pairs")

    args.work_dir.mkdir(parents=True, exist_ok=True)
    structures = args.work_dir / "b8-pairs.xyz"
    labelled = args.work_dir / f"b8-{args.method}-labelled.xyz"
    ase.io.write(structures, frames, format="extxyz")
    summary = label_file(
        structures,
        labelled,
        args.method,
        forces=True,
        reference=args.reference,
        workers=args.workers,
    )
    print(
        f"labelled {summary.n_labelled} frames in {summary.wall_time:.1f} s "
        f"({summary.n_done_before} done before) with {args.workers} workers"
    )
    if summary.failed:
        sys.exit(
            f"{len(summary.failed)} frames failed, see {failed_path(labelled)}; "
            "the data set is not written"
        )

    results = sorted(read_labelled(labelled), key=lambda atoms: atoms.info["frame"])
    compact = [_compact(atoms) for atoms in results]
    buffer = io.StringIO()
    ase.io.write(buffer, compact, format="extxyz")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same labels give the same bytes
    with open(args.output, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as fd:
            fd.write(buffer.getvalue().encode())
    size = args.output.stat().st_size / 1e6
    print(f"wrote {len(compact)} frames to {args.output} ({size:.2f} MB)")
    print(f"SHA-256 {file_sha256(args.output)}")
    _compare(compact, archive)
    print(f"total time {time.perf_counter() - start:.1f} s")


def _compact(atoms: ase.Atoms) -> ase.Atoms:
    """Keep positions, forces, the keys of the data set and the method settings."""
    compact = ase.Atoms(numbers=atoms.numbers, positions=atoms.positions)
    info = dict(atoms.info)
    # ASE moves energy and forces of an extended XYZ file into a calculator
    info["energy"] = atoms.calc.results["energy"]
    compact.info = {key: info[key] for key in KEYS + METADATA}
    compact.arrays["forces"] = atoms.calc.results["forces"].copy()
    return compact


def _compare(frames, archive):
    """Correlation of the pair differences ``E+ - E-`` with the paper's PBE ones."""
    n_pairs = min(len(frames), len(archive)) // 2
    xtb = np.array([frame.info["energy"] for frame in frames[: 2 * n_pairs]])
    pbe = np.array([frame.info["energy_ha"] for frame in archive[: 2 * n_pairs]])
    pbe = pbe * Hartree
    diff_xtb = xtb[0::2] - xtb[1::2]
    diff_pbe = pbe[0::2] - pbe[1::2]
    r_diff = np.corrcoef(diff_xtb, diff_pbe)[0, 1]
    r_energy = np.corrcoef(xtb, pbe)[0, 1]
    slope = np.polyfit(diff_pbe, diff_xtb, 1)[0]
    print(
        f"pairs 0-{n_pairs - 1}: Pearson r of (E+ - E-) xtb vs PBE = {r_diff:.3f} "
        f"(slope {slope:.2f}; std xtb {diff_xtb.std():.3f} eV, PBE "
        f"{diff_pbe.std():.3f} eV); r of the energies themselves = {r_energy:.3f}"
    )


if __name__ == "__main__":
    main()
