"""The triplet deep set of the paper (its second equation) and the models built on it.

.. math::

    \\xi_q(A_i) = \\sum_{j, j' \\in A_i} \\phi_q(T_{ijj'}), \\qquad
    E = \\sum_i \\varepsilon_{a_i}(\\xi(A_i))

The first layer of :math:`\\phi` is fused into the triplet contraction
(:py:meth:`tricenter.features.contraction.TripletContraction.linear`), so memory
grows as ``n_triplets * width``: the ``(n_triplets, n_features)`` triplet matrix is
never built.
"""

import math
from typing import Dict, List, Optional, Tuple

import torch
from metatensor.torch import Labels
from metatomic.torch import NeighborListOptions, System

from .inputs import TripletInputs
from .layers import mlp, normalization


class TripletEncoder(torch.nn.Module):
    """Environment features :math:`\\xi(A_i) = \\sum_{j j'} \\phi(T_{ijj'})`.

    With ``hidden=[]`` the encoder is linear, :math:`\\phi(T) = W_{a_j a_{j'}} T`
    (no bias), and :math:`\\xi` is a linear function of the ν = 3 invariants. With
    ``hidden=[h_1, ..., h_k]`` it is ``fused Linear(h_1) -> norm -> SiLU -> ... ->
    Linear(latent)`` minus its value at ``T = 0``, applied to every triplet before
    the sum: a triplet vanishes smoothly when one of its neighbours reaches the
    cutoff, and so does its contribution, which keeps energies continuous in MD.

    :param hypers: featomic-style ``{"cutoff": ..., "density": ..., "basis": ...}``
    :param atomic_types: atomic types of centres and neighbours
    :param latent: width ``q`` of :math:`\\xi`
    :param hidden: hidden widths of :math:`\\phi`; empty for a linear encoder
    :param norm: normalisation of the hidden layers (``"layer"``, ``"group"``,
        ``"none"``)
    """

    def __init__(
        self,
        hypers: Dict,
        atomic_types: List[int],
        latent: int = 128,
        hidden: Optional[List[int]] = None,
        norm: str = "layer",
    ):
        super().__init__()
        hidden = [] if hidden is None else list(hidden)
        self.inputs = TripletInputs(hypers, atomic_types)
        self.latent = latent
        self.linear = len(hidden) == 0
        n_types = self.inputs.n_types
        n_features = self.inputs.n_features
        width = latent if self.linear else hidden[0]
        bound = 1.0 / math.sqrt(n_features)
        self.weight = torch.nn.Parameter(
            torch.empty(n_types, n_types, width, n_features).uniform_(-bound, bound)
        )
        self.bias = torch.nn.Parameter(torch.zeros(0 if self.linear else width))
        if self.linear:
            self.tail = torch.nn.Sequential()
        else:
            self.tail = torch.nn.Sequential(
                normalization(norm, width),
                torch.nn.SiLU(),
                mlp(width, hidden[1:], latent, norm),
            )
        # set by `calibrate` from training structures: 1 / rms of the triplet
        # features, and 1 / the mean number of triplets per centre
        self.register_buffer("input_scale", torch.ones(()))
        self.register_buffer("sum_scale", torch.ones(()))

    def forward(
        self, systems: List[System], selected_atoms: Optional[Labels] = None
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """
        :return: ``xi`` ``(n_centers, latent)``, ``centers`` ``(n_centers, 2)``
            (system, atom) and the type index of each centre ``(n_centers,)``
        """
        inputs = self.inputs(systems, selected_atoms)
        xi = self.encode(
            inputs.expansion, inputs.density, inputs.pair_center, inputs.pair_type
        )
        return xi, inputs.centers, inputs.center_type

    def encode(
        self,
        expansion: torch.Tensor,
        density: torch.Tensor,
        pair_center: torch.Tensor,
        pair_type: torch.Tensor,
    ) -> torch.Tensor:
        """:math:`\\xi` from the outputs of :py:class:`TripletInputs`.

        :return: ``(n_centers, latent)``
        """
        n_centers = density.shape[0]
        weights = self.weight * self.input_scale
        hidden, first, _ = self.inputs.features.contraction.linear(
            expansion, density[pair_center], pair_center, pair_type, n_centers, weights
        )
        if not self.linear:
            # phi(T) - phi(0): a triplet with a neighbour at the cutoff (T = 0) adds
            # nothing, so xi stays continuous when neighbours cross the cutoff
            hidden = self.tail(hidden + self.bias) - self.tail(self.bias.unsqueeze(0))
        xi = torch.zeros(
            (n_centers, self.latent), dtype=hidden.dtype, device=hidden.device
        )
        return xi.index_add(0, pair_center[first], hidden) * self.sum_scale

    def encode_summed(self, summed: torch.Tensor) -> torch.Tensor:
        """:math:`\\xi` of a linear encoder from the summed triplets.

        For a linear :math:`\\phi`, :math:`\\sum_{jj'} W T_{ijj'} = W \\sum_{jj'}
        T_{ijj'}`: this gives the same :math:`\\xi` as :py:meth:`forward` from the
        output of :py:meth:`TripletInputs.summed` (the ν = 3 invariants).

        :param summed: ``(n_centers, n_types, n_types, n_features)``
        :return: ``(n_centers, latent)``
        """
        if not self.linear:
            raise ValueError(
                "only a linear encoder is a function of the summed triplets"
            )
        # one matrix product over (a_j, a_j', feature)
        weights = self.weight.permute(2, 0, 1, 3).reshape(self.weight.shape[2], -1)
        flat = summed.reshape(summed.shape[0], -1)
        return (flat @ weights.T) * (self.input_scale * self.sum_scale)

    @torch.jit.unused
    def calibrate(self, systems: List[System], selected_atoms: Optional[Labels] = None):
        """Set the input and sum scales from (training) systems.

        :param systems: a sample of training systems, with neighbour lists
        :param selected_atoms: their described centres
        """
        with torch.no_grad():
            core = self.inputs.features
            inputs = self.inputs(systems, selected_atoms)
            n_centers = inputs.density.shape[0]
            values, first, _ = core.triplets(inputs)
            rms = core.invariants(values).pow(2).mean().sqrt()
            self.input_scale.fill_(1.0 / float(rms) if float(rms) > 0 else 1.0)
            per_center = first.shape[0] / max(n_centers, 1)
            self.sum_scale.fill_(1.0 / per_center if per_center > 0 else 1.0)


class PerTypeHeads(torch.nn.Module):
    """One MLP per centre type, applied to per-centre features.

    :param n_inputs: input width
    :param hidden: hidden widths (empty: a single linear layer)
    :param n_outputs: output width
    :param n_types: number of centre types
    :param norm: normalisation of the hidden layers
    :param activation: ``False`` stacks the layers linearly (the paper's linear heads)
    """

    def __init__(
        self,
        n_inputs: int,
        hidden: List[int],
        n_outputs: int,
        n_types: int,
        norm: str = "group",
        activation: bool = True,
    ):
        super().__init__()
        self.n_outputs = n_outputs
        self.heads = torch.nn.ModuleList(
            [mlp(n_inputs, hidden, n_outputs, norm, activation) for _ in range(n_types)]
        )

    def forward(
        self, features: torch.Tensor, center_type: torch.Tensor
    ) -> torch.Tensor:
        """
        :param features: ``(n_centers, n_inputs)``
        :param center_type: ``(n_centers,)`` type index of each centre
        :return: ``(n_centers, n_outputs)``
        """
        result = torch.zeros(
            (features.shape[0], self.n_outputs),
            dtype=features.dtype,
            device=features.device,
        )
        for index, head in enumerate(self.heads):
            rows = torch.nonzero(center_type == index).reshape(-1)
            if rows.shape[0] != 0:
                result = result.index_put((rows,), head(features[rows]))
        return result


class EnergyModel(torch.nn.Module):
    """Per-atom energies from per-centre features: the shared energy interface.

    Subclasses define :py:meth:`features`; this class adds per-type heads and the
    energy scale and shifts fitted on training data. The interface (``cutoff``,
    ``atomic_types``, :py:meth:`requested_neighbor_lists`, :py:meth:`forward`) is
    what the metatomic export relies on.
    """

    def __init__(
        self,
        cutoff: float,
        atomic_types: List[int],
        n_features: int,
        hidden: List[int],
        norm: str,
        activation: bool,
    ):
        super().__init__()
        self.cutoff = float(cutoff)
        self.atomic_types: List[int] = list(atomic_types)
        self.heads = PerTypeHeads(
            n_features, hidden, 1, len(atomic_types), norm, activation
        )
        self.options = NeighborListOptions(
            cutoff=self.cutoff, full_list=True, strict=True
        )
        self.register_buffer("energy_scale", torch.ones(()))
        self.register_buffer("energy_shift", torch.zeros(len(atomic_types)))

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        """The full neighbour list the systems must carry."""
        return [self.options]

    def features(
        self, systems: List[System], selected_atoms: Optional[Labels]
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-centre features, centres and centre type indices."""
        raise NotImplementedError("EnergyModel subclasses define features()")

    def energies(
        self, features: torch.Tensor, center_type: torch.Tensor
    ) -> torch.Tensor:
        """Per-atom energies ``(n_centers,)`` from per-centre features."""
        raw = self.heads(features, center_type)[:, 0]
        return self.energy_shift[center_type] + self.energy_scale * raw

    def forward(
        self, systems: List[System], selected_atoms: Optional[Labels] = None
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """
        :param systems: systems carrying :py:meth:`requested_neighbor_lists`
        :param selected_atoms: centres to describe (``atom`` and optionally
            ``system`` columns); all atoms when ``None``
        :return: per-atom energies ``(n_centers,)`` in eV, the latent features
            ``(n_centers, n_features)`` and the centres ``(n_centers, 2)`` as
            (system, atom)
        """
        features, centers, center_type = self.features(systems, selected_atoms)
        return self.energies(features, center_type), features, centers


class TripletEnergyModel(EnergyModel):
    """Energy as a function of the triplet deep set (models A and B of Table 1).

    >>> from tricenter.models import PAPER_HYPERS
    >>> model = TripletEnergyModel(PAPER_HYPERS, [5], latent=8, encoder_hidden=[16])
    >>> model.encoder.inputs.n_features
    7344

    :param hypers: featomic-style ``{"cutoff": ..., "density": ..., "basis": ...}``
    :param atomic_types: atomic types of the systems
    :param latent: width of :math:`\\xi`
    :param encoder_hidden: hidden widths of :math:`\\phi` (empty: linear, model B_L)
    :param head_hidden: hidden widths of the energy heads (empty: linear, a sum of
        triplet energies)
    :param encoder_norm: normalisation in :math:`\\phi`
    :param head_norm: normalisation in the heads
    :param head_activation: ``False`` for a linear stack of head layers
    """

    def __init__(
        self,
        hypers: Dict,
        atomic_types: List[int],
        latent: int = 128,
        encoder_hidden: Optional[List[int]] = None,
        head_hidden: Optional[List[int]] = None,
        encoder_norm: str = "layer",
        head_norm: str = "group",
        head_activation: bool = True,
    ):
        encoder = TripletEncoder(
            hypers, atomic_types, latent, encoder_hidden, encoder_norm
        )
        super().__init__(
            encoder.inputs.cutoff,
            encoder.inputs.atomic_types,
            latent,
            [] if head_hidden is None else list(head_hidden),
            head_norm,
            head_activation,
        )
        self.encoder = encoder

    def features(
        self, systems: List[System], selected_atoms: Optional[Labels]
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.encoder(systems, selected_atoms)

    @torch.jit.unused
    def calibrate(self, systems: List[System], selected_atoms: Optional[Labels] = None):
        """Set the encoder's scales from (training) systems, see
        :py:meth:`TripletEncoder.calibrate`."""
        self.encoder.calibrate(systems, selected_atoms)


class TripletVectorModel(torch.nn.Module):
    """Encoder–decoder from triplets to per-centre vectors (models A^ρ of Table 1).

    :param hypers: featomic-style ``{"cutoff": ..., "density": ..., "basis": ...}``
    :param atomic_types: atomic types of the systems
    :param n_outputs: width of the target vectors
    :param latent: width of :math:`\\xi`
    :param encoder_hidden: hidden widths of :math:`\\phi` (empty: linear)
    :param decoder_hidden: hidden widths of the decoder
    :param norm: normalisation of encoder and decoder hidden layers
    """

    def __init__(
        self,
        hypers: Dict,
        atomic_types: List[int],
        n_outputs: int,
        latent: int = 128,
        encoder_hidden: Optional[List[int]] = None,
        decoder_hidden: Optional[List[int]] = None,
        norm: str = "layer",
    ):
        super().__init__()
        self.encoder = TripletEncoder(
            hypers, atomic_types, latent, encoder_hidden, norm
        )
        self.cutoff = self.encoder.inputs.cutoff
        self.atomic_types: List[int] = self.encoder.inputs.atomic_types
        decoder_hidden = [512, 512] if decoder_hidden is None else list(decoder_hidden)
        self.decoder = PerTypeHeads(
            latent, decoder_hidden, n_outputs, len(self.atomic_types), norm
        )
        self.register_buffer("output_scale", torch.ones(()))
        self.register_buffer("output_shift", torch.zeros(n_outputs))

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        """The full neighbour list the systems must carry."""
        return self.encoder.inputs.requested_neighbor_lists()

    def decode(self, xi: torch.Tensor, center_type: torch.Tensor) -> torch.Tensor:
        """Target vectors ``(n_centers, n_outputs)`` from :math:`\\xi`."""
        return self.output_shift + self.output_scale * self.decoder(xi, center_type)

    def forward(
        self, systems: List[System], selected_atoms: Optional[Labels] = None
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """
        :return: predicted vectors ``(n_centers, n_outputs)``, :math:`\\xi`
            ``(n_centers, latent)`` and the centres ``(n_centers, 2)``
        """
        xi, centers, center_type = self.encoder(systems, selected_atoms)
        return self.decode(xi, center_type), xi, centers
