"""Clebsch–Gordan coefficients for real spherical harmonics.

Built from the complex-basis coefficients of ``wigners`` and the unitary transformation
between complex and real harmonics (the real harmonics of sphericart and featomic).
"""

import math

import numpy as np
import wigners


def complex_to_real(ell: int) -> np.ndarray:
    """Unitary ``U`` with ``Y_real = U @ Y_complex`` for one angular channel.

    :return: ``(2 ell + 1, 2 ell + 1)`` complex array, rows real ``m``, columns
        complex ``m``, both ordered ``-ell..ell``
    """
    matrix = np.zeros((2 * ell + 1, 2 * ell + 1), dtype=np.complex128)
    inv_sqrt2 = 1.0 / math.sqrt(2.0)
    matrix[ell, ell] = 1.0
    for m in range(1, ell + 1):
        sign = (-1) ** m
        # Y_{l,-m} real = i / sqrt(2) (Y_l^{-m} - (-1)^m Y_l^m)
        matrix[ell - m, ell - m] = 1j * inv_sqrt2
        matrix[ell - m, ell + m] = -1j * sign * inv_sqrt2
        # Y_{l,m} real = 1 / sqrt(2) (Y_l^{-m} + (-1)^m Y_l^m)
        matrix[ell + m, ell - m] = inv_sqrt2
        matrix[ell + m, ell + m] = sign * inv_sqrt2
    return matrix


def real_clebsch_gordan(ell_1: int, ell_2: int, ell: int) -> np.ndarray:
    """Real-basis coupling coefficients :math:`C^{LM}_{l_1 m_1, l_2 m_2}`.

    They satisfy :math:`\\sum_{m_1 m_2} C^{LM}_{l_1 m_1, l_2 m_2} Y_{l_1}^{m_1}
    Y_{l_2}^{m_2} \\propto Y_L^M` for real harmonics of the same direction.

    :return: ``(2 ell_1 + 1, 2 ell_2 + 1, 2 ell + 1)`` real array
    """
    if not abs(ell_1 - ell_2) <= ell <= ell_1 + ell_2:
        raise ValueError(f"({ell_1}, {ell_2}) cannot couple to {ell}")
    complex_cg = wigners.clebsch_gordan_array(ell_1, ell_2, ell)
    u_1 = complex_to_real(ell_1)
    u_2 = complex_to_real(ell_2)
    u = complex_to_real(ell)
    real_cg = np.einsum("ia,jb,kc,abc->ijk", u_1.conj(), u_2.conj(), u, complex_cg)
    # the coefficients are either purely real or purely imaginary, depending on the
    # parity of l1 + l2 + L; either way one real array carries them
    if (ell_1 + ell_2 + ell) % 2 == 0:
        return np.ascontiguousarray(real_cg.real)
    return np.ascontiguousarray(real_cg.imag)
