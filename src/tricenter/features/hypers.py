"""Validation of featomic-style hyper-parameter dictionaries.

:py:class:`tricenter.TripletFeatures` takes the same ``cutoff``, ``density`` and
``basis`` dictionaries as featomic's ``SphericalExpansion``, so that one set of
hyper-parameters describes both. The subset understood here is checked strictly:
anything else is refused with an error naming the offending key, rather than silently
ignored.
"""

import math
from dataclasses import dataclass
from typing import Optional


#: The hyper-parameters of the paper's B8 experiment: 7344 invariant triplet features
#: per pair of neighbour types (copy before modifying).
PAPER_HYPERS = {
    "cutoff": {"radius": 2.0, "smoothing": {"type": "ShiftedCosine", "width": 0.1}},
    "density": {"type": "Gaussian", "width": 0.2, "center_atom_weight": 0.0},
    "basis": {
        "type": "TensorProduct",
        "max_angular": 3,
        "radial": {"type": "Gto", "max_radial": 5},
    },
}


@dataclass(frozen=True)
class ExpansionHypers:
    """Validated hyper-parameters of the neighbour density expansion.

    :param radius: cutoff radius, in Å
    :param smoothing: ``"ShiftedCosine"`` or ``"Step"``
    :param smoothing_width: width of the shifted cosine, in Å (0 for ``"Step"``)
    :param density_width: width σ of the Gaussian placed on each neighbour, in Å
    :param center_atom_weight: weight of the central atom in the neighbour density
    :param max_angular: largest angular channel of the expansion
    :param max_radial: largest radial index (``max_radial + 1`` radial functions)
    :param gto_radius: radius setting the widths of the GTO radial functions, in Å
    """

    radius: float
    smoothing: str
    smoothing_width: float
    density_width: float
    center_atom_weight: float
    max_angular: int
    max_radial: int
    gto_radius: float

    def as_featomic(self) -> dict:
        """The same hyper-parameters, in featomic's dictionary format."""
        if self.smoothing == "Step":
            smoothing = {"type": "Step"}
        else:
            smoothing = {"type": "ShiftedCosine", "width": self.smoothing_width}
        return {
            "cutoff": {"radius": self.radius, "smoothing": smoothing},
            "density": {
                "type": "Gaussian",
                "width": self.density_width,
                "center_atom_weight": self.center_atom_weight,
            },
            "basis": {
                "type": "TensorProduct",
                "max_angular": self.max_angular,
                "radial": {
                    "type": "Gto",
                    "max_radial": self.max_radial,
                    "radius": self.gto_radius,
                },
            },
        }


def _check_keys(what: str, hypers: dict, allowed: set):
    if not isinstance(hypers, dict):
        raise TypeError(f"`{what}` must be a dict, got {type(hypers).__name__}")
    unknown = set(hypers) - allowed
    if unknown:
        raise ValueError(
            f"unsupported key(s) {sorted(unknown)} in `{what}`; "
            f"supported keys are {sorted(allowed)}"
        )


def _positive(what: str, value, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{what}` must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"`{what}` must be a positive number, got {value}")
    return value


def _index(what: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"`{what}` must be a non-negative integer, got {value!r}")
    return value


def parse_hypers(cutoff: dict, density: dict, basis: dict) -> ExpansionHypers:
    """Check featomic-style hyper-parameters and collect them.

    >>> hypers = parse_hypers(**PAPER_HYPERS)
    >>> hypers.max_radial, hypers.gto_radius
    (5, 2.0)

    :param cutoff: ``{"radius": float, "smoothing": {"type": "ShiftedCosine",
        "width": float} | {"type": "Step"}}``
    :param density: ``{"type": "Gaussian", "width": float, "center_atom_weight":
        float (default 1.0)}``
    :param basis: ``{"type": "TensorProduct", "max_angular": int, "radial": {"type":
        "Gto", "max_radial": int, "radius": float (default: cutoff radius)},
        "spline_accuracy": float (accepted, unused)}``
    """
    _check_keys("cutoff", cutoff, {"radius", "smoothing"})
    if "radius" not in cutoff:
        raise ValueError("`cutoff` needs a `radius`")
    radius = _positive("cutoff.radius", cutoff["radius"])
    smoothing: Optional[dict] = cutoff.get("smoothing", {"type": "Step"})
    _check_keys("cutoff.smoothing", smoothing, {"type", "width"})
    smoothing_type = smoothing.get("type")
    if smoothing_type == "ShiftedCosine":
        if "width" not in smoothing:
            raise ValueError("`cutoff.smoothing` of type ShiftedCosine needs a `width`")
        width = _positive("cutoff.smoothing.width", smoothing["width"])
        if width > radius:
            raise ValueError(
                f"`cutoff.smoothing.width` ({width}) exceeds the cutoff radius "
                f"({radius})"
            )
    elif smoothing_type == "Step":
        if "width" in smoothing:
            raise ValueError("`cutoff.smoothing` of type Step takes no `width`")
        width = 0.0
    else:
        raise ValueError(
            f"unsupported cutoff smoothing {smoothing_type!r}; "
            "use 'ShiftedCosine' or 'Step'"
        )

    _check_keys("density", density, {"type", "width", "center_atom_weight"})
    if density.get("type") != "Gaussian":
        raise ValueError(
            f"unsupported density type {density.get('type')!r}; only 'Gaussian' is "
            "implemented"
        )
    if "width" not in density:
        raise ValueError("`density` needs a `width`")
    density_width = _positive("density.width", density["width"])
    center_atom_weight = density.get("center_atom_weight", 1.0)
    if isinstance(center_atom_weight, bool) or not isinstance(
        center_atom_weight, (int, float)
    ):
        raise TypeError("`density.center_atom_weight` must be a number")

    _check_keys("basis", basis, {"type", "max_angular", "radial", "spline_accuracy"})
    if basis.get("type") != "TensorProduct":
        raise ValueError(
            f"unsupported basis type {basis.get('type')!r}; only 'TensorProduct' is "
            "implemented"
        )
    if "max_angular" not in basis or "radial" not in basis:
        raise ValueError("`basis` needs `max_angular` and `radial`")
    max_angular = _index("basis.max_angular", basis["max_angular"])
    radial = basis["radial"]
    _check_keys("basis.radial", radial, {"type", "max_radial", "radius"})
    if radial.get("type") != "Gto":
        raise ValueError(
            f"unsupported radial basis {radial.get('type')!r}; only 'Gto' is "
            "implemented"
        )
    if "max_radial" not in radial:
        raise ValueError("`basis.radial` needs `max_radial`")
    max_radial = _index("basis.radial.max_radial", radial["max_radial"])
    gto_radius = _positive("basis.radial.radius", radial.get("radius", radius))

    return ExpansionHypers(
        radius=radius,
        smoothing=smoothing_type,
        smoothing_width=width,
        density_width=density_width,
        center_atom_weight=float(center_atom_weight),
        max_angular=max_angular,
        max_radial=max_radial,
        gto_radius=gto_radius,
    )
