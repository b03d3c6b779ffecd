"""Figures of the crystals stage (cf. Li et al. 2024 Fig. 1): one function per figure,
each returning a matplotlib Figure (saved by ``plotting.save_figure``)."""

from __future__ import annotations

import numpy as np

from ..plotting import plt  # Agg backend set there

SPACE_TITLES = {
    "raw": "raw",
    "distractor_removed": "distractor removed",
    "lda": "LDA (held-out pairs)",
}


def plot_difference_views(coords: dict, relation: np.ndarray, title: str):
    """Difference vectors of held-out pairs in 2-D, coloured by relation, one panel per space.

    coords: {space: (n, 2)}; relation: (n,) labels. Raw / distractor-removed panels show the
    first two principal components, the LDA panel the first two discriminant directions (with
    one direction, (n, 1): LD1 against one row per relation).
    """
    from ..plotting import distinct_colors

    spaces = [s for s in SPACE_TITLES if s in coords]
    fig, axes = plt.subplots(1, len(spaces), figsize=(5 * len(spaces), 4.8))
    axes = np.atleast_1d(axes)
    names = sorted(set(relation.tolist()))
    palette = dict(zip(names, distinct_colors(len(names)), strict=False))
    for ax, space in zip(axes, spaces, strict=False):
        xy = coords[space]
        strip = xy.shape[1] == 1  # one LDA direction (`crystals.lda.n_components: 1`)
        for row, name in enumerate(names):
            m = relation == name
            y = np.full(m.sum(), float(row)) if strip else xy[m, 1]
            ax.scatter(xy[m, 0], y, s=5, alpha=0.6, color=palette[name], label=name)
        ax.set_title(SPACE_TITLES[space])
        ax.set_xlabel("LD1" if space == "lda" else "PC1")
        ax.set_ylabel("relation (one row each)" if strip else "LD2" if space == "lda" else "PC2")
    axes[-1].legend(
        loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, markerscale=3, frameon=False
    )
    fig.suptitle(title, fontsize=10)
    return fig


def plot_pc1_length(panels: list, title: str):
    """PC1 score of each difference vector against a word-length difference, one panel per
    variant (cf. Li et al. Fig. 10 / Fig. 1 right: the leading direction tracks word length).

    panels: [(variant title, pc1 (n,), covariate (n,) int, covariate label, Pearson r)].
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 5), squeeze=False)
    for ax, (name, pc1, cov, label, corr) in zip(axes[0], panels, strict=False):
        jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(cov))
        ax.scatter(cov + jitter, pc1, s=4, alpha=0.4)
        levels = np.unique(cov)
        means = [pc1[cov == v].mean() for v in levels]
        ax.plot(levels, means, "o-", color="black", ms=4, label="mean per length difference")
        ax.set_xlabel(label)
        ax.set_ylabel("PC1 score of the difference vector")
        ax.legend(frameon=False, fontsize=8)
        ax.set_title(f"{name}\nPearson r = {corr:.3f}", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_quality(samples: dict, title: str):
    """Distributions of parallelogram error and trapezoid cosine for same-relation quadruples
    against mixed-relation baselines, per space.

    samples: dict of equal-length arrays space, kind (same|baseline), parallelogram_error,
    trapezoid_cos.
    """
    import pandas as pd
    import seaborn as sns

    frame = pd.DataFrame(samples)
    frame["space"] = frame["space"].map(lambda s: SPACE_TITLES.get(s, s))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, measure, label in (
        (axes[0], "parallelogram_error", "‖(b−a)−(d−c)‖ / (‖b−a‖+‖d−c‖)"),
        (axes[1], "trapezoid_cos", "cos(b−a, d−c)"),
    ):
        sns.boxplot(
            data=frame,
            x="space",
            y=measure,
            hue="kind",
            ax=ax,
            showfliers=False,
            hue_order=["same", "baseline"],
        )
        ax.set_ylabel(label)
        ax.set_xlabel("")
    axes[0].set_title("parallelogram error (lower = crystal)", fontsize=9)
    axes[1].set_title("trapezoid cosine (higher = crystal)", fontsize=9)
    fig.suptitle(title, fontsize=10)
    return fig
