"""Galaxy figures, one function per paper figure (Li et al. 2024 Figs. 7 and 8)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

__all__ = ["plot_spectra", "plot_slope_volume", "plot_clustering"]


# Eigenvalues below this fraction of the largest one in the figure are numerically zero
# (e.g. the last eigenvalue of a centred cloud with fewer points than dimensions, ~1e-11):
# the y range stops above them, so the fitted ranks are not squeezed into a few decades.
SPECTRUM_FLOOR = 1e-6


def plot_spectra(spectrum: pd.DataFrame, fit_range, title: str):
    """Sorted covariance eigenvalues per layer vs the isotropic Gaussian null (cf. Fig. 7 left).

    spectrum: rows of spectrum.tsv. The fit range is shaded. The y range covers the
    eigenvalues above SPECTRUM_FLOOR × the largest; how many fall below is noted.
    """
    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    layers = sorted(spectrum["layer"].unique())
    cmap = plt.get_cmap("viridis")
    for i, layer in enumerate(layers):
        s = spectrum[spectrum["layer"] == layer]
        color = cmap(i / max(len(layers) - 1, 1))
        ax.loglog(s["rank"], s["eigenvalue"], color=color, lw=1.2, label=f"layer {layer}")
        ax.loglog(s["rank"], s["null_eigenvalue"], color=color, lw=0.8, ls="--", alpha=0.6)
    values = np.concatenate(
        [spectrum["eigenvalue"].to_numpy(float), spectrum["null_eigenvalue"].to_numpy(float)]
    )
    values = values[np.isfinite(values) & (values > 0)]
    hidden = 0
    if values.size:
        top = float(values.max())
        shown = values[values >= top * SPECTRUM_FLOOR]
        hidden = int(
            (
                (spectrum["eigenvalue"] < top * SPECTRUM_FLOOR)
                | (spectrum["null_eigenvalue"] < top * SPECTRUM_FLOOR)
            ).sum()
        )
        ax.set_ylim(float(shown.min()) / 2.0, top * 2.0)
    ax.axvspan(
        fit_range[0],
        fit_range[1],
        color="grey",
        alpha=0.12,
        label=f"fit ranks {fit_range[0]}–{fit_range[1]}",
    )
    ax.plot([], [], color="grey", ls="--", label="isotropic Gaussian null")
    ax.set_xlabel("rank")
    ax.set_ylabel("eigenvalue of decoder covariance")
    if hidden:
        ax.text(
            0.01,
            0.01,
            f"{hidden} rank(s) with an eigenvalue < {SPECTRUM_FLOOR:g} × the "
            "largest (numerically zero) lie below the plotted range",
            transform=ax.transAxes,
            fontsize=6.5,
            color="dimgrey",
            va="bottom",
        )
    ax.set_title(title + " — cf. Li et al. Fig. 7 (left)", fontsize=8)
    ax.legend(fontsize=7, ncol=2 if len(layers) > 8 else 1)
    return fig


def plot_slope_volume(galaxy: pd.DataFrame, title: str):
    """Power-law slope (with CI and null) and effective volume vs layer (cf. Fig. 7 right)."""
    g = galaxy.sort_values("layer")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    err = np.vstack([g["slope"] - g["slope_ci_low"], g["slope_ci_high"] - g["slope"]])
    ax1.errorbar(
        g["layer"],
        g["slope"],
        yerr=np.clip(err, 0, None),
        marker="o",
        capsize=3,
        label="decoder cloud",
    )
    ax1.plot(
        g["layer"],
        g["null_slope"],
        marker="s",
        ls="--",
        color="grey",
        label="isotropic Gaussian null",
    )
    ax1.set_xlabel("layer")
    ax1.set_ylabel("power-law slope (log10–log10)")
    ax1.legend(fontsize=8)
    ax2.plot(g["layer"], g["log_volume"], marker="o", color="tab:red")
    ax2.set_xlabel("layer")
    ax2.set_ylabel("effective volume Σ ln λ over fit ranks")
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title + " — cf. Li et al. Fig. 7 (right)", fontsize=9)
    return fig


def plot_clustering(galaxy: pd.DataFrame, title: str):
    """Clustering entropy vs layer (cf. Fig. 8): faithful | corrected | headline excess.

    Left: the paper's estimator with its official error bar and its Gaussian-null band.
    Middle: Kozachenko–Leonenko at pca_dim with its subsampling CI and null band. Right: the
    headline excess_clustering_corrected (clustering − null mean; CI with the null's spread)
    at pca_dim and at corrected_pca_dim.
    """
    g = galaxy.sort_values("layer")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    d = int(g["pca_dim"].iloc[0])
    for ax, kind, label in [
        (axes[0], "faithful", "faithful (paper code: bootstrap with replacement, float32)"),
        (axes[1], "corrected", f"corrected (Kozachenko–Leonenko), d = {d}"),
    ]:
        ax.plot(g["layer"], g[f"clustering_{kind}"], marker="o", label="decoder cloud")
        ax.fill_between(
            g["layer"],
            g[f"clustering_{kind}_ci_low"],
            g[f"clustering_{kind}_ci_high"],
            alpha=0.3,
            label="official error bar (t over resamples)"
            if kind == "faithful"
            else "CI (subsampling)",
        )
        ax.plot(
            g["layer"],
            g[f"null_clustering_{kind}"],
            ls="--",
            color="grey",
            label="Gaussian null, same covariance",
        )
        ax.fill_between(
            g["layer"],
            g[f"null_clustering_{kind}_low"],
            g[f"null_clustering_{kind}_high"],
            color="grey",
            alpha=0.25,
            label="null band (min–max)",
        )
        ax.set_ylabel("clustering entropy H_gauss − H_knn (nats)")
        ax.set_title(label, fontsize=9)
    ax = axes[2]
    for tag, col, marker in [("", "pca_dim", "o"), ("_lowdim", "corrected_pca_dim", "s")]:
        excess = g[f"excess_clustering_corrected{tag}"]
        err = np.vstack(
            [
                excess - g[f"excess_clustering_corrected{tag}_ci_low"],
                g[f"excess_clustering_corrected{tag}_ci_high"] - excess,
            ]
        )
        ax.errorbar(
            g["layer"],
            excess,
            yerr=np.clip(err, 0, None),
            marker=marker,
            capsize=3,
            label=f"d = {int(g[col].iloc[0])}",
        )
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_ylabel("excess clustering over the null (nats)")
    ax.set_title("headline: corrected − its Gaussian null (CI incl. null spread)", fontsize=9)
    for ax in axes:
        ax.set_xlabel("layer")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7)
    fig.suptitle(title + " — cf. Li et al. Fig. 8", fontsize=9)
    return fig
