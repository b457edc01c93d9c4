"""
The tight-binding back-end of the labelling pipeline: GFN-xTB with tblite.

:py:func:`run_tblite` retries a failed SCF with a more strongly damped Broyden
mixer; the converged solution does not depend on the mixer. Everything here works in
atomic units.
"""

from typing import TYPE_CHECKING

import numpy as np
from ase.units import Bohr

from .outcome import Outcome, not_converged


if TYPE_CHECKING:
    from .methods import Method


#: tblite method names, keyed by the lower-case names accepted in method strings
XTB_METHODS = {"gfn2-xtb": "GFN2-xTB", "gfn1-xtb": "GFN1-xTB", "ipea1-xtb": "IPEA1-xTB"}

#: largest atomic number parametrised by the GFN methods
XTB_MAX_Z = 86


def import_tblite():
    """Import tblite's Python interface, or explain which extra provides it."""
    try:
        import tblite.interface
    except ImportError as error:
        raise ImportError(
            "GFN-xTB labels need tblite: install it with `pip install tricenter[xtb]`"
        ) from error
    return tblite.interface


def run_tblite(atoms, method: "Method", forces: bool) -> Outcome:
    """
    Compute the energy (and gradient) of ``atoms`` with tblite.

    :param atoms: the structure, an :py:class:`ase.Atoms` (positions in Å)
    :param method: a level of theory of the ``"tblite"`` back-end
    :param forces: also compute the analytic gradient
    :return: the outcome, converged or not
    """
    interface = import_tblite()
    cycles = method.max_cycle
    # the Broyden mixer converges more slowly but more safely with less damping;
    # none of these settings moves the converged solution
    attempts = [
        ("default", {"max-iter": cycles, "mixer-damping": 0.4}),
        ("damped", {"max-iter": 4 * cycles, "mixer-damping": 0.1}),
    ]
    history = []
    for name, options in attempts:
        calc = interface.Calculator(
            XTB_METHODS[method.name],
            atoms.numbers,
            atoms.positions / Bohr,
            charge=float(atoms.info.get("charge", 0)),
            uhf=0,
        )
        calc.set("verbosity", 0)
        calc.set("accuracy", method.accuracy)
        calc.set("temperature", method.smearing)
        for key, value in options.items():
            calc.set(key, value)
        try:
            result = calc.singlepoint()
        except RuntimeError as error:
            history.append(f"{name}: {error}")
            continue
        history.append(f"{name}: converged")
        gradient = None
        if forces:
            gradient = np.array(result.get("gradient"), dtype=np.float64)
        return Outcome(
            converged=True,
            energy=float(result.get("energy")),
            gradient=gradient,
            attempt=name,
            history=history,
        )
    return not_converged(name, history)
