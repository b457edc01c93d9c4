"""The plain-torch harmonics against sphericart: values, first and second derivatives,
dtypes, TorchScript and autograd checks."""

import io

import pytest
import torch

from tricenter.features.harmonics import SphericalHarmonics


sphericart_torch = pytest.importorskip(
    "sphericart.torch", reason="sphericart-torch is the reference"
)


def vectors(n=200, dtype=torch.float64, seed=0):
    """Random vectors of lengths 1e-3..1e3, plus both poles and the axes."""
    generator = torch.Generator().manual_seed(seed)
    random = torch.randn(n, 3, generator=generator, dtype=torch.float64)
    random *= 10 ** (6 * torch.rand(n, 1, generator=generator, dtype=torch.float64) - 3)
    special = torch.tensor(
        [[0, 0, 1], [0, 0, -2.5], [1, 0, 0], [0, -3, 0], [1e-3, 0, 1], [1, 1, 1]],
        dtype=torch.float64,
    )
    return torch.cat([special, random]).to(dtype)


@pytest.mark.parametrize("max_angular", [0, 1, 2, 3, 6, 8])
def test_values_and_gradients_match_sphericart(max_angular):
    points = vectors()
    reference = sphericart_torch.SphericalHarmonics(max_angular)
    values, gradients, hessians = reference.compute_with_hessians(points)

    harmonics = SphericalHarmonics(max_angular)
    assert harmonics(points).shape == (len(points), (max_angular + 1) ** 2)
    torch.testing.assert_close(harmonics(points), values, rtol=0, atol=1e-12)

    def single(vector):
        return harmonics(vector.unsqueeze(0))[0]

    jacobian = torch.func.vmap(torch.func.jacrev(single))(points)
    # sphericart: (n, 3, n_lm) and (n, 3, 3, n_lm); jacrev: (n, n_lm, 3, ...)
    scale = points.norm(dim=1)
    expected = gradients.permute(0, 2, 1) * scale[:, None, None]
    torch.testing.assert_close(
        jacobian * scale[:, None, None], expected, rtol=0, atol=1e-11
    )
    # second derivatives on the special points and a few random ones
    hessian = torch.func.vmap(torch.func.jacrev(torch.func.jacrev(single)))(points[:16])
    expected = hessians[:16].permute(0, 3, 1, 2) * scale[:16, None, None, None] ** 2
    scale = scale[:16]
    torch.testing.assert_close(
        hessian * scale[:, None, None, None] ** 2, expected, rtol=0, atol=1e-10
    )


def test_float32():
    points = vectors()
    harmonics = SphericalHarmonics(6)
    single = harmonics(points.to(torch.float32))
    assert single.dtype == torch.float32
    torch.testing.assert_close(single.double(), harmonics(points), rtol=0, atol=2e-6)
    reference = sphericart_torch.SphericalHarmonics(6).compute(points.float())
    torch.testing.assert_close(single, reference, rtol=0, atol=2e-6)


def test_precision_survives_dtype_round_trips():
    """A model built in float32 and moved to float64 keeps float64 harmonics."""
    points = vectors()
    harmonics = SphericalHarmonics(6).float().double()
    reference = sphericart_torch.SphericalHarmonics(6).compute(points)
    torch.testing.assert_close(harmonics(points), reference, rtol=0, atol=1e-12)


def test_gradcheck():
    points = vectors(n=4, seed=1).requires_grad_(True)
    harmonics = SphericalHarmonics(4)
    assert torch.autograd.gradcheck(harmonics, (points,), fast_mode=False)
    assert torch.autograd.gradgradcheck(harmonics, (points,), fast_mode=False)


def test_torchscript_save_load():
    harmonics = SphericalHarmonics(5)
    scripted = torch.jit.script(harmonics)
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)

    points = vectors().requires_grad_(True)
    weights = torch.randn(len(points), 36, dtype=torch.float64)
    expected = harmonics(points)
    (expected_gradient,) = torch.autograd.grad((expected * weights).sum(), points)
    for module in (scripted, loaded):
        values = module(points)
        torch.testing.assert_close(values, expected, rtol=0, atol=1e-15)
        (gradient,) = torch.autograd.grad((values * weights).sum(), points)
        torch.testing.assert_close(gradient, expected_gradient, rtol=0, atol=1e-14)
    assert "sphericart" not in str(loaded.graph)


def test_no_points():
    values = SphericalHarmonics(3)(torch.zeros((0, 3), dtype=torch.float64))
    assert values.shape == (0, 16)


def test_cuda():
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available on this machine")
    points = vectors()
    harmonics = SphericalHarmonics(6)
    torch.testing.assert_close(
        harmonics.to("cuda")(points.to("cuda")).cpu(),
        harmonics(points),
        rtol=0,
        atol=1e-12,
    )


def test_bad_input():
    with pytest.raises(ValueError, match="max_angular must be >= 0"):
        SphericalHarmonics(-1)
    with pytest.raises(ValueError, match=r"vectors must have shape \(n, 3\)"):
        SphericalHarmonics(2)(torch.zeros(4, 2))
