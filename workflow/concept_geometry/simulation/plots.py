"""Figures of the simulation study (Jiang et al. 2024 §5.1); one function per figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

SWEEPS = [("incomplete_contexts", "context_frac", "kept fraction of contexts D̂/D"),
          ("incomplete_concepts", "concept_frac", "kept fraction of outputs Ĉ/C"),
          ("dimension", "d", "representation dimension d")]


def plot_dynamics(curves: pd.DataFrame, caption: str):
    """Steering cosine vs loss along training, experiment `full` (claim 2)."""
    full = curves[curves["experiment"] == "full"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    sns.lineplot(data=full, x="step", y="loss", hue="seed", ax=axes[0], palette="tab10")
    ax2 = axes[0].twinx()
    sns.lineplot(data=full, x="step", y="steering_cos", hue="seed", ax=ax2, palette="tab10",
                 linestyle="--", legend=False)
    axes[0].set_title("loss (solid) and steering cosine (dashed)")
    ax2.set_ylabel("mean steering cosine")
    sns.scatterplot(data=full, x="loss", y="steering_cos", hue="seed", ax=axes[1],
                    palette="tab10", s=14)
    axes[1].invert_xaxis()
    axes[1].set_xlabel("training loss (decreasing →)")
    axes[1].set_ylabel("mean steering cosine")
    axes[1].set_title("cosine vs loss")
    fig.suptitle(f"Simulation: linearity emerges as loss falls (cf. Jiang et al. §5.1)\n{caption}",
                 fontsize=9)
    return fig


def plot_sweeps(summary: pd.DataFrame, caption: str):
    """Mean steering/embedding/alignment cosines per sweep value (claims 3, 4, 6)."""
    present = [s for s in SWEEPS if (summary["experiment"] == s[0]).any()]
    fig, axes = plt.subplots(1, max(1, len(present)), figsize=(4.5 * max(1, len(present)), 4),
                             squeeze=False)
    for ax, (exp, key, label) in zip(axes[0], present):
        part = summary[summary["experiment"] == exp]
        long = part.melt(id_vars=[key, "seed", "concept"],
                         value_vars=["steering_cos", "embedding_cos", "alignment_cos"],
                         var_name="metric", value_name="cosine")
        sns.lineplot(data=long, x=key, y="cosine", hue="metric", marker="o", ax=ax,
                     errorbar="sd")
        ax.set_xlabel(label)
        ax.set_ylim(-0.05, 1.05)
        ax.axhline(0.9, color="grey", lw=0.8, ls=":")
        ax.set_title(exp)
    fig.suptitle(f"Simulation sweeps: robustness of linearity (cf. Jiang et al. §5.1)\n{caption}",
                 fontsize=9)
    return fig


def plot_orthogonality(summary: pd.DataFrame, orthogonality: pd.DataFrame, caption: str):
    """Same-concept steering cosines vs cross-concept |cos|, independent vs dependent pairs
    (claims 1 and 5), experiment `full`."""
    same = summary[summary["experiment"] == "full"]["steering_cos"].to_numpy()
    full = orthogonality[orthogonality["experiment"] == "full"]
    groups = {"same concept": same,
              "different, independent": full[full["independent"].astype(bool)]["cos"].to_numpy(),
              "different, dependent": full[~full["independent"].astype(bool)]["cos"].to_numpy()}
    fig, ax = plt.subplots(figsize=(6.5, 4))
    bins = np.linspace(-1, 1, 41)
    for name, vals in groups.items():
        if len(vals):
            ax.hist(vals, bins=bins, alpha=0.6, label=f"{name} (n={len(vals)})", density=True)
    ax.set_xlabel("cosine")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    ax.set_title(f"Steering directions: same concept vs different concepts\n"
                 f"(cf. Jiang et al. §4-5.1) {caption}", fontsize=9)
    return fig
