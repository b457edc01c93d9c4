import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from tricenter.features.cg import real_clebsch_gordan
from tricenter.features.frame import FrameCutoff, parse_frame_cutoff
from tricenter.features.gaunt import (
    GauntTriplets,
    gaunt_paths,
    pseudoscalar_paths,
    sphere_quadrature,
)
from tricenter.features.harmonics import SphericalHarmonics


def test_quadrature_integrates_products_of_harmonics():
    max_angular = 3
    points, weights = sphere_quadrature(2 * max_angular)
    values = SphericalHarmonics(max_angular)(torch.from_numpy(points)).numpy()
    gram = values.T @ (weights[:, None] * values)
    assert np.allclose(gram, np.eye(values.shape[1]), atol=1e-13)
    assert np.isclose(weights.sum(), 4 * np.pi)


def test_paths_are_the_nonzero_triple_products():
    max_angular = 3
    points, weights = sphere_quadrature(3 * max_angular)
    values = SphericalHarmonics(max_angular)(torch.from_numpy(points)).numpy()
    paths = set(gaunt_paths(max_angular))
    for ell_1 in range(4):
        for ell_2 in range(4):
            for ell_3 in range(4):
                blocks = [
                    values[:, ell * ell : (ell + 1) ** 2]
                    for ell in (ell_1, ell_2, ell_3)
                ]
                gaunt = np.einsum("g,ga,gb,gc->abc", weights, *blocks)
                assert (np.abs(gaunt).max() > 1e-8) == ((ell_1, ell_2, ell_3) in paths)
                if (ell_1, ell_2, ell_3) in paths:
                    # proportional to the invariant Clebsch-Gordan coupling
                    cg = np.einsum(
                        "abk,kc->abc",
                        real_clebsch_gordan(ell_1, ell_2, ell_3),
                        real_clebsch_gordan(ell_3, ell_3, 0)[:, :, 0],
                    )
                    ratio = np.sum(gaunt * cg) / np.sum(cg * cg)
                    assert np.allclose(gaunt, ratio * cg, atol=1e-12)


def _random(n_centers, counts, n_channels, max_angular, seed):
    generator = torch.Generator().manual_seed(seed)
    n_lm = (max_angular + 1) ** 2
    n_tagged = sum(counts)
    first = torch.randn(
        n_tagged, n_channels, n_lm, generator=generator, dtype=torch.float64
    )
    second = torch.randn(
        n_tagged, n_channels, n_lm, generator=generator, dtype=torch.float64
    )
    density = torch.randn(
        n_centers, n_channels, n_lm, generator=generator, dtype=torch.float64
    )
    tag_center = torch.repeat_interleave(torch.arange(n_centers), torch.tensor(counts))
    return first, second, density, tag_center


@pytest.mark.parametrize("counts", [[3, 3], [2, 0, 4, 1]])
@pytest.mark.parametrize("parity", [False, True])
def test_triple_products_match_brute_force(counts, parity):
    max_angular = 2
    first, second, density, tag_center = _random(len(counts), counts, 3, max_angular, 0)
    module = GauntTriplets(max_angular, parity)
    triplets, center = module(first, second, density, tag_center)
    odd = pseudoscalar_paths(max_angular) if parity else []
    assert module.paths == gaunt_paths(max_angular) + odd
    # brute force: every triplet, channel and path; integrals on a finer grid for
    # the even paths, Clebsch-Gordan sums for the odd ones
    points, weights = sphere_quadrature(12)
    values = SphericalHarmonics(max_angular)(torch.from_numpy(points))
    weights = torch.from_numpy(weights)

    def part(coefficients, ell):
        return coefficients[ell * ell : (ell + 1) ** 2]

    def on_grid(coefficients, ell):
        return values[:, ell * ell : (ell + 1) ** 2] @ part(coefficients, ell)

    expected = []
    for i in range(len(counts)):
        pairs = torch.nonzero(tag_center == i).reshape(-1).tolist()
        for j in pairs:
            for k in pairs:
                row = []
                for c in range(3):
                    a, b, d = first[j, c], second[k, c], density[i, c]
                    per_path = []
                    for ell_1, ell_2, ell_3 in gaunt_paths(max_angular):
                        product = (
                            on_grid(a, ell_1) * on_grid(b, ell_2) * on_grid(d, ell_3)
                        )
                        per_path.append(float((weights * product).sum()))
                    for ell_1, ell_2, ell_3 in odd:
                        cg = torch.from_numpy(real_clebsch_gordan(ell_1, ell_2, ell_3))
                        per_path.append(
                            float(
                                torch.einsum(
                                    "abc,a,b,c->",
                                    cg,
                                    part(a, ell_1),
                                    part(b, ell_2),
                                    part(d, ell_3),
                                )
                            )
                        )
                    row.append(per_path)
                expected.append(row)
    expected = torch.tensor(expected, dtype=torch.float64)
    # centres come grouped by their number of tagged pairs
    expected_center = [i for i, n in enumerate(counts) for _ in range(n * n)]
    order = sorted(range(len(expected)), key=lambda t: counts[expected_center[t]])
    assert center.tolist() == [expected_center[t] for t in order]
    assert triplets.shape == expected.shape
    assert torch.allclose(triplets, expected[order], rtol=0, atol=1e-12)


def _from_points(points, max_angular, seed):
    """Coefficients of a sum of smeared points: one function per channel, with
    random weights per point, channel and angular channel."""
    generator = torch.Generator().manual_seed(seed)
    harmonics = SphericalHarmonics(max_angular)(points)
    n_channels = 3
    weights = torch.randn(
        points.shape[0],
        n_channels,
        max_angular + 1,
        generator=generator,
        dtype=torch.float64,
    )
    ell_of_lm = torch.tensor(
        [ell for ell in range(max_angular + 1) for _ in range(2 * ell + 1)]
    )
    return torch.einsum("pcl,pl->cl", weights[:, :, ell_of_lm], harmonics)


