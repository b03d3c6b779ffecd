"""The theory's mechanism made visible (beyond Jiang et al. §5.1, after their §3-4).

Jiang et al. explain linear representations by (a) log-odds matching: if the model's
log-odds of concept i, log P̂(C_i=1 | x) − log P̂(C_i=0 | x), is the same in every context,
the steering vectors of i are parallel; and (b) the implicit bias of gradient descent, which
drives linearity even where (a) fails. This module turns the per-concept table (columns
``logodds_var``, ``logodds_rel_sd``, ``steering_cos``, ``optimizer``) and the training
curves into one long table, ``results/simulation/mechanism.tsv``:

- ``logodds_var_median``, ``logodds_rel_sd_median`` per (experiment, setting): the spread
  of the log-odds across the contexts where the concept is unknown (median over concept ×
  seed cells);
- ``spearman_logodds_rel_sd_vs_steering_cos`` and ``spearman_logodds_var_vs_steering_cos``
  pooled over all experiments (``experiment=all``) and per experiment: (a) predicts a
  negative rank correlation (less spread, more parallel steering vectors);
- ``steering_cos_final`` and ``excess_loss_mean`` of experiment ``full`` per optimiser
  (``gd`` vs ``adam``): (b) predicts a higher cosine for GD at a similar loss.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

COLUMNS = ["quantity", "experiment", "setting", "optimizer", "value", "n"]
SPREADS = ["logodds_rel_sd", "logodds_var"]
HEADLINE = ["spearman_logodds_rel_sd_vs_steering_cos", "spearman_logodds_var_vs_steering_cos"]

__all__ = ["COLUMNS", "SPREADS", "HEADLINE", "mechanism_table"]


def _spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    ok = np.isfinite(x) & np.isfinite(y)
    n = int(ok.sum())
    if n < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return float("nan"), n
    return float(spearmanr(x[ok], y[ok]).statistic), n


def mechanism_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The long table of :mod:`mechanism` from results/simulation/summary.tsv.

    Columns: ``quantity, experiment, setting, optimizer, value, n`` (n = cells behind the
    value; ``setting`` and ``optimizer`` are ``all`` for pooled rows).
    """
    rows = []

    def add(quantity, experiment, setting, optimizer, value, n):
        rows.append(
            {
                "quantity": quantity,
                "experiment": experiment,
                "setting": setting,
                "optimizer": optimizer,
                "value": float(value),
                "n": int(n),
            }
        )

    for (exp, label, opt), grp in summary.groupby(
        ["experiment", "setting", "optimizer"], sort=True
    ):
        for spread in SPREADS:
            v = grp[spread].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            add(f"{spread}_median", exp, label, opt, np.median(v) if len(v) else np.nan, len(v))
    scopes = [("all", summary)] + [(e, g) for e, g in summary.groupby("experiment", sort=True)]
    for exp, grp in scopes:
        for spread in SPREADS:
            rho, n = _spearman(
                grp[spread].to_numpy(dtype=float), grp["steering_cos"].to_numpy(dtype=float)
            )
            add(f"spearman_{spread}_vs_steering_cos", exp, "all", "all", rho, n)
    full = summary[summary["experiment"] == "full"]
    for (label, opt), grp in full.groupby(["setting", "optimizer"], sort=True):
        cos = grp["steering_cos"].to_numpy(dtype=float)
        add("steering_cos_final", "full", label, opt, np.nanmean(cos), np.isfinite(cos).sum())
        add("excess_loss_mean", "full", label, opt, grp["excess_loss"].mean(), len(grp))
    return pd.DataFrame(rows, columns=COLUMNS)
