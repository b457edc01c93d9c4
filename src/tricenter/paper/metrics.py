"""Mean and Diff: the errors of Table 1, on pairs of structures.

For pairs whose partners are ``+`` and ``−``, with targets :math:`y_\\pm` and
predictions :math:`\\hat y_\\pm`,

.. math::

    \\mathrm{Mean} = \\frac{\\mathrm{rms}\\left(\\frac{\\hat y_+ + \\hat y_-}{2}
        - \\frac{y_+ + y_-}{2}\\right)}{\\mathrm{std}(y)}, \\qquad
    \\mathrm{Diff} = \\frac{\\mathrm{rms}\\left((\\hat y_+ - \\hat y_-)
        - (y_+ - y_-)\\right)}{\\mathrm{std}(y_+ - y_-)}

where :math:`\\mathrm{std}(y)` runs over all individual targets. A model that
predicts the same value for both partners, as every bispectrum model does on
bispectrum-degenerate pairs, has :math:`\\mathrm{Diff} = \\mathrm{rms}(d) /
\\mathrm{std}(d) = \\sqrt{1 + \\bar d^2 / \\mathrm{var}(d)}` for the differences
:math:`d = y_+ - y_-`: 1 when they average to zero, and 1.000 to three digits on
the B8 pairs. A model that tells the partners apart has Diff below 1. The
"Metrics" section of the documentation's results page explains both.
"""

from typing import Dict

import numpy as np


def _std(values: np.ndarray) -> float:
    values = values.reshape(values.shape[0], -1)
    return float(np.sqrt(np.mean((values - values.mean(0)) ** 2)))


def pair_metrics(predicted: np.ndarray, target: np.ndarray) -> Dict[str, float]:
    """Mean and Diff errors of predictions for pairs (see the module's docstring).

    Rows ``2k`` and ``2k + 1`` are the ``+`` and ``−`` partners of pair ``k``;
    vector targets are flattened over features.

    :param predicted: ``(2 * n_pairs,)`` or ``(2 * n_pairs, n_features)``
    :param target: same shape as ``predicted``
    :return: ``{"mean": float, "diff": float}``

    >>> y = np.array([1.0, 2.0, 4.0, 3.0])
    >>> pair_metrics(y, y)
    {'mean': 0.0, 'diff': 0.0}
    >>> pair_metrics(np.array([1.5, 1.5, 3.5, 3.5]), y)  # no partner difference
    {'mean': 0.0, 'diff': 1.0}
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if predicted.shape != target.shape or len(target) % 2:
        raise ValueError(
            f"predictions {predicted.shape} and targets {target.shape} must have the "
            "same shape, with an even number of rows (the partners of each pair)"
        )
    mean_error = (predicted[0::2] + predicted[1::2]) / 2 - (
        target[0::2] + target[1::2]
    ) / 2
    diff_error = (predicted[0::2] - predicted[1::2]) - (target[0::2] - target[1::2])
    return {
        "mean": float(np.sqrt(np.mean(mean_error**2)) / _std(target)),
        "diff": float(
            np.sqrt(np.mean(diff_error**2)) / _std(target[0::2] - target[1::2])
        ),
    }


__all__ = ["pair_metrics"]
