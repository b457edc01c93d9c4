"""A complete interatomic potential cheap enough for molecular dynamics.

.. math::

    \\xi_i = s \\sum_{j, j' \\in F_i}
        \\left[\\phi(T_{ijj'}, P_{ijj'}) - \\phi(0)\\right]
        + \\psi(p_i) - \\psi(0), \\qquad
    E = \\sum_i \\varepsilon_i, \\quad
    \\varepsilon_i = e_{a_i} + \\sigma_E \\left[h_{a_i}(\\xi_i) - h_{a_i}(0)\\right]

- The neighbour density :math:`\\rho_i` sees every neighbour within :math:`r_c`; the
  tagged neighbours :math:`F_i` lie within the frame radius :math:`r_f \\le r_c`
  (:py:mod:`tricenter.features.frame`), so a centre has :math:`n_f^2` triplets
  (``j = j'`` included).
- Compact first layer: learned projections of the radial and chemical channels, per
  angular channel :math:`\\ell`, to ``channels`` functions
  :math:`a_{ij}^{c}, b_{ij}^{c}` (from the tagged expansion times :math:`f_f`) and
  :math:`d_i^{c}` (from the density); :math:`T_{ijj'}` holds their invariant triple
  products :math:`\\int a_{ij}^{c\\ell_1} b_{ij'}^{c\\ell_2} d_i^{c\\ell_3}`, one per
  channel and non-zero path (:py:mod:`tricenter.features.gaunt`). Its cost scales
  with ``channels``, not with ``n_radial**3 * n_types * n_paths``.
- Both parities: the :math:`\\sigma = +1` products :math:`T` (Gaunt couplings) see
  only the part of :math:`\\rho_i` that is even under the mirror through the plane
  of :math:`i, j, j'`, because :math:`a_{ij}` and :math:`b_{ij'}` are symmetric about
  their bonds; the :math:`\\sigma = -1` products :math:`P` (Clebsch–Gordan
  couplings, pseudoscalars) see the odd part. :math:`\\phi` takes :math:`T`, the
  squares :math:`P_k^2` and the products :math:`P_k P_{k+1}` of consecutive
  components (channels, then paths, cyclically), all O(3)-invariant and smooth;
  together they fix :math:`P` up to its sign, which a mirror of the frame flips
  (``parity=False`` keeps :math:`T` alone).
- Fallback: :math:`p_i^{c\\ell} = \\sum_m (d_i^{c\\ell m})^2`, a power spectrum of
  the projected density through a small MLP :math:`\\psi`, describes atoms without
  tagged neighbours (neighbours only beyond :math:`r_f`); an isolated atom has
  :math:`\\xi_i = 0` and the energy :math:`e_{a_i}` of its type.
- :math:`\\phi(T) - \\phi(0)` and :math:`f_f` make a triplet vanish smoothly as a
  tagged neighbour crosses :math:`r_f`, and :math:`f_c` does the same for the
  density at :math:`r_c`: energies and forces are continuous.
"""

import math
from typing import Dict, List, Optional, Tuple

import torch
from metatensor.torch import Labels
from metatomic.torch import System

from ..features.expansion import DensityExpansion
from ..features.frame import FrameCutoff, parse_frame_cutoff
from ..features.gaunt import GauntTriplets
from ..features.hypers import parse_hypers
from ..features.neighbors import gather_pairs
from .deepset import EnergyModel
from .layers import mlp


#: default hyper-parameters of :py:class:`TripletPotential` (copy before modifying)
POTENTIAL_HYPERS = {
    "cutoff": {"radius": 4.5, "smoothing": {"type": "ShiftedCosine", "width": 0.5}},
    "frame_cutoff": {
        "radius": 3.0,
        "smoothing": {"type": "ShiftedCosine", "width": 0.5},
    },
    "density": {"type": "Gaussian", "width": 0.5, "center_atom_weight": 0.0},
    "basis": {
        "type": "TensorProduct",
        "max_angular": 3,
        "radial": {"type": "Gto", "max_radial": 5},
    },
}


def _projection(n_ell: int, n_inputs: int, n_outputs: int) -> torch.nn.Parameter:
    bound = 1.0 / math.sqrt(n_inputs)
    weights = torch.empty(n_ell, n_inputs, n_outputs).uniform_(-bound, bound)
    return torch.nn.Parameter(weights)


