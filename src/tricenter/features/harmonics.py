"""Real spherical harmonics in plain torch.

The harmonics are polynomials of the unit vector :math:`(x, y, z)`,

.. math::

    Y_l^m(\\hat{\\mathbf{r}}) = N_l^{|m|}\\, Q_l^{|m|}(z)\\,
    \\begin{cases}
        \\sin(|m| \\varphi) \\sin^{|m|}\\theta & m < 0 \\\\
        1 / \\sqrt{2} & m = 0 \\\\
        \\cos(m \\varphi) \\sin^{m}\\theta & m > 0
    \\end{cases}

with :math:`N_l^m = \\sqrt{\\frac{2l + 1}{2\\pi} \\frac{(l - m)!}{(l + m)!}}`. The
factors :math:`c_m = \\cos(m\\varphi)\\sin^m\\theta` and
:math:`s_m = \\sin(m\\varphi)\\sin^m\\theta` follow from :math:`c_m + i s_m =
(x + i y)^m`, and :math:`Q_l^m` (the associated Legendre function divided by
:math:`\\sin^m\\theta`) from

.. math::

    Q_m^m = (2m - 1)!!, \\qquad Q_{m+1}^m = (2m + 1)\\, z\\, Q_m^m, \\qquad
    (l - m)\\, Q_l^m = (2l - 1)\\, z\\, Q_{l-1}^m - (l + m - 1)\\, Q_{l-2}^m.

These are the orthonormal harmonics of sphericart and featomic, ordered as
``l (l + 1) + m`` with ``m = -l..l``. Every step is a differentiable torch operation,
so autograd gives first and second derivatives wherever the model runs: an exported
model needs no compiled extension.
"""

import math
from typing import List

import torch


def _exact(values: List[float]) -> torch.Tensor:
    """``values`` as integer mantissas and exponents, ``(2, len(values))``.

    Integer buffers are left alone by ``.to(dtype)``: a float32 round trip of a model
    (``.float().double()``) does not round them, and :py:func:`_floats` restores every
    bit. (A list of Python floats is no way out: in TorchScript,
    ``torch.tensor(list, dtype=torch.float64)`` rounds through the default dtype.)
    """
    mantissas, exponents = [], []
    for value in values:
        mantissa, exponent = math.frexp(value)
        mantissas.append(int(mantissa * 2**53))
        exponents.append(exponent - 53)
    return torch.tensor([mantissas, exponents], dtype=torch.int64)


def _floats(exact: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The values stored by :py:func:`_exact`, in ``dtype``."""
    powers = torch.pow(2.0, exact[1].to(torch.float64))
    return (exact[0].to(torch.float64) * powers).to(dtype)


class SphericalHarmonics(torch.nn.Module):
    """Real spherical harmonics :math:`Y_l^m(\\hat{\\mathbf{r}})`, ``l <= max_angular``.

    Ordered as ``l (l + 1) + m`` with ``m = -l..l`` (featomic's ``o3_mu``).

    :param max_angular: largest angular channel

    >>> harmonics = SphericalHarmonics(1)
    >>> values = harmonics(torch.tensor([[0.0, 0.0, 2.0]], dtype=torch.float64))
    >>> [round(float(v), 6) for v in values[0]]
    [0.282095, 0.0, 0.488603, 0.0]
    """

    max_angular: int
    diagonal: List[float]

    def __init__(self, max_angular: int):
        super().__init__()
        if max_angular < 0:
            raise ValueError(f"max_angular must be >= 0, got {max_angular}")
        self.max_angular = max_angular
        self.diagonal = [2.0 * ell - 1.0 for ell in range(max_angular + 1)]
        # coefficients of the recursion on Q_l^m, for all m < l - 1 of each l at once
        recursion_z: List[float] = []
        recursion_previous: List[float] = []
        for ell in range(2, max_angular + 1):
            for m in range(ell - 1):
                recursion_z.append((2.0 * ell - 1.0) / (ell - m))
                recursion_previous.append((ell + m - 1.0) / (ell - m))

        normalization: List[float] = []
        legendre_index: List[int] = []
        trig_index: List[int] = []
        for ell in range(max_angular + 1):
            for m in range(-ell, ell + 1):
                factor = (2 * ell + 1) / (2 * math.pi)
                factor *= math.factorial(ell - abs(m)) / math.factorial(ell + abs(m))
                if m == 0:
                    factor /= 2
                normalization.append(math.sqrt(factor))
                # Q_l^m is stored at l (l + 1) / 2 + m
                legendre_index.append(ell * (ell + 1) // 2 + abs(m))
                trig_index.append(m + max_angular)
        for name, values in (
            ("recursion_z", recursion_z),
            ("recursion_previous", recursion_previous),
            ("normalization", normalization),
        ):
            self.register_buffer(name, _exact(values), persistent=False)
        self.register_buffer(
            "legendre_index", torch.tensor(legendre_index), persistent=False
        )
        self.register_buffer("trig_index", torch.tensor(trig_index), persistent=False)

    def _legendre(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`Q_l^m(z)` for ``0 <= m <= l <= max_angular``, ``(n, n_lm_pairs)``."""
        recursion_z = _floats(self.recursion_z, z.dtype)
        recursion_previous = _floats(self.recursion_previous, z.dtype)
        z = z.unsqueeze(1)
        previous = torch.ones_like(z)
        before = previous[:, :0]
        columns = [previous]
        start = 0
        for ell in range(1, self.max_angular + 1):
            last = previous[:, ell - 1 : ell]
            pieces: List[torch.Tensor] = []
            if ell >= 2:
                stop = start + ell - 1
                pieces.append(
                    recursion_z[start:stop] * z * previous[:, : ell - 1]
                    - recursion_previous[start:stop] * before
                )
                start = stop
            # Q_l^{l-1} and Q_l^l from Q_{l-1}^{l-1}
            pieces.append(self.diagonal[ell] * z * last)
            pieces.append(self.diagonal[ell] * last)
            current = torch.cat(pieces, dim=1)
            columns.append(current)
            before = previous
            previous = current
        return torch.cat(columns, dim=1)

    def _trigonometric(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``[s_L, ..., s_1, 1, c_1, ..., c_L]``, ``(n, 2 max_angular + 1)``."""
        cosine = [torch.ones_like(x)]
        sine = [torch.zeros_like(x)]
        for _ in range(self.max_angular):
            c, s = cosine[-1], sine[-1]
            cosine.append(x * c - y * s)
            sine.append(x * s + y * c)
        sine = sine[1:]
        sine.reverse()
        return torch.stack(sine + cosine, dim=1)

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        """
        :param vectors: ``(n_pairs, 3)`` non-zero vectors
        :return: ``(n_pairs, (max_angular + 1) ** 2)``
        """
        if vectors.dim() != 2 or vectors.shape[1] != 3:
            raise ValueError(
                f"vectors must have shape (n, 3), got {list(vectors.shape)}"
            )
        unit = vectors / torch.linalg.vector_norm(vectors, dim=1, keepdim=True)
        x, y, z = unit[:, 0], unit[:, 1], unit[:, 2]
        legendre = self._legendre(z)
        trigonometric = self._trigonometric(x, y)
        normalization = _floats(self.normalization, vectors.dtype)
        return (
            normalization
            * legendre[:, self.legendre_index]
            * trigonometric[:, self.trig_index]
        )
