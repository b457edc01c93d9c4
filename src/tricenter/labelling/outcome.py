"""
The result of one electronic-structure calculation, shared by the back-ends.

Each back-end (:py:mod:`tricenter.labelling.dft`, :py:mod:`tricenter.labelling.xtb`)
climbs its own ladder of SCF settings and reports, in one :py:class:`Outcome`, the
energy of the first attempt that converged, or why none did.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass
class Outcome:
    """
    Result of one calculation, in atomic units.

    :param converged: whether an SCF attempt converged
    :param energy: total (free) energy in Hartree, ``None`` if not converged
    :param gradient: ``dE/dR`` in Hartree/Bohr, ``(n_atoms, 3)``, if requested
    :param attempt: name of the attempt that converged, or of the last one tried
    :param history: one line per attempt, saying how it went
    :param reason: why the calculation failed, ``""`` if it did not
    :param wall_time: seconds spent
    :param version: ``(key, version)`` of the code that ran
    """

    converged: bool
    energy: float | None = None
    gradient: np.ndarray | None = None
    attempt: str = ""
    history: list = dataclasses.field(default_factory=list)
    reason: str = ""
    wall_time: float = 0.0
    version: tuple = ("", "")


def not_converged(attempt: str, history: list) -> Outcome:
    """
    The outcome of a ladder whose every attempt failed.

    :param attempt: name of the last attempt tried
    :param history: one line per attempt, saying how it went
    :return: a not-converged outcome whose reason lists every attempt
    """
    return Outcome(
        converged=False,
        attempt=attempt,
        history=history,
        reason=f"SCF did not converge after {len(history)} attempts: "
        + "; ".join(history),
    )
