"""Figure helpers shared by every stage: one function per paper figure lives in each
stage's own ``plots.py``; this module only saves them (PNG + PDF, atomically)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..io import atomic_path  # noqa: E402


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
