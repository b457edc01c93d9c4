"""Cost of triplet features against featomic's ν = 3 and a naive dense einsum.

Every case runs in its own subprocess so that peak memory (max RSS) is its own;
all cases run in one invocation, on the same structures, for each thread count::

    python benchmarks/triplets.py            # full sizes (a few minutes)
    python benchmarks/triplets.py --quick    # small sizes, for a smoke test
    python benchmarks/triplets.py --cases b8 --threads 1 2

Cases:

(a) B8 clusters (``tricenter.datasets.b8_pairs``), centre atom only, paper
    hypers (7344 invariant features, 49 triplets per structure);
(b) a periodic 512-atom silicon crystal with ~28 neighbours per atom, smaller hypers.

For each: tricenter's full triplet map (``compute``), the same map streamed chunk by
chunk (``compute_chunks``, each chunk dropped after a sum, as an analysis that keeps
only a reduction would), its per-centre sums (``compute_sum``), featomic's
``SphericalExpansion`` + ``DensityCorrelations`` (ν = 3, invariants), a naive
implementation of Eq. 1 that contracts dense CG tensors over all (l, m) with one
``einsum`` per centre batch, and the write floor: ``torch.empty`` of as many numbers
as the full map, filled once (first-touch page faults included, as for any new
output). User and system CPU times are given apart, since writing a large new output
is mostly system time spent faulting its pages in; the load average at the start
tells how busy the machine was.
"""

import argparse
import json
import os
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


def run_chunks(frames, hypers, centers):
    from tricenter import TripletFeatures

    calculator = TripletFeatures(**hypers)
    selection = _selection(centers, frames)
    start = time.perf_counter()
    n_numbers = 0
    total = 0.0
    for chunk in calculator.compute_chunks(frames, selected_samples=selection):
        for block in chunk.blocks():
            n_numbers += block.values.numel()
            total += float(block.values.sum())
    elapsed = time.perf_counter() - start
    return elapsed, n_numbers


def run_write_floor(frames, hypers, centers):
    """A new tensor with the numbers of the full map, written once."""
    from tricenter import TripletFeatures

    calculator = TripletFeatures(**hypers)
    selection = _selection(centers, frames)
    pairs = calculator.compute_pairs(frames, selected_samples=selection)
    counts = torch.bincount(pairs.pair_center)
    n_types = len(torch.unique(torch.cat([pairs.center_types, pairs.neighbor_types])))
    n_features = sum(calculator.contraction.block_sizes(n_types))
    n_numbers = int((counts * counts).sum()) * n_features
    start = time.perf_counter()
    values = torch.empty(n_numbers, dtype=torch.float64)
    values.fill_(1.0)
    elapsed = time.perf_counter() - start
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
    before = resource.getrusage(resource.RUSAGE_SELF)
    if name == "tricenter":
        elapsed, n_numbers = run_tricenter(frames, hypers, centers, summed=False)
    elif name == "tricenter-chunks":
        elapsed, n_numbers = run_chunks(frames, hypers, centers)
    elif name == "write-floor":
        elapsed, n_numbers = run_write_floor(frames, hypers, centers)
    elif name == "tricenter-sum":
        elapsed, n_numbers = run_tricenter(frames, hypers, centers, summed=True)
    elif name == "featomic":
        elapsed, n_numbers = run_featomic(frames, hypers, centers)
    else:
        elapsed, n_numbers = run_naive(frames, hypers, centers)
    after = resource.getrusage(resource.RUSAGE_SELF)

    from tricenter import TripletFeatures

    selection = _selection(centers, frames)
    pairs = TripletFeatures(**hypers).compute_pairs(frames, selected_samples=selection)
    counts = torch.bincount(pairs.pair_center)
    n_triplets = int((counts * counts).sum())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": elapsed,
        # CPU time of the whole case (structures and set-up included)
        "user": after.ru_utime - before.ru_utime,
        "system": after.ru_stime - before.ru_stime,
        "numbers": n_numbers,
        "triplets": n_triplets,
        "peak_mb": peak,
        "n_centers": int(counts.shape[0]),
        "neighbors": float(counts.double().mean()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument(
        "--cases", nargs="+", default=["b8", "crystal"], choices=["b8", "crystal"]
    )
    parser.add_argument("--threads", nargs="+", type=int, default=[1])
    parser.add_argument("--names", nargs="+", help="run only these implementations")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.case is not None:
        print(json.dumps(run_case(args.name, args.case, args.quick)))
        return

    names = [
        "tricenter",
        "tricenter-chunks",
        "tricenter-sum",
        "featomic",
        "naive",
        "write-floor",
    ]
    if args.names is not None:
        names = ["tricenter"] + [n for n in args.names if n != "tricenter"]
        names = [n for n in names if n != "write-floor"] + ["write-floor"]
    titles = {
        "b8": "(a) B8 centre atoms, paper hypers",
        "crystal": "(b) periodic Si crystal",
    }
    for threads in args.threads:
        # threads are set before torch starts, in each case's own process
        environment = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        for case in args.cases:
            load = os.getloadavg()[0]
            results = {}
            for name in names:
                command = [sys.executable, __file__, "--case", case, "--name", name]
                if args.quick:
                    command.append("--quick")
                output = subprocess.run(
                    command, check=True, capture_output=True, text=True, env=environment
                )
                results[name] = json.loads(output.stdout.strip().splitlines()[-1])
            reference = results["tricenter"]
            print(
                f"\n{titles[case]}, {threads} thread(s), load average {load:.2f}: "
                f"{reference['n_centers']} centres, {reference['neighbors']:.1f} "
                f"neighbours, {reference['triplets']} triplets"
            )
            print(
                f"{'':17}{'time (s)':>9}{'user':>7}{'sys':>7}{'numbers':>12}"
                f"{'triplets/s':>12}{'peak MB':>9}{'/ ours':>8}{'/ floor':>9}"
            )
            for name in names:
                row = results[name]
                rate = row["triplets"] / row["seconds"]
                ratio = row["seconds"] / reference["seconds"]
                floor = row["seconds"] / results["write-floor"]["seconds"]
                print(
                    f"{name:17}{row['seconds']:9.3f}{row['user']:7.2f}"
                    f"{row['system']:7.2f}{row['numbers']:12d}{rate:12.0f}"
                    f"{row['peak_mb']:9.0f}{ratio:8.2f}{floor:9.2f}"
                )


if __name__ == "__main__":
    main()
