"""
The DFT back-end of the labelling pipeline: restricted Kohn-Sham with PySCF.

:py:func:`run_pyscf` climbs a ladder of increasingly robust SCF settings (damping,
level shift, then the second-order solver or heavier damping) and polishes a damped
solution with the plain settings, so that every label is the stationary point of the
same functional. Everything here works in atomic units.
"""

import warnings
from typing import TYPE_CHECKING

import numpy as np

from .outcome import Outcome, not_converged


if TYPE_CHECKING:
    from .methods import Method


def import_pyscf():
    """Import PySCF, or explain which extra provides it."""
    try:
        import pyscf
        import pyscf.dft
        import pyscf.scf
    except ImportError as error:
        raise ImportError(
            "DFT labels need PySCF: install it with `pip install tricenter[dft]`"
        ) from error
    return pyscf


def basis_has(basis: str, symbol: str) -> bool:
    """
    Whether the basis set ``basis`` has functions for the element ``symbol``.

    :param basis: PySCF name of the basis set
    :param symbol: chemical symbol of the element
    :return: ``False`` also for a basis set that does not exist
    """
    gto = import_pyscf().gto
    with warnings.catch_warnings():
        # PySCF suggests installing basis-set-exchange whenever a lookup fails
        warnings.simplefilter("ignore", UserWarning)
        try:
            return bool(gto.basis.load(basis, symbol))
        except (gto.basis.BasisNotFoundError, KeyError, RuntimeError, OSError):
            return False


def xc_error(xc: str) -> str | None:
    """
    Why libxc does not know the functional ``xc``, or ``None`` if it does.

    :param xc: PySCF / libxc name of the exchange-correlation functional
    """
    try:
        import_pyscf().dft.libxc.parse_xc(xc)
    except (KeyError, ValueError) as error:
        return str(error)
    return None


def scf_attempts(method: "Method") -> list[tuple[str, dict]]:
    """The SCF retry ladder: each rung is more robust (and slower) than the last."""
    cycles = method.max_cycle
    attempts = [
        ("default", {"max_cycle": cycles}),
        (
            "damped",
            {"max_cycle": 4 * cycles, "damp": 0.5, "level_shift": 0.25},
        ),
    ]
    if method.smearing > 0:
        # PySCF's second-order solver ignores fractional occupations (it converges
        # to a different, integer-occupation state), so smeared SCFs get a heavier
        # damping instead
        attempts.append(
            (
                "heavily-damped",
                {
                    "max_cycle": 8 * cycles,
                    "damp": 0.8,
                    "level_shift": 0.5,
                    "diis_start_cycle": 10,
                },
            )
        )
    else:
        attempts.append(("newton", {"max_cycle": 8 * cycles, "newton": True}))
    return attempts


def run_pyscf(atoms, method: "Method", forces: bool) -> Outcome:
    """
    Compute the energy (and gradient) of ``atoms`` with PySCF.

    :param atoms: the structure, an :py:class:`ase.Atoms` (positions in Å)
    :param method: a level of theory of the ``"pyscf"`` back-end
    :param forces: also compute the analytic gradient
    :return: the outcome, converged or not
    """
    pyscf = import_pyscf()
    mol = pyscf.gto.Mole()
    mol.atom = [(s, p) for s, p in zip(atoms.get_chemical_symbols(), atoms.positions)]
    mol.unit = "Angstrom"
    mol.basis = method.basis
    mol.charge = int(atoms.info.get("charge", 0))
    mol.spin = 0
    mol.verbose = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mol.build()

    history = []
    for name, options in scf_attempts(method):
        mf = _scf(pyscf, mol, method, options)
        mf.kernel()
        cycles = getattr(mf, "cycles", "?")
        if not mf.converged:
            history.append(f"{name}: not converged in {options['max_cycle']} cycles")
            continue
        if options.get("damp") or options.get("level_shift"):
            # a level shift moves the fixed point of a smeared SCF: polish the
            # solution with the plain settings so that every label is the same
            # functional's stationary point
            dm = mf.make_rdm1()
            mf = _scf(pyscf, mol, method, {"max_cycle": method.max_cycle})
            mf.kernel(dm0=dm)
            if not mf.converged:
                history.append(f"{name}: converged, but the undamped polish did not")
                continue
            cycles = f"{cycles}+{mf.cycles}"
        history.append(f"{name}: converged in {cycles} cycles")
        energy = mf.e_tot
        if method.smearing > 0 and getattr(mf, "e_free", None) is not None:
            energy = mf.e_free
        gradient = None
        if forces:
            gradient = np.asarray(mf.nuc_grad_method().kernel(), dtype=np.float64)
        return Outcome(
            converged=True,
            energy=float(energy),
            gradient=gradient,
            attempt=name,
            history=history,
        )
    return not_converged(name, history)


def _scf(pyscf, mol, method: "Method", options: dict):
    mf = pyscf.dft.RKS(mol)
    mf.xc = method.xc
    mf.grids.level = method.grid_level
    mf.init_guess = method.init_guess
    mf.conv_tol = method.conv_tol
    mf.max_cycle = options["max_cycle"]
    mf.damp = options.get("damp", 0.0)
    mf.level_shift = options.get("level_shift", 0.0)
    mf.diis_start_cycle = options.get("diis_start_cycle", 1)
    mf.verbose = 0
    if method.smearing > 0:
        pyscf.scf.addons.smearing_(
            mf, sigma=method.smearing, method=method.smearing_method
        )
    if options.get("newton"):
        mf = mf.newton()
    return mf
