"""Figures of the lobes stage: one function per paper figure (Li et al. 2024, Figs. 2-5)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .affinity import GEOMETRIC, unit_rows  # noqa: E402


def feature_cloud_2d(
    decoder: np.ndarray, method: str, seed: int, max_points: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
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
        return idx, TSNE(
            n_components=2, init="pca", random_state=seed, perplexity=perplexity
        ).fit_transform(x50)
    raise ValueError(f"unknown 2-D embedding {method!r}")


def align_lobe_ids(reference: np.ndarray, lobes: np.ndarray) -> np.ndarray:
    """Relabel ``lobes`` so that each of its lobes takes the id of the ``reference`` lobe it
    shares most features with (one-to-one, maximum total overlap: Hungarian assignment), so
    that a colour means the same lobe in every panel. Ids < 0 (excluded features) stay;
    lobes left unmatched (more lobes than the reference has) keep ids above the reference's.
    """
    from scipy.optimize import linear_sum_assignment

    reference, lobes = np.asarray(reference), np.asarray(lobes)
    ok = (reference >= 0) & (lobes >= 0)
    if not ok.any():
        return lobes.copy()
    n = int(max(reference.max(), lobes.max())) + 1
    overlap = np.zeros((n, n))
    np.add.at(overlap, (lobes[ok], reference[ok]), 1)
    rows, cols = linear_sum_assignment(-overlap)
    mapping = np.arange(n)
    mapping[rows] = cols
    out = lobes.copy()
    out[lobes >= 0] = mapping[lobes[lobes >= 0]]
    return out


def plot_feature_cloud(
    idx: np.ndarray,
    coords: np.ndarray,
    labels: pd.DataFrame,
    k: int,
    title: str,
    variant: str = "corrected",
    code_lobes: dict | None = None,
):
    """Fig. 2: the feature cloud coloured by lobe, one panel per measure (+ geometric).

    Shows one variant's lobes (corrected by default). Lobe ids are aligned to the first
    panel's (:func:`align_lobe_ids`), so a colour is the same lobe across panels; features
    that never fire (excluded, id −1) are drawn on top in black. code_lobes: measure -> the
    code lobe's id at this k (``code_lobe.json``), named in that panel's legend.
    """
    labels = labels[labels["variant"] == variant]
    measures = list(dict.fromkeys(labels["measure"]))
    measures = [m for m in measures if m != GEOMETRIC] + [GEOMETRIC]
    ncol = min(3, len(measures))
    nrow = int(np.ceil(len(measures) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.4 * ncol, 4.4 * nrow), squeeze=False)
    from ..plotting import distinct_colors

    colors = distinct_colors(max(k, 1))
    reference = None
    for ax, measure in zip(axes.ravel(), measures, strict=False):
        sel = labels[(labels["measure"] == measure) & (labels["k"] == k)].sort_values("feature")
        raw = sel["lobe"].to_numpy()
        lobe_all = raw if reference is None else align_lobe_ids(reference, raw)
        if reference is None:
            reference = raw
        code = (code_lobes or {}).get(measure)
        code_aligned = None
        if code is not None and (raw == code).any():
            code_aligned = int(np.bincount(lobe_all[raw == code]).argmax())
        lobe = lobe_all[idx]
        off = lobe < 0
        for i in sorted(set(lobe[~off].tolist())):
            m = lobe == i
            name = f"lobe {i}" + (" (code lobe)" if i == code_aligned else "")
            ax.scatter(
                coords[m, 0],
                coords[m, 1],
                s=3,
                color=colors[i % len(colors)],
                rasterized=True,
                label=f"{name}: {int(m.sum())}",
            )
        if off.any():
            ax.scatter(
                coords[off, 0],
                coords[off, 1],
                s=5,
                c="black",
                marker="x",
                linewidths=0.5,
                alpha=0.8,
                zorder=3,
                label=f"never fires: {int(off.sum())}",
            )
        ax.set_title(f"{measure} (k={k})", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        if k <= 12:
            ax.legend(
                fontsize=6.5,
                markerscale=2.5,
                loc="best",
                title="features shown",
                title_fontsize=6.5,
                framealpha=0.8,
            )
    for ax in axes.ravel()[len(measures) :]:
        ax.axis("off")
    fig.suptitle(
        title + "\ncolours aligned across panels (same colour: most shared "
        "features); black x: never fires",
        fontsize=9,
    )
    return fig


def plot_tests_vs_k(tests: pd.DataFrame, title: str):
    """Fig. 3: AMI with geometric clusters, and probe balanced accuracy, against k.

    Faithful (o-) and corrected (s:) lines per measure; left, one grey band: the corrected
    permutation null (mean ± 2 sd, lowest to highest over the measures); right, one grey
    band per variant: the probe on random unit vectors (null mean, lowest to highest over
    the measures). The legend sits beside the panels, off the curves.
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12.5, 4.8))
    colors = dict(zip(dict.fromkeys(tests["measure"]), plt.get_cmap("tab10").colors, strict=False))
    styles = {"faithful": "o-", "corrected": "s:"}
    ks = sorted(tests["k"].unique())
    for (measure, variant), g in tests.groupby(["measure", "variant"], sort=False):
        g = g.sort_values("k")
        ax1.plot(
            g["k"],
            g["ami"],
            styles[variant],
            color=colors[measure],
            ms=4,
            label=f"{measure} ({variant})",
        )
        ax2.plot(
            g["k"],
            g["balanced_accuracy"],
            styles[variant],
            color=colors[measure],
            ms=4,
            label=f"{measure} ({variant})",
        )
    corr = tests[tests["variant"] == "corrected"]
    if len(corr):
        lo = (corr["ami_null_mean"] - 2 * corr["ami_null_std"]).groupby(corr["k"]).min()
        hi = (corr["ami_null_mean"] + 2 * corr["ami_null_std"]).groupby(corr["k"]).max()
        ax1.fill_between(
            lo.index,
            lo.to_numpy(),
            hi.to_numpy(),
            color="grey",
            alpha=0.3,
            zorder=0,
            label="permutation null, mean ± 2 sd\n(corrected; range over measures)",
        )
    for variant, hatch in (("faithful", None), ("corrected", "///")):
        part = tests[tests["variant"] == variant]
        if not len(part):
            continue
        lo = part.groupby("k")["acc_null_mean"].min()
        hi = part.groupby("k")["acc_null_mean"].max()
        ax2.fill_between(
            lo.index,
            lo.to_numpy(),
            np.maximum(hi.to_numpy(), lo.to_numpy() + 0.004),
            color="grey",
            alpha=0.3 if hatch is None else 0.15,
            hatch=hatch,
            zorder=0,
            label=f"random unit vectors, {variant} probe\n(null mean; range over measures)",
        )
    for ax, ylabel, sub in (
        (
            ax1,
            "AMI (co-occurrence lobes vs geometric clusters)",
            "Does function predict geometry? AMI",
        ),
        (ax2, "probe balanced accuracy", "Probe: lobe from decoder direction"),
    ):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_xlabel("number of lobes k")
        ax.set_ylabel(ylabel, fontsize=9)
        ax.set_title(sub, fontsize=9)
    # One legend, beside the right panel: the curves (same in both panels) and every band.
    h2, l2 = ax2.get_legend_handles_labels()
    h1, l1 = ax1.get_legend_handles_labels()
    extra = [(h, lab) for h, lab in zip(h1, l1, strict=False) if lab not in l2]
    ax2.legend(
        h2 + [h for h, _ in extra],
        l2 + [lab for _, lab in extra],
        fontsize=6.5,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
    )
    fig.suptitle(title, fontsize=9)
    return fig


def plot_specialization(spec: pd.DataFrame, ks: list[int], title: str):
    """Figs. 4-5: fraction of each category's chunks won by each lobe (stacked bars).

    Rows: measures; columns: (k, variant) for the requested ks.
    """
    measures = list(dict.fromkeys(spec["measure"]))
    cols = [(k, v) for k in ks for v in ("faithful", "corrected")]
    cats = sorted(spec["category"].unique())
    fig, axes = plt.subplots(
        len(measures),
        len(cols),
        figsize=(3.6 * len(cols), 0.35 * len(cats) * len(measures) + 1.5),
        squeeze=False,
    )
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
