"""Figures of the alignment stage (Jiang et al. 2024 §5, LLaMA-2 check; Park et al. 2023)."""

from __future__ import annotations

import numpy as np

from .geometry import INNER_PRODUCTS


def alignment_heatmap(alignment, summary: dict, model: str, caption: str = ""):
    """Heatmap of cos(embedding dir of concept i, unembedding dir of concept j).

    alignment: the long alignment.tsv frame. For a tied model, a panel saying why no
    alignment is shown (never a trivial all-ones matrix).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    if summary.get("tied") or alignment.empty:
        fig, ax = plt.subplots(figsize=(6, 2.5))
        ax.axis("off")
        ax.text(
            0.5,
            0.5,
            f"{model}: tied input/output embeddings\n"
            "embedding-vs-unembedding alignment is trivial and not shown",
            ha="center",
            va="center",
            fontsize=11,
        )
        ax.set_title(f"Embedding vs unembedding concept directions — {model}")
        return fig
    order = list(dict.fromkeys(alignment["concept_embedding"]))
    mat = alignment.pivot(
        index="concept_embedding", columns="concept_unembedding", values="cos"
    ).loc[order, order]
    k = len(order)
    size = max(4.5, 0.32 * k + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    sns.heatmap(
        mat,
        ax=ax,
        cmap="RdBu_r",
        vmin=-1,
        vmax=1,
        square=True,
        annot=k <= 10,
        fmt=".2f",
        cbar_kws={"label": "cosine"},
    )
    ax.set_xlabel("unembedding-space concept direction")
    ax.set_ylabel("embedding-space concept direction")
    null = summary["diag_null"]
    ax.set_title(
        f"Embedding vs unembedding concept directions — {model} (cf. Jiang et al. §5)\n"
        f"diagonal mean |cos| {summary['diag_mean_abs']:.3f} (signed "
        f"{summary['diag_mean']:.3f}), row max in {summary['diag_row_max']}/{k}\n"
        f"off-diagonal mean |cos| {summary['offdiag_mean_abs']:.3f}; random pairs "
        f"{summary['random_pairs_mean_abs']:.3f}\nGaussian null {null['mean_abs']:.3f} ± "
        f"{null['sd_abs']:.3f} ({null['draws']} draws): z {null['z']:.1f}, p {null['p']:.3f} "
        f"→ {summary['diag_verdict']}\n{caption}",
        fontsize=8,
    )
    return fig


def orthogonality_plot(orthogonality, summary: dict, model: str, caption: str = ""):
    """|cos| between different concepts per space and inner product (box + points; Park et
    al.: causal vs Euclidean vs random M). A box collapsed to a line (every |cos| the same,
    e.g. causal whitening that makes the directions exactly orthogonal) is annotated with
    its value, so it does not read as a missing bar."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(9, 4.8))
    order = [ip for ip in INNER_PRODUCTS if (orthogonality["inner_product"] == ip).any()]
    spaces = list(dict.fromkeys(orthogonality["space"]))
    sns.boxplot(
        data=orthogonality,
        x="inner_product",
        y="abs_cos",
        hue="space",
        order=order,
        hue_order=spaces,
        ax=ax,
        showfliers=False,
        palette="Set2",
    )
    sns.stripplot(
        data=orthogonality,
        x="inner_product",
        y="abs_cos",
        hue="space",
        order=order,
        hue_order=spaces,
        ax=ax,
        dodge=True,
        size=2.5,
        alpha=0.5,
        palette="dark:k",
        legend=False,
    )
    width = 0.8 / max(len(spaces), 1)
    for i, ip in enumerate(order):
        for j, space in enumerate(spaces):
            vals = orthogonality.loc[
                (orthogonality["inner_product"] == ip) & (orthogonality["space"] == space),
                "abs_cos",
            ].to_numpy()
            x = i - 0.4 + width * (j + 0.5)
            if not len(vals):  # e.g. causal_dual, defined on the embedding side only
                ax.text(
                    x,
                    0.02,
                    f"none:\n{ip}\nnot defined\nfor {space}",
                    ha="center",
                    va="bottom",
                    fontsize=6,
                    color="dimgrey",
                )
                continue
            if float(np.percentile(vals, 75) - np.percentile(vals, 25)) < 0.005:
                ax.annotate(
                    f"all ≈ {np.median(vals):.2g}\n(box collapsed)",
                    (x, np.median(vals)),
                    xytext=(0, 14),
                    textcoords="offset points",
                    ha="center",
                    fontsize=6.5,
                    arrowprops=dict(arrowstyle="-", lw=0.6),
                )
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("inner product")
    ax.set_ylabel("|cos| between different concepts")
    ax.legend(fontsize=8, loc="upper right", title="space", title_fontsize=8)
    means = summary["orth_mean_abs"]
    lines = [
        f"{s}: "
        + ", ".join(f"{ip} {means[s][ip]:.3f}" for ip in order if means[s].get(ip) is not None)
        for s in means
    ]
    ax.set_title(
        f"Orthogonality of different concepts — {model}; {caption}\n"
        "mean |cos| — " + "\n".join(lines),
        fontsize=8,
    )
    return fig


def training_curve(history, model: str, caption: str = ""):
    """Toy model: training loss and KL to the exact conditional vs step."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(history["step"], history["loss"], label="training loss")
    ax.plot(history["step"], history["kl_to_exact"], label="KL to exact p(y|x)")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.legend()
    ax.set_title(f"Toy Llama training — {model}; {caption}", fontsize=9)
    return fig
