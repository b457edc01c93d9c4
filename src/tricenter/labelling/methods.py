"""
Electronic-structure back-ends of the labelling pipeline.

A :py:class:`Method` holds every setting of one level of theory: a PySCF
restricted Kohn-Sham calculation (``"xc/basis"``, e.g. ``"pbe/cc-pvdz"``) or a GFN
tight-binding calculation through tblite (``"gfn2-xtb"``). The defaults of the DFT
back-end are the settings of the paper's B8 labels: Fermi smearing of width
0.01 Ha, ``grids.level = 5``, ``init_guess = "minao"`` and the free energy
``e_free`` as the energy.

:py:func:`run_calculation` runs one structure with a ladder of increasingly robust
SCF settings and returns a :py:class:`Outcome`; it never raises for an SCF that does
not converge, so that one difficult structure cannot stop a long labelling run.
The back-ends live in :py:mod:`tricenter.labelling.dft` and
:py:mod:`tricenter.labelling.xtb`. Everything here works in atomic units;
:py:mod:`tricenter.labelling.label` converts at the edges.
"""

import dataclasses
import time
import traceback
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from .dft import basis_has, import_pyscf, run_pyscf, xc_error
from .outcome import Outcome
from .xtb import XTB_MAX_Z, XTB_METHODS, import_tblite, run_tblite


__all__ = [
    "XTB_METHODS",
    "Method",
    "MethodError",
    "Outcome",
    "check_structure",
    "code_version",
    "import_pyscf",
    "import_tblite",
    "parse_method",
    "run_calculation",
]

#: elements used to decide whether a basis set name exists at all
_PROBE_ELEMENTS = ("H", "C", "B", "O", "Si", "Fe")


class MethodError(ValueError):
    """A method string or a method setting that cannot be used."""


@dataclasses.dataclass(frozen=True)
class Method:
    """
    One level of theory with all its settings.

    Build it with :py:func:`parse_method`, which fills the back-end defaults and
    validates the names.

    :param name: canonical method string, ``"xc/basis"`` or ``"gfn2-xtb"``
    :param backend: ``"pyscf"`` or ``"tblite"``
    :param xc: exchange-correlation functional (PySCF / libxc name)
    :param basis: basis set name (PySCF)
    :param smearing: width ``kT`` of the Fermi smearing in Hartree, ``0`` for none
        (PySCF); electronic temperature ``kT`` in Hartree (tblite)
    :param smearing_method: ``"fermi"`` or ``"gaussian"`` (PySCF)
    :param grid_level: ``grids.level`` of the DFT integration grid (PySCF)
    :param init_guess: initial guess of the SCF (PySCF)
    :param conv_tol: SCF energy convergence threshold in Hartree (PySCF)
    :param max_cycle: SCF iterations of the first attempt; retries use more
    :param accuracy: numerical accuracy multiplier (tblite)
    """

    name: str
    backend: str
    xc: str | None = None
    basis: str | None = None
    smearing: float = 0.0
    smearing_method: str | None = None
    grid_level: int | None = None
    init_guess: str | None = None
    conv_tol: float | None = None
    max_cycle: int = 50
    accuracy: float | None = None

    def metadata(self) -> dict:
        """Settings to record next to each label (no ``None`` values)."""
        fields = dataclasses.asdict(self)
        fields = {"method": fields.pop("name"), **fields}
        fields["smearing_ha"] = fields.pop("smearing")
        return {key: value for key, value in fields.items() if value is not None}


_PYSCF_DEFAULTS = {
    "smearing": 0.01,
    "smearing_method": "fermi",
    "grid_level": 5,
    "init_guess": "minao",
    "conv_tol": 1e-9,
    "max_cycle": 50,
}
# tblite's own defaults: 300 K electronic temperature, 250 iterations
_TBLITE_DEFAULTS = {"smearing": 9.500e-4, "accuracy": 1.0, "max_cycle": 250}


def parse_method(method: "str | Method", **settings) -> Method:
    """
    Build a :py:class:`Method` from a method string and optional settings.

    :param method: ``"xc/basis"`` for PySCF (``"pbe/cc-pvdz"``, ``"b3lyp/def2-svp"``,
        ``"lda/sto-3g"``), or ``"gfn2-xtb"`` / ``"gfn1-xtb"`` / ``"ipea1-xtb"`` for
        tblite; an existing :py:class:`Method` is returned with ``settings`` applied
    :param settings: fields of :py:class:`Method` overriding the back-end defaults;
        ``None`` values keep the default
    :return: the validated method
    :raises MethodError: for an unknown functional, basis set, method or setting
    """
    settings = {key: value for key, value in settings.items() if value is not None}
    if isinstance(method, Method):
        if not settings:
            return method
        try:
            return _validated(dataclasses.replace(method, **settings))
        except TypeError as error:
            raise MethodError(str(error)) from None
    if not isinstance(method, str):
        raise MethodError(f"method must be a string, got {type(method).__name__}")
    name = method.strip().lower()
    if name in XTB_METHODS:
        backend, defaults, fields = "tblite", _TBLITE_DEFAULTS, {}
    elif name.count("/") == 1 and all(part.strip() for part in name.split("/")):
        xc, basis = (part.strip() for part in name.split("/"))
        backend, defaults = "pyscf", _PYSCF_DEFAULTS
        fields = {"xc": xc, "basis": basis}
        name = f"{xc}/{basis}"
    else:
        raise MethodError(
            f"unknown method '{method}': use 'xc/basis' (e.g. 'pbe/cc-pvdz') or one "
            f"of {', '.join(XTB_METHODS)}"
        )
    allowed = set(defaults)
    unknown = set(settings) - allowed
    if unknown:
        raise MethodError(
            f"setting(s) {', '.join(sorted(unknown))} do not apply to the {backend} "
            f"back-end of '{name}' (allowed: {', '.join(sorted(allowed))})"
        )
    return _validated(
        Method(name=name, backend=backend, **fields, **{**defaults, **settings})
    )


