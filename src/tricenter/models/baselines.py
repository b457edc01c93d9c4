"""Baselines of Table 1: bispectrum (ν = 3) and ν ≤ 7 atom-centred features.

The bispectrum model (D) is a torch model with the same interface as the triplet
energy models, computed through the per-centre sum of the triplet contraction. The
ν ≤ 7 features (C) follow NICE: the neighbour density is coupled with itself
iteratively through Clebsch–Gordan products, and every body order is contracted with
a PCA per ``(lambda, sigma)`` block, fitted on training data only.
"""

from typing import Dict, List, Optional, Tuple

import torch
from metatensor.torch import Labels
from metatomic.torch import System

from ..features.cg import real_clebsch_gordan
from .deepset import EnergyModel, PerTypeHeads
from .inputs import TripletInputs


class BispectrumEnergyModel(EnergyModel):
    """Energy from the ν = 3 invariants (models D_L and D_NL of Table 1).

    The features are the triplets summed over ``(j, j')`` (computed without the
    triplets), scaled by a constant fitted on training data; ``latent`` in the
    output of ``forward`` are these scaled features.

    :param hypers: featomic-style ``{"cutoff": ..., "density": ..., "basis": ...}``
    :param atomic_types: atomic types of the systems
    :param head_hidden: hidden widths of the energy heads
    :param head_norm: normalisation of the head hidden layers
    :param head_activation: ``False`` for the paper's linear model (layers stacked
        without non-linearity)
    """

    def __init__(
        self,
        hypers: Dict,
        atomic_types: List[int],
        head_hidden: Optional[List[int]] = None,
        head_norm: str = "group",
        head_activation: bool = True,
    ):
        inputs = TripletInputs(hypers, atomic_types)
        n_types = inputs.n_types
        super().__init__(
            inputs.cutoff,
            inputs.atomic_types,
            n_types * n_types * inputs.n_features,
            [128, 128] if head_hidden is None else list(head_hidden),
            head_norm,
            head_activation,
        )
        self.inputs = inputs
        self.register_buffer("input_scale", torch.ones(()))

    def features(
        self, systems: List[System], selected_atoms: Optional[Labels]
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        inputs = self.inputs(systems, selected_atoms)
        summed = self.inputs.summed(inputs.density)
        features = summed.reshape(summed.shape[0], -1) * self.input_scale
        return features, inputs.centers, inputs.center_type

    @torch.jit.unused
    def calibrate(self, systems: List[System], selected_atoms: Optional[Labels] = None):
        """Scale the summed triplets to unit root mean square on (training) systems.

        :param systems: a sample of training systems, with neighbour lists
        :param selected_atoms: their described centres
        """
        with torch.no_grad():
            self.input_scale.fill_(1.0)
            features, _, _ = self.features(systems, selected_atoms)
            rms = float(features.pow(2).mean().sqrt())
            self.input_scale.fill_(1.0 / rms if rms > 0 else 1.0)


class FeatureEnergyModel(torch.nn.Module):
    """Energy heads on precomputed per-centre features (models C, and the heads of
    A and D when their features are cached during training).

    :param n_features: input width
    :param atomic_types: atomic types of the centres
    :param hidden: hidden widths
    :param norm: normalisation of the hidden layers
    :param activation: ``False`` for a linear stack
    """

    def __init__(
        self,
        n_features: int,
        atomic_types: List[int],
        hidden: Optional[List[int]] = None,
        norm: str = "group",
        activation: bool = True,
    ):
        super().__init__()
        self.atomic_types: List[int] = list(atomic_types)
        n_types = len(self.atomic_types)
        self.heads = PerTypeHeads(
            n_features,
            [] if hidden is None else list(hidden),
            1,
            n_types,
            norm,
            activation,
        )
        self.register_buffer("energy_scale", torch.ones(()))
        self.register_buffer("energy_shift", torch.zeros(n_types))

    def forward(
        self, features: torch.Tensor, center_type: torch.Tensor
    ) -> torch.Tensor:
        """Per-centre energies ``(n_centers,)``."""
        return self.energies(features, center_type)

    def energies(
        self, features: torch.Tensor, center_type: torch.Tensor
    ) -> torch.Tensor:
        """Per-centre energies ``(n_centers,)`` from ``(n_centers, n_features)``
        features and the centre type indices ``(n_centers,)``."""
        raw = self.heads(features, center_type)[:, 0]
        return self.energy_shift[center_type] + self.energy_scale * raw


def _cg_product(
    left: Dict[Tuple[int, int], torch.Tensor],
    right: Dict[Tuple[int, int], torch.Tensor],
    max_angular: int,
    cg: Dict[Tuple[int, int, int], torch.Tensor],
) -> Dict[Tuple[int, int], torch.Tensor]:
    """Couple two sets of equivariant blocks ``{(lambda, sigma): (n, 2 lambda + 1,
    n_features)}`` into blocks of the product, up to ``max_angular``."""
    pieces: Dict[Tuple[int, int], List[torch.Tensor]] = {}
    for (ell_1, sigma_1), a in left.items():
        for (ell_2, sigma_2), b in right.items():
            for ell in range(abs(ell_1 - ell_2), min(ell_1 + ell_2, max_angular) + 1):
                sigma = sigma_1 * sigma_2 * (-1) ** (ell_1 + ell_2 + ell)
                key = (ell_1, ell_2, ell)
                if key not in cg:
                    cg[key] = torch.from_numpy(real_clebsch_gordan(ell_1, ell_2, ell))
                n = a.shape[0]
                weights = cg[key].to(a.dtype)
                # (n, a, i) x (a, b c) -> (n, i, b, c), then a batched product over b
                partial = (
                    a.transpose(1, 2).reshape(-1, a.shape[1])
                    @ weights.reshape(weights.shape[0], -1)
                ).reshape(n, a.shape[2], weights.shape[1], weights.shape[2])
                coupled = torch.bmm(
                    partial.permute(0, 3, 1, 2).reshape(n, -1, weights.shape[1]), b
                )
                coupled = coupled.reshape(n, 2 * ell + 1, -1)
                pieces.setdefault((ell, sigma), []).append(coupled)
    return {key: torch.cat(value, dim=-1) for key, value in sorted(pieces.items())}


def _leading_components(values: torch.Tensor, n_components: int) -> torch.Tensor:
    """Uncentred principal directions ``(n_features, n_kept)`` of ``values``."""
    n_components = min(n_components, values.shape[0], values.shape[1])
    if min(values.shape) <= 4 * n_components:
        _, _, vt = torch.linalg.svd(values, full_matrices=False)
        return vt[:n_components].T
    # randomised SVD: the blocks are tall and wide, only a few directions are kept
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(0)
    _, _, v = torch.svd_lowrank(values, q=n_components + 16, niter=3)
    torch.random.set_rng_state(generator_state)
    return v[:, :n_components]


class NiceFeatures:
    """ν ≤ ``max_order`` atom-centred invariants by NICE-style iterative contraction.

    Order ν + 1 is the Clebsch–Gordan product of the (contracted) order ν with the
    neighbour density; after each product every ``(lambda, sigma)`` block keeps its
    ``n_contracted`` leading principal components (uncentred, so that equivariance
    is kept). The invariants of all orders, each scaled to unit mean square, are
    stacked and compressed to ``n_outputs`` principal components. Everything is fitted
    by :py:meth:`fit` on training data and reused by :py:meth:`transform`.

    :param max_angular: largest angular channel of the density and of the
        intermediate blocks
    :param max_order: largest body order ν
    :param n_contracted: components kept per block and order
    :param n_outputs: number of final features
    """

    def __init__(
        self,
        max_angular: int,
        max_order: int = 7,
        n_contracted: int = 32,
        n_outputs: int = 256,
    ):
        self.max_angular = max_angular
        self.max_order = max_order
        self.n_contracted = n_contracted
        self.n_outputs = n_outputs
        self._cg: Dict[Tuple[int, int, int], torch.Tensor] = {}
        self._fitted = False

    def _density_blocks(
        self, density: torch.Tensor
    ) -> Dict[Tuple[int, int], torch.Tensor]:
        blocks = {}
        for ell in range(self.max_angular + 1):
            blocks[(ell, 1)] = density[:, ell * ell : (ell + 1) * (ell + 1)]
        return blocks

    def _orders(self, density: torch.Tensor, fit: bool) -> List[torch.Tensor]:
        density = density.to(torch.float64) * self._density_scale
        rho = self._density_blocks(density)
        current = rho
        invariants = [current[(0, 1)][:, 0]]
        for order in range(2, self.max_order + 1):
            product = _cg_product(current, rho, self.max_angular, self._cg)
            contracted = {}
            for key, block in product.items():
                if fit:
                    self._projections[(order, key)] = _leading_components(
                        block.reshape(-1, block.shape[-1]), self.n_contracted
                    )
                projection = self._projections.get((order, key))
                if projection is None:
                    continue
                contracted[key] = block @ projection
            current = contracted
            if (0, 1) in current:
                invariants.append(current[(0, 1)][:, 0])
        return invariants

    def fit(self, density: torch.Tensor) -> "NiceFeatures":
        """Fit the contractions on training densities.

        :param density: ``(n_centers, (max_angular + 1) ** 2, n_channels)``
        """
        self._density_scale = 1.0 / float(
            density.to(torch.float64).pow(2).sum((1, 2)).mean().sqrt()
        )
        self._projections: Dict[Tuple[int, Tuple[int, int]], torch.Tensor] = {}
        invariants = self._orders(density, fit=True)
        self._order_scales = [1.0 / float(x.pow(2).mean().sqrt()) for x in invariants]
        stacked = self._stack(invariants)
        self._mean = stacked.mean(0)
        self._output_projection = _leading_components(
            stacked - self._mean, self.n_outputs
        )
        self._fitted = True
        return self

    def _stack(self, invariants: List[torch.Tensor]) -> torch.Tensor:
        return torch.cat([x * s for x, s in zip(invariants, self._order_scales)], dim=1)

    def transform(self, density: torch.Tensor, orders: bool = False):
        """Features ``(n_centers, n_outputs)`` of densities.

        :param density: ``(n_centers, (max_angular + 1) ** 2, n_channels)``
        :param orders: also return the scaled invariants of each order
        """
        if not self._fitted:
            raise RuntimeError("NiceFeatures.transform called before fit")
        invariants = self._orders(density, fit=False)
        stacked = self._stack(invariants)
        result = (stacked - self._mean) @ self._output_projection
        if orders:
            return result, [x * s for x, s in zip(invariants, self._order_scales)]
        return result

    def n_features(self) -> int:
        """Number of output features (after fit)."""
        return int(self._output_projection.shape[1])


__all__ = [
    "BispectrumEnergyModel",
    "FeatureEnergyModel",
    "NiceFeatures",
]
