"""Figures of the simulation study (Jiang et al. 2024 §5.1); one function per figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .summary import COSINES, MIN_COVERAGE

# (experiment, swept key, x label, panel title): each title says what its x axis varies.
SWEEPS = [
    (
        "incomplete_contexts",
        "context_frac",
        "kept fraction of contexts D̂/D",
        "incomplete_contexts: contexts D̂ ⊂ D kept",
    ),
    (
        "incomplete_concepts",
        "concept_frac",
        "kept fraction of outputs Ĉ/C",
        "incomplete_concepts: outputs Ĉ ⊂ C kept",
    ),
    ("dimension", "d", "representation dimension d", "dimension: d varied"),
]


def plot_dynamics(curves: pd.DataFrame, caption: str):
    """Steering cosine vs loss along training, experiment `full` (claim 2)."""
    full = curves[(curves["experiment"] == "full") & (curves["setting"] == "all")]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    sns.lineplot(data=full, x="step", y="loss", hue="seed", ax=axes[0], palette="tab10")
    ax2 = axes[0].twinx()
    sns.lineplot(
        data=full,
        x="step",
        y="steering_cos",
        hue="seed",
        ax=ax2,
        palette="tab10",
        linestyle="--",
        legend=False,
    )
    axes[0].set_title("loss (solid) and steering cosine (dashed)")
    ax2.set_ylabel("mean steering cosine")
    sns.scatterplot(
        data=full, x="loss", y="steering_cos", hue="seed", ax=axes[1], palette="tab10", s=14
    )
    axes[1].invert_xaxis()
    axes[1].set_xlabel("training loss (decreasing →)")
    axes[1].set_ylabel("mean steering cosine")
    axes[1].set_title("cosine vs loss")
    fig.suptitle(
        f"Simulation: linearity emerges as loss falls (cf. Jiang et al. §5.1)\n{caption}",
        fontsize=9,
    )
    return fig


def sweep_points(part: pd.DataFrame, key: str) -> pd.DataFrame:
    """One point per (sweep value, metric): mean and sd over the measured concept × seed
    cells, ``n`` measured of ``total``, and ``low`` when n < MIN_COVERAGE × total."""
    rows = []
    for value, grp in part.groupby(key, sort=True):
        for metric in COSINES:
            v = grp[metric].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            rows.append(
                {
                    key: value,
                    "metric": metric,
                    "n": len(v),
                    "total": len(grp),
                    "mean": v.mean() if len(v) else np.nan,
                    "sd": v.std() if len(v) else np.nan,
                    "low": len(v) < MIN_COVERAGE * len(grp),
                }
            )
    return pd.DataFrame(rows)


def plot_sweeps(summary: pd.DataFrame, caption: str):
    """Mean steering/embedding/alignment cosines per sweep value (claims 3, 4, 6); each
    point is labelled with the concept × seed cells it averages over, hollow when fewer
    than half of them are measured."""
    present = [s for s in SWEEPS if (summary["experiment"] == s[0]).any()]
    fig, axes = plt.subplots(
        1, max(1, len(present)), figsize=(4.5 * max(1, len(present)), 4), squeeze=False
    )
    colours = dict(zip(COSINES, sns.color_palette(n_colors=len(COSINES)), strict=False))
    for ax, (exp, key, label, panel_title) in zip(axes[0], present, strict=False):
        points = sweep_points(summary[summary["experiment"] == exp], key)
        for metric, pts in points.groupby("metric", sort=False):
            c = colours[metric]
            # mean ± sd, clipped to the range a cosine can take
            low = np.clip(pts["mean"] - pts["sd"], -1.0, 1.0)
            high = np.clip(pts["mean"] + pts["sd"], -1.0, 1.0)
            yerr = np.vstack([pts["mean"] - low, high - pts["mean"]])
            ax.errorbar(pts[key], pts["mean"], yerr=yerr, color=c, lw=1.2, capsize=2, label=metric)
            for p in pts.itertuples():
                ax.plot(p[1], p.mean, "o", ms=6, mec=c, mfc="white" if p.low else c)
                ax.annotate(
                    f"{p.n}/{p.total}",
                    (p[1], p.mean),
                    textcoords="offset points",
                    xytext=(3, -9 if metric == "embedding_cos" else 3),
                    fontsize=6,
                    color=c,
                )
        ax.legend(
            fontsize=7,
            title="bars: ±1 sd, clipped at 1\nhollow: < half the concepts measured",
            title_fontsize=6,
        )
        ax.set_xlabel(label)
        ax.set_ylim(-0.05, 1.05)
        ax.axhline(0.9, color="grey", lw=0.8, ls=":")
        ax.set_title(panel_title, fontsize=9)
    fig.suptitle(
        f"Simulation sweeps: robustness of linearity (cf. Jiang et al. §5.1)\n{caption}", fontsize=9
    )
    return fig


def plot_orthogonality(summary: pd.DataFrame, orthogonality: pd.DataFrame, caption: str):
    """Same-concept steering cosines vs cross-concept |cos|, independent vs dependent pairs
    (claims 1 and 5), experiment `full`."""
    same = summary[(summary["experiment"] == "full") & (summary["setting"] == "all")][
        "steering_cos"
    ].to_numpy()
    full = orthogonality[
        (orthogonality["experiment"] == "full") & (orthogonality["setting"] == "all")
    ]
    groups = {
        "same concept": same,
        "different, independent": full[full["independent"].astype(bool)]["cos"].to_numpy(),
        "different, dependent": full[~full["independent"].astype(bool)]["cos"].to_numpy(),
    }
    fig, ax = plt.subplots(figsize=(6.5, 4))
    bins = np.linspace(-1, 1, 41)
    for name, vals in groups.items():
        if len(vals):
            ax.hist(vals, bins=bins, alpha=0.6, label=f"{name} (n={len(vals)})", density=True)
    ax.set_xlabel("cosine")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    ax.set_title(
        f"Steering directions: same concept vs different concepts\n"
        f"(cf. Jiang et al. §4-5.1) {caption}",
        fontsize=9,
    )
    return fig


def plot_mechanism(
    summary: pd.DataFrame, curves: pd.DataFrame, mechanism: pd.DataFrame, caption: str
):
    """The theory's mechanism: (a) spread of the model's log-odds of each concept vs its
    steering cosine, every experiment; (b) steering cosine over training and (c) against the
    loss for GD vs Adam in experiment `full` (the implicit-bias contrast)."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ok = summary[np.isfinite(summary["logodds_rel_sd"]) & np.isfinite(summary["steering_cos"])]
    sns.scatterplot(
        data=ok,
        x="logodds_rel_sd",
        y="steering_cos",
        hue="experiment",
        style="optimizer",
        ax=axes[0],
        s=16,
        alpha=0.7,
    )
    if len(ok) and (ok["logodds_rel_sd"] > 0).all():
        axes[0].set_xscale("log")
    pooled = mechanism[mechanism["experiment"] == "all"].set_index("quantity")
    rho_text = ", ".join(
        f"Spearman ρ({name}, cos) = {pooled.loc[q, 'value']:.2f} (n = {pooled.loc[q, 'n']})"
        for name, q in [
            ("rel sd", "spearman_logodds_rel_sd_vs_steering_cos"),
            ("var", "spearman_logodds_var_vs_steering_cos"),
        ]
        if q in pooled.index
    )
    axes[0].set_xlabel("log-odds spread: sd / max(|mean|, 0.1) over contexts with C_i unknown")
    axes[0].set_ylabel("steering cosine of the concept")
    axes[0].set_title(f"(a) log-odds matching\n{rho_text}", fontsize=9)
    axes[0].legend(fontsize=6)
    full = curves[curves["experiment"] == "full"]
    if "optimizer" in full and full["optimizer"].nunique() > 0:
        for ax, x in [(axes[1], "step"), (axes[2], "loss")]:
            sns.lineplot(
                data=full,
                x=x,
                y="steering_cos",
                hue="optimizer",
                units="seed",
                estimator=None,
                ax=ax,
                lw=1,
            )
            ax.set_ylabel("mean steering cosine")
        axes[2].invert_xaxis()
        axes[2].set_xlabel("training loss (decreasing →)")
    axes[1].set_title("(b) implicit bias: GD vs Adam, experiment full", fontsize=9)
    axes[2].set_title("(c) the same against the loss", fontsize=9)
    fig.suptitle(
        f"Simulation: the mechanism of linearity (beyond Jiang et al. §5.1; their §3-4)\n{caption}",
        fontsize=9,
    )
    return fig