def _validated(method: Method) -> Method:
    if method.smearing < 0:
        raise MethodError(f"smearing must be >= 0, got {method.smearing}")
    if method.max_cycle < 1:
        raise MethodError(f"max_cycle must be >= 1, got {method.max_cycle}")
    if method.backend == "tblite":
        import_tblite()
    else:
        if method.smearing_method not in ("fermi", "gaussian"):
            raise MethodError(
                f"smearing_method must be 'fermi' or 'gaussian', got "
                f"'{method.smearing_method}'"
            )
        error = xc_error(method.xc)
        if error is not None:
            raise MethodError(
                f"unknown exchange-correlation functional '{method.xc}' in method "
                f"'{method.name}' ({error})"
            )
        if not any(basis_has(method.basis, symbol) for symbol in _PROBE_ELEMENTS):
            raise MethodError(
                f"unknown basis set '{method.basis}' in method '{method.name}'"
            )
    return method


def code_version(method: Method) -> tuple[str, str]:
    """Name of the key and version of the code that computes ``method``."""
    package = "pyscf" if method.backend == "pyscf" else "tblite"
    try:
        return f"{package}_version", version(package)
    except PackageNotFoundError:
        return f"{package}_version", "unknown"


def check_structure(atoms, method: Method, min_distance: float = 0.5) -> None:
    """
    Check that ``method`` can label ``atoms``, before any expensive work.

    :param atoms: the structure, an :py:class:`ase.Atoms`
    :param method: the level of theory
    :param min_distance: smallest interatomic distance accepted, in Å
    :raises ValueError: with a message saying what is wrong
    """
    numbers = atoms.numbers
    if len(numbers) == 0:
        raise ValueError("the structure has no atoms")
    if np.any(atoms.pbc):
        raise ValueError("periodic structures are not supported (molecular codes)")
    if np.any(numbers <= 0):
        raise ValueError("dummy atoms (atomic number 0) are not supported")
    positions = atoms.positions
    if not np.all(np.isfinite(positions)):
        raise ValueError("positions contain NaN or infinite values")
    if len(numbers) > 1:
        distances = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
        distances[np.diag_indices(len(numbers))] = np.inf
        i, j = np.unravel_index(np.argmin(distances), distances.shape)
        if distances[i, j] < min_distance:
            raise ValueError(
                f"atoms {min(i, j)} and {max(i, j)} are {distances[i, j]:.3f} Å apart "
                f"(overlapping atoms, minimum {min_distance} Å)"
            )
    symbols = sorted(set(atoms.get_chemical_symbols()))
    if method.backend == "pyscf":
        missing = [symbol for symbol in symbols if not basis_has(method.basis, symbol)]
        if missing:
            raise ValueError(
                f"basis set '{method.basis}' has no functions for {', '.join(missing)}"
            )
    elif numbers.max() > XTB_MAX_Z:
        raise ValueError(f"{method.name} is parametrised only up to Z = {XTB_MAX_Z}")
    n_electrons = int(numbers.sum()) - int(atoms.info.get("charge", 0))
    if n_electrons % 2:
        raise ValueError(
            f"odd number of electrons ({n_electrons}): only closed-shell (restricted) "
            "calculations are supported"
        )


def run_calculation(atoms, method: Method, forces: bool = False) -> Outcome:
    """
    Compute the energy (and gradient) of ``atoms``, retrying difficult SCFs.

    Unexpected errors of the back-end are caught and reported in the outcome, so
    the caller decides what to do with them.

    :param atoms: the structure, an :py:class:`ase.Atoms` (positions in Å)
    :param method: the level of theory
    :param forces: also compute the analytic gradient
    :return: the outcome, converged or not
    """
    start = time.perf_counter()
    try:
        if method.backend == "pyscf":
            outcome = run_pyscf(atoms, method, forces)
        else:
            outcome = run_tblite(atoms, method, forces)
    except Exception as error:  # noqa: BLE001 -- reported, never swallowed silently
        outcome = Outcome(
            converged=False,
            reason=f"{type(error).__name__}: {error}",
            history=[traceback.format_exc(limit=4)],
        )
    outcome.wall_time = time.perf_counter() - start
    outcome.version = code_version(method)
    return outcome
