"""Figures of the lobes stage: one function per paper figure (Li et al. 2024, Figs. 2-5)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .affinity import GEOMETRIC, unit_rows  # noqa: E402


def feature_cloud_2d(decoder: np.ndarray, method: str, seed: int,
                     max_points: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """2-D map of the decoder directions (F, d) for Fig. 2: t-SNE (as the paper) or PCA.

    Returns (indices of the mapped features, (n, 2) coordinates); a seeded subsample of
    ``max_points`` features when F is larger (t-SNE is O(n log n) but slow on 16k x 2304).
    """
    u = unit_rows(decoder)
    idx = np.arange(u.shape[0])
    if max_points is not None and u.shape[0] > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(u.shape[0], max_points, replace=False))
    x = u[idx]
    if method == "pca":
        from sklearn.decomposition import PCA

        return idx, PCA(n_components=2, random_state=seed).fit_transform(x)
    if method == "tsne":
        from sklearn.decomposition import PCA
        from sklearn.manifold import TSNE

        x50 = PCA(n_components=min(50, x.shape[1], x.shape[0]), random_state=seed).fit_transform(x)
        perplexity = float(min(30.0, max(2.0, (x.shape[0] - 1) / 3.0)))
        return idx, TSNE(n_components=2, init="pca", random_state=seed,
                         perplexity=perplexity).fit_transform(x50)
    raise ValueError(f"unknown 2-D embedding {method!r}")


def plot_feature_cloud(idx: np.ndarray, coords: np.ndarray, labels: pd.DataFrame, k: int,
                       title: str, variant: str = "corrected"):
    """Fig. 2: the feature cloud coloured by lobe, one panel per measure (+ geometric).

    Shows one variant's lobes (corrected by default: never-firing features grey).
    """
    labels = labels[labels["variant"] == variant]
    measures = list(dict.fromkeys(labels["measure"]))
    measures = [m for m in measures if m != GEOMETRIC] + [GEOMETRIC]
    ncol = min(3, len(measures))
    nrow = int(np.ceil(len(measures) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 4.0 * nrow), squeeze=False)
    cmap = plt.get_cmap("tab10" if k <= 10 else "tab20")
    for ax, measure in zip(axes.ravel(), measures):
        sel = labels[(labels["measure"] == measure) & (labels["k"] == k)].sort_values("feature")
        lobe = sel["lobe"].to_numpy()[idx]
        off = lobe < 0
        ax.scatter(coords[off, 0], coords[off, 1], s=2, c="lightgrey", label="never fires")
        ax.scatter(coords[~off, 0], coords[~off, 1], s=3, c=cmap(lobe[~off] % cmap.N),
                   rasterized=True)
        ax.set_title(f"{measure} (k={k})", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.ravel()[len(measures):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    return fig


def plot_tests_vs_k(tests: pd.DataFrame, title: str):
    """Fig. 3: AMI with geometric clusters, and probe balanced accuracy, against k.

    Faithful (o-) and corrected (s:) lines; band: the corrected AMI null mean +- 2 std
    (permutations); grey dashes: the probe on random unit vectors.
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = dict(zip(dict.fromkeys(tests["measure"]), plt.get_cmap("tab10").colors))
    styles = {"faithful": "o-", "corrected": "s:"}
    for (measure, variant), g in tests.groupby(["measure", "variant"], sort=False):
        g = g.sort_values("k")
        ax1.plot(g["k"], g["ami"], styles[variant], color=colors[measure],
                 label=f"{measure} ({variant})")
        if variant == "corrected":
            ax1.fill_between(g["k"], g["ami_null_mean"] - 2 * g["ami_null_std"],
                             g["ami_null_mean"] + 2 * g["ami_null_std"], color=colors[measure],
                             alpha=0.15)
    ks = sorted(tests["k"].unique())
    ax1.set_xscale("log", base=2)
    ax1.set_xticks(ks, [str(k) for k in ks])
    ax1.set_xlabel("number of lobes k")
    ax1.set_ylabel("AMI(co-occurrence lobes, geometric clusters)")
    ax1.legend(fontsize=7, ncol=2)
    for (measure, variant), g in tests.groupby(["measure", "variant"], sort=False):
        g = g.sort_values("k")
        ax2.plot(g["k"], g["balanced_accuracy"], styles[variant], color=colors[measure],
                 label=f"{measure} ({variant})")
        ax2.plot(g["k"], g["acc_null_mean"], "--", color="grey", lw=0.8)
    ax2.set_xscale("log", base=2)
    ax2.set_xticks(ks, [str(k) for k in ks])
    ax2.set_xlabel("number of lobes k")
    ax2.set_ylabel("probe balanced accuracy (grey: random unit vectors)")
    ax2.legend(fontsize=7, ncol=2)
    fig.suptitle(title, fontsize=10)
    return fig


def plot_specialization(spec: pd.DataFrame, ks: list[int], title: str):
    """Figs. 4-5: fraction of each category's chunks won by each lobe (stacked bars).

    Rows: measures; columns: (k, variant) for the requested ks.
    """
    measures = list(dict.fromkeys(spec["measure"]))
    cols = [(k, v) for k in ks for v in ("faithful", "corrected")]
    cats = sorted(spec["category"].unique())
    fig, axes = plt.subplots(len(measures), len(cols),
                             figsize=(3.6 * len(cols), 0.35 * len(cats) * len(measures) + 1.5),
                             squeeze=False)
    for i, measure in enumerate(measures):
        for j, (k, variant) in enumerate(cols):
            ax = axes[i, j]
            g = spec[(spec["measure"] == measure) & (spec["k"] == k) & (spec["variant"] == variant)]
            table = g.pivot(index="category", columns="lobe", values="fraction").reindex(cats)
            left = np.zeros(len(cats))
            cmap = plt.get_cmap("tab10" if k <= 10 else "tab20")
            for lobe in table.columns:
                vals = np.nan_to_num(table[lobe].to_numpy())
                ax.barh(cats, vals, left=left, color=cmap(int(lobe) % cmap.N), label=f"lobe {lobe}")
                left += vals
            ax.set_xlim(0, 1)
            ax.set_title(f"{measure}, k={k}, {variant}", fontsize=9)
            ax.tick_params(labelsize=7)
            if i == 0 and j == len(cols) - 1 and k <= 10:
                ax.legend(fontsize=6, loc="lower right")
    fig.suptitle(title, fontsize=10)
    return fig
