"""Where the default tricenter potential spends its time: one energy + forces step on
rattled diamond Si-512 (as in MD), and one training step (energies and forces in the
loss, double backward) on 16 structures of the silicon data.

    python benchmarks/profile_potential.py --dtype float64 --threads 1
    python benchmarks/profile_potential.py --training runs/silicon/data/train-500.xyz

Prints the mean time per step and torch's profile of the operators, largest self time
first (with their input shapes). Untrained weights cost what trained ones do.
"""

import argparse
import time

import numpy as np
import torch


def _md_step(model, dtype):
    import ase.build

    from tricenter.features.neighbors import systems_with_neighbors, with_gradients

    atoms = ase.build.bulk("Si", "diamond", a=5.43, cubic=True).repeat(4)
    atoms.rattle(0.05, seed=0)
    systems = systems_with_neighbors([atoms], model.cutoff, dtype=dtype)

    def step():
        moving = with_gradients(systems)
        energies, _, _ = model(moving, None)
        torch.autograd.grad(energies.sum(), [moving[0].positions])

    return step


def _training_step(model, dtype, path):
    from tricenter.datasets import read_extxyz
    from tricenter.features.neighbors import systems_with_neighbors
    from tricenter.train.energy import calibrate, energy_loss, fit_energy_scales

    frames = read_extxyz(path, ":64")
    systems = systems_with_neighbors(frames, model.cutoff, dtype=dtype)
    energies = np.array([f.get_potential_energy() for f in frames])
    forces = [torch.tensor(f.get_forces(), dtype=dtype) for f in frames]
    fit_energy_scales(model, energies, frames, None)
    calibrate(model, systems, None)
    loss = energy_loss(
        model, systems, torch.tensor(energies, dtype=dtype), forces, None, 1.0
    )
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    batches = [np.arange(start, start + 16) for start in range(0, 64, 16)]
    counter = iter(range(10**9))

    def step():
        optimizer.zero_grad()
        value, _ = loss(batches[next(counter) % len(batches)], True)
        value.backward()
        optimizer.step()

    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=20, help="operators shown")
    parser.add_argument(
        "--channels", type=int, default=None, help="projected channels (default's)"
    )
    parser.add_argument(
        "--training", default=None, help="extxyz file: profile a training step on it"
    )
    args = parser.parse_args(argv)
    if args.channels is not None and args.channels <= 0:
        parser.error(f"--channels must be positive, got {args.channels}")

    from torch.profiler import profile

    from tricenter.models.potential import POTENTIAL_HYPERS, TripletPotential

    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    options = {} if args.channels is None else {"channels": args.channels}
    model = TripletPotential(POTENTIAL_HYPERS, [14], **options).to(dtype)
    if args.training is None:
        step = _md_step(model, dtype)
    else:
        step = _training_step(model, dtype, args.training)
    step()
    start = time.perf_counter()
    for _ in range(args.repeats):
        step()
    seconds = (time.perf_counter() - start) / args.repeats
    kind = "training step" if args.training else "Si-512 energy + forces"
    print(
        f"{kind}, {args.dtype}, {args.threads} thread(s), {model.channels} channels: "
        f"{seconds:.3f} s per step"
    )
    with profile(record_shapes=True) as profiler:
        step()
    print(
        profiler.key_averages(group_by_input_shape=True).table(
            sort_by="self_cpu_time_total",
            row_limit=args.rows,
            max_name_column_width=28,
            max_shapes_column_width=60,
        )
    )


if __name__ == "__main__":
    main()