class TripletPotential(EnergyModel):
    """Per-atom energies from a frame-cutoff triplet deep set with a compact first
    layer, and an atom-centred fallback.

    >>> model = TripletPotential(POTENTIAL_HYPERS, [14], channels=4, latent=8)
    >>> model.cutoff, model.frame_radius, model.triplets.paths[:3]
    (4.5, 3.0, [(0, 0, 0), (0, 1, 1), (0, 2, 2)])

    :param hypers: featomic-style ``{"cutoff", "density", "basis"}`` of the
        density, plus ``"frame_cutoff": {"radius": r_f, "smoothing": {"type":
        "ShiftedCosine", "width": w}}`` of the tagged neighbours
    :param atomic_types: atomic types of the systems
    :param channels: projected channels ``C`` of the compact first layer
    :param latent: width of :math:`\\xi`
    :param hidden: hidden widths of :math:`\\phi`
    :param fallback_hidden: hidden widths of :math:`\\psi`
    :param head_hidden: hidden widths of the per-type energy heads
    :param norm: normalisation of the hidden layers of :math:`\\phi` and
        :math:`\\psi` (``"none"``, ``"layer"``)
    :param head_norm: normalisation of the hidden layers of the heads
    :param parity: also feed :math:`\\phi` the invariants of the
        :math:`\\sigma = -1` triple products
    """

    def __init__(
        self,
        hypers: Dict,
        atomic_types: List[int],
        channels: int = 8,
        latent: int = 64,
        hidden: Optional[List[int]] = None,
        fallback_hidden: Optional[List[int]] = None,
        head_hidden: Optional[List[int]] = None,
        norm: str = "none",
        head_norm: str = "group",
        parity: bool = True,
    ):
        unknown = set(hypers) - {"cutoff", "frame_cutoff", "density", "basis"}
        missing = {"cutoff", "frame_cutoff", "density", "basis"} - set(hypers)
        if unknown or missing:
            raise ValueError(
                f"potential hypers need exactly cutoff, frame_cutoff, density and "
                f"basis: unknown {sorted(unknown)}, missing {sorted(missing)}"
            )
        if len(atomic_types) == 0 or len(set(atomic_types)) != len(atomic_types):
            raise ValueError(
                f"`atomic_types` must be unique and not empty, got {atomic_types}"
            )
        if channels <= 0 or latent <= 0:
            raise ValueError(
                f"`channels` and `latent` must be positive, got {channels}, {latent}"
            )
        expansion = parse_hypers(hypers["cutoff"], hypers["density"], hypers["basis"])
        frame = parse_frame_cutoff(hypers["frame_cutoff"], expansion.radius)
        if expansion.center_atom_weight != 0.0:
            raise ValueError(
                "the potential needs `density.center_atom_weight` = 0: the centre's "
                "own Gaussian would give isolated atoms a non-zero density"
            )
        head_hidden = [64, 64] if head_hidden is None else list(head_hidden)
        types = sorted(int(t) for t in atomic_types)
        super().__init__(expansion.radius, types, latent, head_hidden, head_norm, True)
        self.expansion = DensityExpansion(expansion)
        self.frame = FrameCutoff(frame)
        self.frame_radius = frame.radius
        self.triplets = GauntTriplets(expansion.max_angular, parity)
        self.parity = parity
        self.n_even = self.triplets.n_even
        n_odd = len(self.triplets.paths) - self.n_even
        self.channels = channels
        self.n_types = len(types)
        self.register_buffer("types", torch.tensor(types, dtype=torch.long))
        self.register_buffer("ell_of_lm", self.expansion.ell_of_lm.clone())
        n_ell = expansion.max_angular + 1
        n_inputs = self.n_types * self.expansion.n_radial
        # tagged pairs: a (first C columns) and b (last C columns); density: d
        self.pair_projection = _projection(n_ell, n_inputs, 2 * channels)
        self.density_projection = _projection(n_ell, n_inputs, channels)
        sums = torch.nn.functional.one_hot(self.ell_of_lm, n_ell).to(torch.float64)
        self.register_buffer("sum_over_m", sums)

        hidden = [64] if hidden is None else list(hidden)
        fallback_hidden = [32] if fallback_hidden is None else list(fallback_hidden)
        self.phi = mlp(channels * (self.n_even + 2 * n_odd), hidden, latent, norm)
        self.psi = mlp(channels * n_ell, fallback_hidden, latent, norm)
        # set by `calibrate`: 1 / rms of the triple products of each parity and of
        # the power spectrum, 1 / the mean number of triplets per centre
        self.register_buffer("input_scale", torch.ones(()))
        self.register_buffer("pseudo_scale", torch.ones(()))
        self.register_buffer("fallback_scale", torch.ones(()))
        self.register_buffer("sum_scale", torch.ones(()))

    def type_index(self, types: torch.Tensor) -> torch.Tensor:
        """Index of each atomic type in :py:attr:`atomic_types`.

        :param types: ``(n,)`` atomic types
        :raises ValueError: for types the model does not know
        """
        types = types.to(self.types.device)
        index = torch.searchsorted(self.types, types).clamp(max=self.n_types - 1)
        if bool(torch.any(self.types[index] != types)):
            unknown: List[int] = torch.unique(
                types[self.types[index] != types]
            ).tolist()
            raise ValueError(
                f"atomic types {unknown} are not supported: the supported types are "
                f"{self.atomic_types}"
            )
        return index

    def _project(self, values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        # (n, n_lm, n_types * n_radial) @ per-l weights -> (n, channels, n_lm)
        per_lm = weights[self.ell_of_lm].to(values.dtype)
        return torch.einsum("nkr,krc->nck", values, per_lm)

    def inputs(
        self, systems: List[System], selected_atoms: Optional[Labels]
    ) -> Tuple[
        torch.Tensor,
        torch.Tensor,
        torch.Tensor,
        torch.Tensor,
        torch.Tensor,
        torch.Tensor,
    ]:
        """Projected coefficients of the selected centres.

        :return: ``a`` and ``b`` ``(n_tagged, channels, n_lm)`` of the tagged pairs,
            ``d`` ``(n_centers, channels, n_lm)``, the centre of each tagged pair
            ``(n_tagged,)``, the centres ``(n_centers, 2)`` and their type indices
            ``(n_centers,)``
        """
        pairs = gather_pairs(systems, self.options, selected_atoms)
        center_type = self.type_index(pairs.center_types)
        pair_type = self.type_index(pairs.neighbor_types)
        n_centers = pairs.centers.shape[0]
        expansion = self.expansion.pair_expansion(pairs.vectors)
        n_lm = expansion.shape[1]
        one_hot = torch.nn.functional.one_hot(pair_type, self.n_types)
        typed = one_hot.to(expansion.dtype)[:, None, :, None] * expansion.unsqueeze(2)
        typed = typed.flatten(2, 3)
        density = torch.zeros(
            (n_centers, n_lm, typed.shape[2]),
            dtype=expansion.dtype,
            device=expansion.device,
        ).index_add(0, pairs.pair_center, typed)
        d = self._project(density, self.density_projection)

        distances = torch.linalg.vector_norm(pairs.vectors, dim=1)
        tagged = torch.nonzero(distances < self.frame_radius).reshape(-1)
        switch = self.frame(distances[tagged])
        tagged_typed = typed[tagged] * switch[:, None, None]
        ab = self._project(tagged_typed, self.pair_projection)
        a = ab[:, : self.channels]
        b = ab[:, self.channels :]
        return a, b, d, pairs.pair_center[tagged], pairs.centers, center_type

    def triplet_inputs(
        self,
        a: torch.Tensor,
        b: torch.Tensor,
        d: torch.Tensor,
        tag_center: torch.Tensor,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """The inputs of :math:`\\phi`, per triplet.

        :param a: ``(n_tagged, channels, n_lm)``, from :py:meth:`inputs`
        :param b: ``(n_tagged, channels, n_lm)``
        :param d: ``(n_centers, channels, n_lm)``
        :param tag_center: ``(n_tagged,)``
        :return: ``(n_triplets, channels * n_even)`` scaled :math:`T`, followed
            with ``parity`` by ``(n_triplets, 2 * channels * n_odd)`` scaled
            :math:`P_k^2` and :math:`P_k P_{k+1}`; and the centre of each triplet
            ``(n_triplets,)``
        """
        parts, center = self.triplet_parts(a, b, d, tag_center)
        return torch.cat(parts, dim=1), center

    def triplet_parts(
        self,
        a: torch.Tensor,
        b: torch.Tensor,
        d: torch.Tensor,
        tag_center: torch.Tensor,
    ) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """:py:meth:`triplet_inputs`, its column blocks (:math:`T`, and with
        ``parity`` :math:`P_k^2` and :math:`P_k P_{k+1}`) left apart."""
        n_odd = len(self.triplets.paths) - self.n_even
        scale = torch.cat(
            [self.input_scale.expand(self.n_even), self.pseudo_scale.expand(n_odd)]
        )
        even, odd, center = self.triplets.parts(a, b, d, tag_center, scale)
        if not self.parity:
            return [even.flatten(1)], center
        odd = odd.flatten(1)
        return [even.flatten(1), odd * odd, odd * odd.roll(1, dims=1)], center

    def _phi(self, parts: List[torch.Tensor]) -> torch.Tensor:
        """:math:`\\phi(x) - \\phi(0)` of ``x = torch.cat(parts, dim=1)``, without
        building ``x``: the first layer sums one product per block."""
        first = self.phi[0]
        hidden = first.bias
        start = 0
        for part in parts:
            weight = first.weight[:, start : start + part.shape[1]]
            hidden = torch.addmm(hidden, part, weight.T)
            start += part.shape[1]
        zero = first.bias[None]
        for index, layer in enumerate(self.phi):
            if index > 0:
                hidden = layer(hidden)
                zero = layer(zero)
        return hidden - zero

    def features(
        self, systems: List[System], selected_atoms: Optional[Labels]
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:math:`\\xi` ``(n_centers, latent)``, the centres ``(n_centers, 2)`` and
        their type indices ``(n_centers,)``."""
        a, b, d, tag_center, centers, center_type = self.inputs(systems, selected_atoms)
        parts, triplet_center = self.triplet_parts(a, b, d, tag_center)
        # phi(T) - phi(0): a triplet fades out with its tagged neighbours
        hidden = self._phi(parts)
        xi = torch.zeros(
            (d.shape[0], hidden.shape[1]), dtype=d.dtype, device=d.device
        ).index_add(0, triplet_center, hidden)
        power = (d * d) @ self.sum_over_m.to(d.dtype)
        power = power.flatten(1) * self.fallback_scale
        fallback = self.psi(power) - self.psi(power.new_zeros((1, power.shape[1])))
        return xi * self.sum_scale + fallback, centers, center_type

    def energies(
        self, features: torch.Tensor, center_type: torch.Tensor
    ) -> torch.Tensor:
        """Per-atom energies ``(n_centers,)``: the type's shift at :math:`\\xi = 0`."""
        types = torch.arange(self.n_types, device=features.device)
        zero = features.new_zeros((self.n_types, features.shape[1]))
        at_zero = self.heads(zero, types)[:, 0]
        raw = self.heads(features, center_type)[:, 0] - at_zero[center_type]
        return self.energy_shift[center_type] + self.energy_scale * raw

    @torch.jit.unused
    def calibrate(self, systems: List[System], selected_atoms: Optional[Labels] = None):
        """Set the input, fallback and sum scales from (training) systems.

        :param systems: a sample of training systems, with neighbour lists
        :param selected_atoms: their described centres
        """
        with torch.no_grad():
            a, b, d, tag_center, _, _ = self.inputs(systems, selected_atoms)
            even, odd, _ = self.triplets.parts(a, b, d, tag_center, None)
            power = (d * d) @ self.sum_over_m.to(d.dtype)
            for buffer, values in (
                (self.input_scale, even),
                (self.pseudo_scale, odd),
                (self.fallback_scale, power),
            ):
                rms = float(values.pow(2).mean().sqrt()) if values.numel() else 0.0
                buffer.fill_(1.0 / rms if rms > 0 else 1.0)
            per_center = even.shape[0] / max(d.shape[0], 1)
            self.sum_scale.fill_(1.0 / per_center if per_center > 0 else 1.0)
