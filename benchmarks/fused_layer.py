"""Time and peak memory of one B_NL training step: fused first layer vs triplets.

The fused step (the model as shipped) contracts the first layer's weights with the
per-pair factors of the triplet contraction, so it holds ``(n_triplets, width)``
tensors; the materialised step builds the ``(n_triplets, 7344)`` triplet matrix and
multiplies it by the same weights. Both compute the same loss and gradients; the
script checks it, then prints a table.

Usage: ``python benchmarks/fused_layer.py [--structures 64] [--width 128]``
"""

import argparse
import resource
import time

import numpy as np
import psutil
import torch

from tricenter.datasets.structures import b8_pairs
from tricenter.features.neighbors import systems_with_neighbors
from tricenter.models import PAPER_HYPERS, TripletEnergyModel
from tricenter.train.energy import selection


def materialised_xi(encoder, systems, selected):
    """ξ with the triplet matrix built explicitly (same maths as the fused layer)."""
    core = encoder.inputs.features
    inputs = encoder.inputs(systems, selected)
    density, pair_center, pair_type = (
        inputs.density,
        inputs.pair_center,
        inputs.pair_type,
    )
    values, first, second = core.triplets(inputs)
    triplets = core.invariants(values)
    weights = encoder.weight * encoder.input_scale
    if weights.shape[0] == 1:
        hidden = triplets @ weights[0, 0].T
    else:
        hidden = torch.einsum(
            "tf,tqf->tq", triplets, weights[pair_type[first], pair_type[second]]
        )
    hidden = encoder.tail(hidden + encoder.bias)
    hidden = hidden - encoder.tail(encoder.bias.unsqueeze(0))
    xi = torch.zeros(density.shape[0], hidden.shape[1], dtype=hidden.dtype)
    xi = xi.index_add(0, pair_center[first], hidden) * encoder.sum_scale
    return xi, inputs.center_type, triplets.shape


def step(model, systems, selected, targets, fused: bool):
    model.zero_grad()
    if fused:
        energies, _, _ = model(systems, selected)
    else:
        xi, center_type, _ = materialised_xi(model.encoder, systems, selected)
        energies = model.energies(xi, center_type)
    loss = (energies - targets).pow(2).mean()
    loss.backward()
    return float(loss.detach())


def measure(fused: bool, args, queue):
    """One variant in a fresh process, so that peak memories do not mix."""
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    frames = b8_pairs(args.structures // 2)
    systems = systems_with_neighbors(frames, 2.0, dtype=dtype)
    selected = selection(len(systems), [0])
    torch.manual_seed(0)
    model = TripletEnergyModel(
        PAPER_HYPERS, [5], latent=args.width, encoder_hidden=[args.width, args.width]
    ).to(dtype)
    # calibrating on two structures keeps the setup's high-water mark low
    model.encoder.calibrate(systems[:2], selection(2, [0]))
    targets = torch.randn(len(systems), generator=torch.Generator().manual_seed(1))
    targets = targets.to(dtype)
    n_triplets = sum(len(frame) - 1 for frame in frames[:1]) ** 2 * len(frames)
    shape = (n_triplets, model.encoder.inputs.n_features)
    process = psutil.Process()
    before = process.memory_info().rss
    times = []
    for _ in range(args.repeats + 1):
        start = time.perf_counter()
        loss = step(model, systems, selected, targets, fused)
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    queue.put(
        {
            "time": min(times[1:]),
            "memory": (peak - before) / 2**20,
            "loss": loss,
            "gradient": model.encoder.weight.grad.detach().numpy().copy(),
            "shape": tuple(shape),
        }
    )


def main():
    import multiprocessing

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--structures", type=int, default=64)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    results = {}
    # the materialised variant runs first: its triplet matrix must not be hidden by
    # memory the fused variant already made resident
    for fused in (False, True):
        queue = context.Queue()
        process = context.Process(target=measure, args=(fused, args, queue))
        process.start()
        results["fused" if fused else "materialised"] = queue.get()
        process.join()

    fused, materialised = results["fused"], results["materialised"]
    relative = float(
        np.linalg.norm(fused["gradient"] - materialised["gradient"])
        / np.linalg.norm(materialised["gradient"])
    )
    n_triplets, n_features = fused["shape"]
    print(
        f"B_NL training step: {args.structures} B8 structures, {n_triplets} "
        f"triplets, {n_features} triplet features, width {args.width}, "
        f"{args.dtype}, {args.threads} thread(s)"
    )
    print(
        f"loss {fused['loss']:.12g} (fused) vs {materialised['loss']:.12g} "
        f"(materialised); relative difference of first-layer gradients {relative:.1e}"
    )
    size = 8 if args.dtype == "float64" else 4
    print(f"triplet matrix alone: {n_triplets * n_features * size / 2**20:.1f} MiB")
    print("| first layer  | step time / s | peak memory above baseline / MiB |")
    print("|--------------|---------------|----------------------------------|")
    for name, values in results.items():
        print(f"| {name:12s} | {values['time']:13.3f} | {values['memory']:32.1f} |")


if __name__ == "__main__":
    main()
