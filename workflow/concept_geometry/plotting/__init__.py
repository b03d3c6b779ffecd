"""Figure helpers shared by every stage: one function per paper figure lives in each
stage's own ``plots.py``; this module only saves them (PNG + PDF, atomically)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..io import atomic_path  # noqa: E402

# Twelve colours chosen to be told apart (Kelly 1965, "twenty-two colours of maximum
# contrast", without white, black and the greys), in an order where neighbours differ in
# hue: for categorical legends with up to 12 entries (e.g. the 12 crystals relations).
DISTINCT_12 = [
    "#0067A5",
    "#F38400",
    "#008856",
    "#BE0032",
    "#875692",
    "#F3C300",
    "#A1CAF1",
    "#882D17",
    "#E68FAC",
    "#8DB600",
    "#2B3D26",
    "#C2B280",
]


def distinct_colors(n: int) -> list:
    """``n`` distinguishable colours: DISTINCT_12 up to 12, else matplotlib's tab20."""
    if n <= len(DISTINCT_12):
        return DISTINCT_12[:n]
    cmap = plt.get_cmap("tab20")
    return [cmap(i % cmap.N) for i in range(n)]


def save_figure(fig, png: str | Path, pdf: str | Path | None = None, dpi: int = 150) -> None:
    """Save ``fig`` as PNG (and PDF) atomically, then close it."""
    fig.tight_layout()
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    if pdf is not None:
        with atomic_path(pdf) as tmp:
            fig.savefig(tmp, format="pdf")
    plt.close(fig)


def config_caption(**settings) -> str:
    """A short 'k=v, k=v' string for figure titles naming the configuration."""
    return ", ".join(f"{k}={v}" for k, v in settings.items())
