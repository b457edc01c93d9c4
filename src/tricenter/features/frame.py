"""The frame cutoff: tagged neighbours within a radius shorter than the density's.

A pair of tagged neighbours :math:`(j, j')` only fixes a frame; the neighbour density
:math:`\\rho_i` seen in that frame carries the environment up to the density cutoff
:math:`r_c`. Tagged neighbours are therefore taken within a frame radius
:math:`r_f \\le r_c`, and their expansions are multiplied by a smooth switch

.. math::

    f_f(r) = \\begin{cases}
        1 & r \\le r_f - w \\\\
        \\tfrac{1}{2}\\left(1 + \\cos\\left(\\pi \\frac{r - r_f + w}{w}\\right)
            \\right) & r_f - w < r < r_f \\\\
        0 & r \\ge r_f
    \\end{cases}

whose value and derivative vanish at :math:`r_f`, so that a triplet fades out
smoothly as a tagged neighbour leaves the frame sphere. The number of triplets per
centre grows as :math:`n_f^2`, with :math:`n_f` the neighbours within :math:`r_f`.

>>> frame = FrameCutoff(parse_frame_cutoff(
...     {"radius": 3.0, "smoothing": {"type": "ShiftedCosine", "width": 0.5}}, 4.5))
>>> [round(float(v), 3) for v in frame(torch.tensor([2.0, 2.75, 3.2]))]
[1.0, 0.5, 0.0]
"""

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class FrameHypers:
    """Validated frame cutoff.

    :param radius: frame radius :math:`r_f`, in Å
    :param width: width :math:`w` of the shifted-cosine switch, in Å
    """

    radius: float
    width: float


def _number(what: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"`{what}` must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"`{what}` must be a positive number, got {value}")
    return value


def parse_frame_cutoff(frame_cutoff: dict, density_radius: float) -> FrameHypers:
    """Check a featomic-style frame cutoff.

    :param frame_cutoff: ``{"radius": float, "smoothing": {"type": "ShiftedCosine",
        "width": float}}``
    :param density_radius: the density cutoff :math:`r_c` in Å, which the frame
        radius may not exceed
    :raises ValueError: for unknown keys, missing or non-positive values, a frame
        radius beyond the density cutoff or a switch wider than the frame radius
    """
    if not isinstance(frame_cutoff, dict):
        raise ValueError(
            f"`frame_cutoff` must be a dict, got {type(frame_cutoff).__name__}"
        )
    unknown = set(frame_cutoff) - {"radius", "smoothing"}
    if unknown:
        raise ValueError(
            f"unsupported key(s) {sorted(unknown)} in `frame_cutoff`; supported "
            "keys are ['radius', 'smoothing']"
        )
    if "radius" not in frame_cutoff or "smoothing" not in frame_cutoff:
        raise ValueError("`frame_cutoff` needs a `radius` and a `smoothing`")
    radius = _number("frame_cutoff.radius", frame_cutoff["radius"])
    if radius > density_radius:
        raise ValueError(
            f"`frame_cutoff.radius` ({radius}) exceeds the density cutoff radius "
            f"({density_radius}): tagged neighbours must lie inside the density"
        )
    smoothing = frame_cutoff["smoothing"]
    if not isinstance(smoothing, dict) or smoothing.get("type") != "ShiftedCosine":
        raise ValueError(
            "`frame_cutoff.smoothing` must be {'type': 'ShiftedCosine', 'width': "
            f"float}}: a step would make energies jump, got {smoothing!r}"
        )
    unknown = set(smoothing) - {"type", "width"}
    if unknown:
        raise ValueError(
            f"unsupported key(s) {sorted(unknown)} in `frame_cutoff.smoothing`"
        )
    width = _number("frame_cutoff.smoothing.width", smoothing.get("width"))
    if width > radius:
        raise ValueError(
            f"`frame_cutoff.smoothing.width` ({width}) exceeds the frame radius "
            f"({radius})"
        )
    return FrameHypers(radius=radius, width=width)


class FrameCutoff(torch.nn.Module):
    """The switch :math:`f_f(r)` of the tagged neighbours.

    :param hypers: the validated frame cutoff
    """

    def __init__(self, hypers: FrameHypers):
        super().__init__()
        self.radius = hypers.radius
        self.width = hypers.width

    def forward(self, distances: torch.Tensor) -> torch.Tensor:
        """
        :param distances: ``(n_pairs,)`` in Å
        :return: ``(n_pairs,)`` values of :math:`f_f`
        """
        x = (distances - (self.radius - self.width)) / self.width
        value = 0.5 * (1.0 + torch.cos(math.pi * x.clamp(0.0, 1.0)))
        return torch.where(distances < self.radius, value, torch.zeros_like(value))
