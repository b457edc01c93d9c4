"""Cost of triplet features against featomic's ν = 3 and a naive dense einsum.

Every case runs in its own subprocess so that peak memory (max RSS) is its own;
all cases run in one invocation, on the same structures::

    python benchmarks/triplets.py            # full sizes (a few minutes)
    python benchmarks/triplets.py --quick    # small sizes, for a smoke test

Cases:

(a) B8 clusters (``tricenter.datasets.b8_pairs``), centre atom only, paper
    hypers (7344 invariant features, 49 triplets per structure);
(b) a periodic 512-atom silicon crystal with ~28 neighbours per atom, smaller hypers.

For each: tricenter's full triplet map (``compute``), its per-centre sums
(``compute_sum``), featomic's ``SphericalExpansion`` + ``DensityCorrelations`` (ν = 3,
invariants), and a naive implementation of Eq. 1 that contracts dense CG tensors over
all (l, m) with one ``einsum`` per centre batch.
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from tricenter import PAPER_HYPERS


CRYSTAL = {
    "cutoff": {"radius": 4.6, "smoothing": {"type": "ShiftedCosine", "width": 0.5}},
    "density": {"type": "Gaussian", "width": 0.5, "center_atom_weight": 0.0},
    "basis": {
        "type": "TensorProduct",
        "max_angular": 2,
        "radial": {"type": "Gto", "max_radial": 3},
    },
}


def structures(case, quick):
    if case == "b8":
        from tricenter.datasets.structures import b8_pairs

        n_pairs = 50 if quick else 1000
        return b8_pairs(n_pairs, seed=12345), PAPER_HYPERS, [[0]]
    import ase.build

    repeats = (2, 2, 2) if quick else (4, 4, 4)
    crystal = ase.build.bulk("Si", "diamond", a=5.43, cubic=True).repeat(repeats)
    rng = np.random.default_rng(0)
    crystal.positions += 0.05 * rng.normal(size=crystal.positions.shape)
    return [crystal], CRYSTAL, None


def _selection(centers, frames):
    import metatensor.torch as mts

    if centers is None:
        return None
    return mts.Labels(["atom"], torch.tensor(centers, dtype=torch.int32))


def run_tricenter(frames, hypers, centers, summed):
    from tricenter import TripletFeatures

    calculator = TripletFeatures(**hypers)
    selection = _selection(centers, frames)
    start = time.perf_counter()
    if summed:
        result = calculator.compute_sum(frames, selected_samples=selection)
    else:
        result = calculator.compute(frames, selected_samples=selection)
    elapsed = time.perf_counter() - start
    n_numbers = sum(block.values.numel() for block in result.blocks())
    return elapsed, n_numbers


def run_featomic(frames, hypers, centers):
    import featomic
    import metatensor
    from featomic.clebsch_gordan import DensityCorrelations

    selection = None
    if centers is not None:
        selection = metatensor.Labels(["atom"], np.array(centers, dtype=np.int32))
    max_angular = hypers["basis"]["max_angular"]
    correlations = DensityCorrelations(n_correlations=2, max_angular=max_angular)
    invariants = metatensor.Labels(["o3_lambda"], np.array([[0]], dtype=np.int32))
    start = time.perf_counter()
    density = featomic.SphericalExpansion(**hypers).compute(
        frames, selected_samples=selection
    )
    density = density.keys_to_properties("neighbor_type")
    result = correlations.compute(
        density, angular_cutoff=max_angular, selected_keys=invariants
    )
    elapsed = time.perf_counter() - start
    n_numbers = sum(block.values.size for block in result.blocks())
    return elapsed, n_numbers


def run_naive(frames, hypers, centers):
    """Eq. 1 with dense (l m) x (l m) x (l m) CG tensors and one einsum per batch."""
    from tricenter import TripletFeatures
    from tricenter.features.cg import real_clebsch_gordan
    from tricenter.features.contraction import coupling_paths

    calculator = TripletFeatures(**hypers)
    max_angular = hypers["basis"]["max_angular"]
    n_lm = (max_angular + 1) ** 2
    paths = coupling_paths(max_angular, 0)
    dense = torch.zeros((n_lm, n_lm, n_lm, len(paths)), dtype=torch.float64)
    for index, (l1, l2, k, _) in enumerate(paths):
        dense[
            l1 * l1 : (l1 + 1) ** 2,
            l2 * l2 : (l2 + 1) ** 2,
            k * k : (k + 1) ** 2,
            index,
        ] = torch.from_numpy(real_clebsch_gordan(l1, l2, k))

    selection = _selection(centers, frames)
    start = time.perf_counter()
    pairs = calculator.compute_pairs(frames, selected_samples=selection)
    types = torch.unique(torch.cat([pairs.center_types, pairs.neighbor_types]))
    inputs = calculator.core(pairs, types)
    expansion, density = inputs.expansion, inputs.density
    n_centers = pairs.centers.shape[0]
    first, second, *_ = calculator.core.contraction.indices(
        pairs.pair_center, n_centers
    )
    n_numbers = 0
    for chunk in torch.split(torch.arange(first.shape[0]), 256):
        coupled = torch.einsum(
            "tcf,abcP->tabfP", density[pairs.pair_center[first[chunk]]], dense
        )
        coupled = torch.einsum("tabfP,tbm->tafPm", coupled, expansion[second[chunk]])
        values = torch.einsum("tafPm,tan->tPnmf", coupled, expansion[first[chunk]])
        n_numbers += values.numel()
    elapsed = time.perf_counter() - start
    return elapsed, n_numbers


def run_case(name, case, quick):
    frames, hypers, centers = structures(case, quick)
    if name == "tricenter":
        elapsed, n_numbers = run_tricenter(frames, hypers, centers, summed=False)
    elif name == "tricenter-sum":
        elapsed, n_numbers = run_tricenter(frames, hypers, centers, summed=True)
    elif name == "featomic":
        elapsed, n_numbers = run_featomic(frames, hypers, centers)
    else:
        elapsed, n_numbers = run_naive(frames, hypers, centers)

    from tricenter import TripletFeatures

    selection = _selection(centers, frames)
    pairs = TripletFeatures(**hypers).compute_pairs(frames, selected_samples=selection)
    counts = torch.bincount(pairs.pair_center)
    n_triplets = int((counts * counts).sum())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": elapsed,
        "numbers": n_numbers,
        "triplets": n_triplets,
        "peak_mb": peak,
        "n_centers": int(counts.shape[0]),
        "neighbors": float(counts.double().mean()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.case is not None:
        torch.set_num_threads(torch.get_num_threads())
        print(json.dumps(run_case(args.name, args.case, args.quick)))
        return

    names = ["tricenter", "tricenter-sum", "featomic", "naive"]
    for case, title in [
        ("b8", "(a) B8 centre atoms, paper hypers"),
        ("crystal", "(b) periodic Si crystal"),
    ]:
        results = {}
        for name in names:
            command = [sys.executable, __file__, "--case", case, "--name", name]
            if args.quick:
                command.append("--quick")
            output = subprocess.run(command, check=True, capture_output=True, text=True)
            results[name] = json.loads(output.stdout.strip().splitlines()[-1])
        reference = results["tricenter"]
        print(
            f"\n{title}: {reference['n_centers']} centres, "
            f"{reference['neighbors']:.1f} neighbours, {reference['triplets']} triplets"
        )
        print(
            f"{'':15}{'time (s)':>10}{'numbers':>14}{'triplets/s':>14}"
            f"{'peak MB':>10}{'time / ours':>13}"
        )
        for name in names:
            row = results[name]
            rate = row["triplets"] / row["seconds"]
            ratio = row["seconds"] / reference["seconds"]
            print(
                f"{name:15}{row['seconds']:10.3f}{row['numbers']:14d}{rate:14.0f}"
                f"{row['peak_mb']:10.0f}{ratio:13.2f}"
            )


if __name__ == "__main__":
    main()
