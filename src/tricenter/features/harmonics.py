"""Real spherical harmonics whose derivatives survive TorchScript export.

sphericart-torch registers the backward of its harmonics from Python: a TorchScript
model loaded where ``sphericart.torch`` was never imported (a C++ engine, a fresh
process) would silently drop the harmonics from its gradients. Here the harmonics,
their gradients and their Hessians are computed by sphericart's TorchScript operator on
detached inputs, and re-attached to the graph through a second-order Taylor expansion
around the input,

.. math::

    Y(\\mathbf{r}) = Y_0 + \\nabla Y_0 \\cdot \\delta + \\tfrac{1}{2}\\,
        \\delta^\\top H_0\\, \\delta, \\qquad \\delta = \\mathbf{r} - \\mathbf{r}_0 = 0,

whose value, first and second derivatives at :math:`\\delta = 0` are exact. Autograd
then only ever differentiates plain tensor operations, wherever the model runs.
"""

import sphericart.torch
import torch


class SphericalHarmonics(torch.nn.Module):
    """Real spherical harmonics :math:`Y_l^m(\\hat{\\mathbf{r}})`, ``l <= max_angular``.

    Ordered as ``l (l + 1) + m`` with ``m = -l..l`` (featomic's ``o3_mu``).

    :param max_angular: largest angular channel
    """

    def __init__(self, max_angular: int):
        super().__init__()
        self.calculator = sphericart.torch.SphericalHarmonics(max_angular)

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        """
        :param vectors: ``(n_pairs, 3)`` non-zero vectors
        :return: ``(n_pairs, (max_angular + 1) ** 2)``
        """
        if not vectors.requires_grad:
            return self.calculator.compute(vectors)

        origin = vectors.detach()
        values, gradients, hessians = self.calculator.compute_with_hessians(origin)
        delta = vectors - origin
        first = torch.einsum("pa,pak->pk", delta, gradients)
        second = torch.einsum("pa,pb,pabk->pk", delta, delta, hessians)
        return values + first + 0.5 * second
