"""Triplet features against live references: featomic and a brute-force triple loop."""

import copy
import itertools

import ase
import numpy as np
import pytest

from tricenter import TripletFeatures
from tricenter.features.cg import complex_to_real

from ..helpers import HYPERS


featomic = pytest.importorskip("featomic")


def _molecule():
    rng = np.random.default_rng(0)
    return ase.Atoms("CH3O", positions=1.1 * rng.normal(size=(5, 3)))


def _triclinic():
    # a small skewed cell: each atom sees several periodic images of each neighbour
    return ase.Atoms(
        "SiC",
        positions=[[0, 0, 0], [1.1, 0.9, 1.0]],
        cell=[[2.6, 0.3, 0.1], [0.4, 2.7, 0.2], [0.2, 0.5, 2.8]],
        pbc=True,
    )


def _featomic_hypers(hypers):
    hypers = copy.deepcopy(hypers)
    # featomic splines its radial integrals to 1e-8 by default; tighten it so the
    # comparison measures our implementation, not featomic's interpolation
    hypers["basis"]["spline_accuracy"] = 1e-12
    return hypers


def _self_pair(rows):
    return (rows[:, 1] == rows[:, 2]) & np.all(rows[:, 3:] == 0, axis=1)


def _relative_error(ours, reference, skip_self_pairs=False):
    """Largest deviation over all blocks, relative to the largest reference value.

    Every reference sample must exist in ``ours``; ``skip_self_pairs`` drops
    featomic's ``i == i`` pairs, which are not neighbours."""
    scale = max(np.abs(block.values).max(initial=0) for block in reference.blocks())
    worst = 0.0
    for key, block in reference.items():
        rows = block.samples.values
        values = block.values
        if skip_self_pairs:
            keep = ~_self_pair(rows)
            rows, values = rows[keep], values[keep]
        mine = ours.block(dict(zip(key.names, key.values.tolist())))
        index = {tuple(row): i for i, row in enumerate(mine.samples.values.tolist())}
        order = [index[tuple(row)] for row in rows.tolist()]
        aligned = mine.values.detach().numpy()[order]
        if len(order) != 0:
            worst = max(worst, np.abs(aligned - values).max() / scale)
    return worst


@pytest.mark.parametrize("center_atom_weight", [0.0, 0.7])
@pytest.mark.parametrize("structure", [_molecule, _triclinic])
def test_density_matches_featomic(structure, center_atom_weight):
    hypers = copy.deepcopy(HYPERS)
    hypers["density"]["center_atom_weight"] = center_atom_weight
    hypers["basis"]["max_angular"] = 3
    calculator = TripletFeatures(**hypers)
    frames = [structure(), _molecule()]

    reference = featomic.SphericalExpansion(**_featomic_hypers(hypers)).compute(frames)
    assert _relative_error(calculator.compute_density(frames), reference) < 1e-8

    reference = featomic.SphericalExpansionByPair(**_featomic_hypers(hypers)).compute(
        frames
    )
    ours = calculator.compute_pair_expansion(frames)
    assert _relative_error(ours, reference, skip_self_pairs=True) < 1e-8
    # no pair of ours is missing from featomic either
    n_reference = sum(
        int(np.sum(~_self_pair(block.samples.values))) for block in reference.blocks()
    )
    assert n_reference == sum(len(block.samples) for block in ours.blocks())


def _real_harmonics(vector, max_angular):
    """Real harmonics from scipy's complex ones, independently of sphericart."""
    import scipy.special

    x, y, z = vector / np.linalg.norm(vector)
    theta = np.arccos(np.clip(z, -1, 1))
    phi = np.arctan2(y, x)
    result = []
    for ell in range(max_angular + 1):
        complex_values = np.array(
            [scipy.special.sph_harm_y(ell, m, theta, phi) for m in range(-ell, ell + 1)]
        )
        result.append((complex_to_real(ell) @ complex_values).real)
    return result


