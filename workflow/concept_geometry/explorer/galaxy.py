"""The galaxy page of one model: per-layer spectra (fit range, Gaussian null) and 2-D decoder
clouds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .layer import _b64, render_page


def decoder_cloud_2d(
    decoder: np.ndarray, max_points: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """First two principal components of the decoder rows (F, d) (the cloud whose covariance
    spectrum the galaxy stage fits), over a seeded subsample of at most ``max_points`` rows.

    Returns (indices of the projected features, (n, 2) float32 coordinates).
    """
    x = np.asarray(decoder, dtype=np.float64)
    idx = np.arange(x.shape[0])
    if x.shape[0] > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(x.shape[0], max_points, replace=False))
    x = x[idx] - x[idx].mean(0)
    # PCs of the (d, d) covariance: cheap for 65k x 2304, unlike an SVD of the rows.
    _, vecs = np.linalg.eigh(x.T @ x)
    return idx, (x @ vecs[:, ::-1][:, :2]).astype(np.float32)


def galaxy_explorer_data(
    *, spectrum: pd.DataFrame, galaxy: pd.DataFrame, clouds: dict, fit_range, title: str
) -> dict:
    """Data of the galaxy page. spectrum, galaxy: the stage's gathered tables; clouds:
    {layer: (indices, (n, 2) coords)} from ``decoder_cloud_2d``; fit_range: 1-based ranks."""
    layers = []
    for layer in sorted(clouds, key=lambda v: int(v)):
        s = spectrum[spectrum["layer"].astype(str) == str(layer)].sort_values("rank")
        g = galaxy[galaxy["layer"].astype(str) == str(layer)]
        row = g.iloc[0] if len(g) else {}
        idx, xy = clouds[layer]
        lo, hi = xy.min(0), xy.max(0)
        q = np.round((xy - lo) / np.where(hi > lo, hi - lo, 1) * 65535)  # 16-bit grid
        stats = (
            {
                k: (None if pd.isna(row.get(k)) else float(row.get(k)))
                for k in (
                    "slope",
                    "slope_ci_low",
                    "slope_ci_high",
                    "null_slope",
                    "log_volume",
                    "clustering_corrected",
                    "null_clustering_corrected",
                )
            }
            if len(g)
            else {}
        )
        layers.append(
            {
                "layer": str(layer),
                "n_points": int(len(idx)),
                "n_features": int(row.get("n_features", len(idx)) if len(g) else len(idx)),
                "eigen": _b64(s["eigenvalue"].to_numpy(), np.float64),
                "null": _b64(s["null_eigenvalue"].to_numpy(), np.float64),
                "rank": _b64(s["rank"].to_numpy(), np.int32),
                "x": _b64(q[:, 0], np.uint16),
                "y": _b64(q[:, 1], np.uint16),
                "lo": lo.tolist(),
                "hi": hi.tolist(),
                "stats": stats,
            }
        )
    return {"title": title, "fit_range": [int(fit_range[0]), int(fit_range[1])], "layers": layers}


def render_galaxy_explorer(data: dict) -> str:
    return render_page("galaxy", data)


def galaxy_explorer_page(
    *,
    decoders: dict,
    spectrum: pd.DataFrame,
    galaxy: pd.DataFrame,
    fit_range,
    max_points: int,
    seed: int,
    title: str,
) -> str:
    """The galaxy page from {layer: (F, d) decoder} and the gathered galaxy tables."""
    clouds = {layer: decoder_cloud_2d(w, max_points, seed) for layer, w in decoders.items()}
    return render_galaxy_explorer(
        galaxy_explorer_data(
            spectrum=spectrum, galaxy=galaxy, clouds=clouds, fit_range=fit_range, title=title
        )
    )
