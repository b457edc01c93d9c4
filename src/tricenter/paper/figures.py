"""Figures of the Table 1 reproduction (paper Fig. 3a, 3b and S4)."""

from pathlib import Path

import numpy as np
import torch

from ..features.neighbors import systems_with_neighbors


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


COLORS = {"D_NL": "tab:red", "B_NL": "tab:blue", "shipped": "tab:blue"}


def parity_figure(table, path: Path, rows=("D_NL", "B_NL"), n_pairs: int = 250):
    """Fig. 3b: predicted vs reference energies of test pairs, partners joined by a
    line.

    :param table: a :py:class:`~tricenter.paper.experiment.Experiment` whose
        ``rows`` are finished
    :param path: image file to write
    :param rows: the rows drawn
    :param n_pairs: at most this many pairs drawn
    """
    plt = _pyplot()
    target = table.targets_of("test")
    n = min(n_pairs, len(target) // 2)
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    for name in rows:
        color = COLORS.get(name, "tab:green")
        predicted = np.load(table.out / "rows" / f"{name}.npy")
        for k in range(n):
            axes.plot(
                target[2 * k : 2 * k + 2],
                predicted[2 * k : 2 * k + 2],
                color=color,
                lw=0.5,
                alpha=0.6,
            )
        axes.scatter(target[: 2 * n], predicted[: 2 * n], s=4, color=color, label=name)
    low, high = float(target.min()), float(target.max())
    axes.plot([low, high], [low, high], color="black", lw=0.8)
    axes.set_xlabel("reference E - E_ref / eV")
    axes.set_ylabel("predicted / eV")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=150)
    plt.close(figure)


def latent_sweep_plot(sweep: dict, path: Path):
    """Draw the latent sweep stored under ``"latent_sweep"`` in ``table1.json``.

    :param sweep: ``{"linear" | "nonlinear": {q: {"mean", "diff"}}}``
    :param path: image file to write

    A stored run is redrawn with ``latent_sweep_plot(json.load(open(
    "table1.json"))["latent_sweep"], "table1-latent.png")``.
    """
    plt = _pyplot()
    names = {"linear": "A^ρ_L (linear encoder)", "nonlinear": "A^ρ_NL (MLP encoder)"}
    titles = {"mean": "Mean error", "diff": "Diff error"}
    with plt.rc_context({"font.size": 14}):
        figure, axes = plt.subplots(1, 2, figsize=(11, 5.2))
        for index, metric in enumerate(("mean", "diff")):
            for kind, marker in (("linear", "s"), ("nonlinear", "o")):
                sizes = sorted(sweep[kind], key=int)
                values = [sweep[kind][q][metric] for q in sizes]
                axes[index].plot(
                    [int(q) for q in sizes],
                    values,
                    marker=marker,
                    markersize=8,
                    lw=2,
                    label=names[kind],
                )
            axes[index].set_xscale("log", base=2)
            axes[index].set_yscale("log")
            axes[index].set_xlabel("latent size q")
            axes[index].set_ylabel(f"relative {metric} error")
            axes[index].set_title(titles[metric])
            axes[index].grid(True, which="both", alpha=0.3)
        axes[1].axhline(1.0, color="black", lw=1, ls="--")
        handles, labels = axes[0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="lower center", ncol=2, frameon=False)
        figure.tight_layout(rect=(0, 0.08, 1, 1))
        figure.savefig(path, dpi=120)
    plt.close(figure)


def distortion_figure(table, path: Path, amplitudes=(0.001, 0.003, 0.01, 0.03, 0.1)):
    """Fig. 3a: distances between the two partners of distorted test pairs, in
    bispectrum, encoded (A^ρ_NL) and ν ≤ 7 feature spaces."""
    plt = _pyplot()
    vector, dtype = table.load_vector_model("A_rho_NL", False, table.preset.latent)
    rng = np.random.default_rng(table.seed + 1)
    pairs = table.index["test"][: 2 * table.preset.n_distortion_pairs]
    frames = []
    for amplitude in amplitudes:
        for i in pairs:
            frame = table.frames[i].copy()
            frame.positions += rng.normal(scale=amplitude, size=frame.positions.shape)
            frames.append(frame)
    systems = systems_with_neighbors(frames, table.inputs.features.cutoff)
    selected = table.selection(len(systems), [0])
    with torch.no_grad():
        _, density, _, _, _, _ = table.inputs(systems, selected)
        summed = table.inputs.summed(density).reshape(len(systems), -1)
        # all body orders before the final PCA, which keeps the directions of
        # largest variance and may drop the small ν >= 4 partner differences
        _, orders = table.nice.transform(density, orders=True)
        high_order = torch.cat(orders, dim=1)
        low = systems_with_neighbors(frames, table.inputs.features.cutoff, dtype=dtype)
        encoded, _, _ = vector.encoder(low, selected)
    spaces = {
        "bispectrum (ν = 3)": (summed, "tab:red"),
        "encoded (A^ρ_NL)": (encoded.double(), "tab:blue"),
    }

    def distances(x):
        x = x / x.std(0).norm()
        return (x[0::2] - x[1::2]).norm(dim=1).numpy()

    reference = distances(high_order)
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    for label, (values, color) in spaces.items():
        axes.scatter(reference, distances(values), s=5, color=color, label=label)
    axes.plot(
        [reference.min(), reference.max()],
        [reference.min(), reference.max()],
        color="black",
        lw=0.8,
    )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("distance of partners, ν ≤ 7 features")
    axes.set_ylabel("distance of partners")
    axes.set_title(f"distortions {min(amplitudes)}-{max(amplitudes)} Å")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=150)
    plt.close(figure)