def test_pseudoscalars_flip_under_inversion_and_not_under_rotations():
    """Functions built from points: rotating the points leaves every product
    unchanged; inverting them keeps the σ = +1 ones and flips the σ = −1 ones."""
    max_angular = 3
    module = GauntTriplets(max_angular, parity=True)
    n_even = module.n_even
    assert n_even == len(gaunt_paths(max_angular))
    generator = torch.Generator().manual_seed(5)
    # two tagged pairs of one centre, each with its own points
    points = [
        torch.randn(4, 3, generator=generator, dtype=torch.float64) for _ in range(5)
    ]

    def products(transform):
        moved = [p @ transform.T for p in points]
        first = torch.stack(
            [
                _from_points(moved[0], max_angular, 0),
                _from_points(moved[1], max_angular, 1),
            ]
        )
        second = torch.stack(
            [
                _from_points(moved[2], max_angular, 2),
                _from_points(moved[3], max_angular, 3),
            ]
        )
        density = _from_points(moved[4], max_angular, 4)[None]
        return module(first, second, density, torch.tensor([0, 0]))[0]

    reference = products(torch.eye(3, dtype=torch.float64))
    scale = float(reference.abs().max())
    even, odd = reference[:, :, :n_even], reference[:, :, n_even:]
    assert float(odd.abs().max()) > 0.1 * scale
    rotation = torch.from_numpy(Rotation.random(random_state=1).as_matrix())
    assert torch.allclose(products(rotation), reference, rtol=0, atol=1e-12 * scale)
    for improper in (-torch.eye(3, dtype=torch.float64), -rotation):
        moved = products(improper)
        assert torch.allclose(moved[:, :, :n_even], even, rtol=0, atol=1e-12 * scale)
        assert torch.allclose(moved[:, :, n_even:], -odd, rtol=0, atol=1e-12 * scale)


@pytest.mark.parametrize("counts", [[2, 1], [2, 2]])
def test_triple_products_gradcheck_and_script(counts):
    module = GauntTriplets(2, parity=True)
    first, second, density, tag_center = _random(2, counts, 2, 2, 1)
    inputs = tuple(t.requires_grad_() for t in (first, second, density))

    def values(a, b, d):
        return module(a, b, d, tag_center)[0]

    assert torch.autograd.gradcheck(values, inputs)
    assert torch.autograd.gradgradcheck(values, inputs)
    scripted = torch.jit.script(module)
    assert torch.equal(scripted(*inputs, tag_center)[0], values(*inputs))


def test_no_tagged_pairs_gives_no_triplets():
    first, second, density, tag_center = _random(3, [0, 0, 0], 2, 1, 0)
    triplets, center = GauntTriplets(1)(first, second, density, tag_center)
    assert triplets.shape == (0, 2, len(gaunt_paths(1))) and center.shape == (0,)


def test_frame_switch_is_smooth_at_the_radius():
    frame = FrameCutoff(
        parse_frame_cutoff(
            {"radius": 3.0, "smoothing": {"type": "ShiftedCosine", "width": 0.5}}, 4.0
        )
    )
    r = torch.tensor([2.4, 2.5, 2.9999999, 3.0, 3.1], dtype=torch.float64)
    r.requires_grad_()
    values = frame(r)
    (grad,) = torch.autograd.grad(values.sum(), r)
    values = values.detach()
    assert values[:2].tolist() == [1.0, 1.0] and values[3:].tolist() == [0.0, 0.0]
    assert float(values[2]) < 1e-12 and float(grad[2].abs()) < 1e-5


SMOOTH = {"type": "ShiftedCosine", "width": 0.5}


@pytest.mark.parametrize(
    "frame_cutoff, match",
    [
        ({"radius": 5.0, "smoothing": SMOOTH}, "exceeds the density cutoff"),
        ({"radius": -1.0, "smoothing": SMOOTH}, "positive number"),
        (
            {"radius": 3.0, "smoothing": SMOOTH, "size": 1},
            r"unsupported key\(s\) \['size'\]",
        ),
        ({"radius": 3.0}, "needs a `radius` and a `smoothing`"),
        ({"radius": 3.0, "smoothing": {"type": "Step"}}, "energies jump"),
        (
            {"radius": 1.0, "smoothing": {"type": "ShiftedCosine", "width": 2.0}},
            "exceeds the frame radius",
        ),
        (
            {
                "radius": 3.0,
                "smoothing": {"type": "ShiftedCosine", "width": 0.5, "x": 1},
            },
            "unsupported key",
        ),
        ("3.0", "must be a dict"),
    ],
)
def test_bad_frame_cutoff(frame_cutoff, match):
    with pytest.raises(ValueError, match=match):
        parse_frame_cutoff(frame_cutoff, 4.5)


def test_coupling_constants_are_not_saved_and_old_states_load():
    """The coupling matrices are rebuilt from the hypers: the state dict leaves them
    out, and the state of a model saved when it held them (in another layout) loads
    without changing them."""
    module = GauntTriplets(2, parity=True)
    assert module.state_dict() == {}
    first, second, density, tag_center = _random(2, [2, 3], 2, 2, 3)
    before = module(first, second, density, tag_center)[0]
    old = {"density_matrix": torch.randn(9, 100), "order": torch.arange(7)}
    module.load_state_dict(old, strict=True)
    assert torch.equal(module(first, second, density, tag_center)[0], before)