def _brute_force(atoms, hypers, o3_lambda):
    """Eq. 1 by explicit loops over centres, neighbour pairs and every m."""
    import wigners

    from tricenter.features.hypers import parse_hypers
    from tricenter.features.radial import radial_integrals

    parsed = parse_hypers(**hypers)
    max_angular = parsed.max_angular
    n_radial = parsed.max_radial + 1
    types = sorted(set(atoms.numbers))

    def cg(l1, l2, big):
        u1, u2, u = (complex_to_real(ell) for ell in (l1, l2, big))
        value = np.einsum(
            "ia,jb,kc,abc->ijk",
            u1.conj(),
            u2.conj(),
            u,
            wigners.clebsch_gordan_array(l1, l2, big),
        )
        return value.real if (l1 + l2 + big) % 2 == 0 else value.imag

    def cutoff(r):
        start = parsed.radius - parsed.smoothing_width
        if r < start:
            return 1.0
        return 0.5 * (1 + np.cos(np.pi * (r - start) / parsed.smoothing_width))

    def expansion(vector):
        r = np.linalg.norm(vector)
        radial, _ = radial_integrals(parsed, np.array([r]))
        harmonics = _real_harmonics(vector, max_angular)
        return [
            cutoff(r) * radial[0, ell][:, None] * harmonics[ell][None, :]
            for ell in range(max_angular + 1)
        ]

    positions = atoms.positions
    result = {}
    for i in range(len(atoms)):
        neighbors = [
            j
            for j in range(len(atoms))
            if j != i and np.linalg.norm(positions[j] - positions[i]) < parsed.radius
        ]
        rho = {j: expansion(positions[j] - positions[i]) for j in neighbors}
        density = {
            a: [
                sum(
                    (rho[j][ell] for j in neighbors if atoms.numbers[j] == a),
                    np.zeros((n_radial, 2 * ell + 1)),
                )
                for ell in range(max_angular + 1)
            ]
            for a in types
        }
        for j, jp in itertools.product(neighbors, neighbors):
            features = {}
            for l1, l2 in itertools.product(range(max_angular + 1), repeat=2):
                for k in range(abs(l1 - l2), min(l1 + l2, max_angular) + 1):
                    lowest = abs(k - o3_lambda)
                    for l3 in range(lowest, min(k + o3_lambda, max_angular) + 1):
                        c1, c2 = cg(l1, l2, k), cg(k, l3, o3_lambda)
                        for a in types:
                            # the explicit CG sum over m1, m2, M, m3
                            value = np.einsum(
                                "abM,Mcu,xa,yb,zc->xyzu",
                                c1,
                                c2,
                                rho[j][l1],
                                rho[jp][l2],
                                density[a][l3],
                            )
                            for n1, n2, n3 in itertools.product(
                                range(n_radial), repeat=3
                            ):
                                key = (l1, n1, l2, k, l3, n2, a, n3)
                                features[key] = value[n1, n2, n3]
            result[(i, j, jp)] = features
    return result


@pytest.mark.parametrize("o3_lambda", [0, 1])
@pytest.mark.parametrize("one_centre_per_span", [False, True])
def test_triplets_match_brute_force(o3_lambda, one_centre_per_span):
    hypers = copy.deepcopy(HYPERS)
    hypers["basis"]["radial"]["max_radial"] = 1
    # the last H sees only the first: centres have 3, 4, 3, 3 and 1 neighbours
    atoms = ase.Atoms(
        "CHHOH",
        positions=[
            [0, 0, 0],
            [1.0, 0.2, -0.1],
            [-0.3, 0.9, 0.4],
            [0.2, -0.5, 1.1],
            [3.2, 0.0, 0.0],
        ],
    )
    calculator = TripletFeatures(**hypers, o3_lambdas=[o3_lambda])
    if one_centre_per_span:
        calculator.contraction.span_numbers = 1
    ours = calculator.compute([atoms])
    reference = _brute_force(atoms, hypers, o3_lambda)

    n_compared = 0
    scale = max(np.abs(v).max() for f in reference.values() for v in f.values())
    for block in ours.blocks():
        if len(block.samples) == 0:
            continue
        values = block.values.reshape(len(block.samples), -1, len(block.properties))
        properties = [tuple(row) for row in block.properties.values.tolist()]
        for sample, value in zip(block.samples.values.tolist(), values.numpy()):
            expected = reference[(sample[1], sample[2], sample[3])]
            for index, name in enumerate(properties):
                np.testing.assert_allclose(
                    value[:, index], expected[name], rtol=0, atol=1e-10 * scale
                )
                n_compared += 1
    n_triplets = len(reference)
    assert n_triplets == 3 * 3 + 4 * 4 + 3 * 3 + 3 * 3 + 1
    assert n_compared == n_triplets * len(next(iter(reference.values())))
