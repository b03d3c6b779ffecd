"""Galaxy stage end to end on a tiny config: per-layer jobs, gather, figures, summary."""

import os

import numpy as np
import pytest
from conftest import run_snakemake

from concept_geometry import io

RULES = ["galaxy_layer", "galaxy_gather", "galaxy_plots", "galaxy_summary"]
TARGETS = [
    "results/galaxy/tiny/galaxy.tsv",
    "results/galaxy/tiny/spectrum.tsv",
    *[
        f"results/galaxy/tiny/figures/{n}.{e}"
        for n in ("spectra", "slope_volume", "clustering")
        for e in ("png", "pdf")
    ],
    "results/summary/galaxy.tsv",
]

CONFIG = """
stages: [features, galaxy]
features:
  model: {name: tiny}
  layers: [0, 2]
galaxy:
  fit_range: [3, 30]
  slope_ci: {method: bootstrap, replicates: 10, level: 0.9}
  entropy: {n_points: 300, zscore: true, pca_dim: 10}
  faithful: {k: 1, theta: 0.01, bootstrap: 3}
  corrected: {k: 3, subsample_fraction: 0.5, replicates: 5, level: 0.9, pca_dim: 4}
  "null": {replicates: 2}
"""


def planted_decoder(layer, rng, n=400, d=48):
    """Decoder rows with a power-law covariance; layer 2 also has tight clusters."""
    sd = np.arange(1, d + 1, dtype=float) ** -0.4
    rows = rng.standard_normal((n, d)) * sd
    if layer == 2:
        centres = rng.standard_normal((10, d)) * sd * 3
        rows = centres[rng.integers(0, 10, n)] + 0.1 * rows
    return rows.astype(np.float32)


@pytest.mark.workflow
def test_galaxy_workflow(tmp_path):
    rng = np.random.default_rng(0)
    for layer in (0, 2):
        path = tmp_path / f"results/sae/tiny/features/layer_{layer}.decoder.npy"
        io.write_npy(path, planted_decoder(layer, rng), producer="test")
        for p in (path, path.with_name(path.name + ".sha256")):
            os.utime(p, (1_000_000_000, 1_000_000_000))  # older than anything: a source file
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(CONFIG)
    run_snakemake(tmp_path, cfg, *TARGETS, "--allowed-rules", *RULES)

    for t in TARGETS:
        assert (tmp_path / t).stat().st_size > 0, t
        io.verify(tmp_path / t)
    g = io.read_tsv(tmp_path / "results/galaxy/tiny/galaxy.tsv")
    contract = [
        "layer",
        "slope",
        "slope_ci_low",
        "slope_ci_high",
        "null_slope",
        "log_volume",
        "entropy_gauss",
        "entropy_faithful",
        "entropy_corrected",
        "clustering_faithful",
        "clustering_corrected",
        "null_clustering_faithful",
        "null_clustering_corrected",
    ]
    assert list(g.columns[: len(contract)]) == contract
    assert list(g["layer"]) == [0, 2]
    assert (g["slope_ci_low"] <= g["slope"]).all() and (g["slope"] <= g["slope_ci_high"]).all()
    assert (g["slope"] < g["null_slope"]).all()  # planted power law steeper than isotropic
    by = g.set_index("layer")
    assert by.loc[2, "excess_clustering_corrected"] > by.loc[0, "excess_clustering_corrected"] + 2
    s = io.read_tsv(tmp_path / "results/galaxy/tiny/spectrum.tsv")
    assert list(s.columns) == ["layer", "rank", "eigenvalue", "null_eigenvalue"]
    assert len(s) == 2 * 48 and (np.diff(s[s.layer == 0]["eigenvalue"]) <= 0).all()
    summ = io.read_tsv(tmp_path / "results/summary/galaxy.tsv")
    assert list(summ.columns) == ["stage", "quantity", "setting", "model", "value"]
    assert {
        "powerlaw_slope",
        "null_slope",
        "log_volume",
        "clustering_faithful",
        "clustering_corrected",
        "null_clustering_faithful",
        "null_clustering_corrected",
        "steepest_slope_layer",
        "peak_clustering_layer_faithful",
        "peak_clustering_layer_corrected",
    } <= set(summ["quantity"])
    assert set(summ.loc[summ.quantity == "powerlaw_slope", "setting"]) == {"layer=0", "layer=2"}
    assert (summ["model"] == "tiny").all()
    assert summ.loc[summ.quantity == "peak_clustering_layer_corrected", "value"].item() == 2
    # Faithful seed recorded; corrected at both dimensions; the headline row labelled.
    assert g["faithful_seed"].notna().all() and (g["corrected_pca_dim"] == 4).all()
    assert set(summ.loc[summ.quantity == "clustering_corrected", "setting"]) == {
        f"layer={layer},pca_dim={dim}" for layer in (0, 2) for dim in (10, 4)
    }
    assert set(summ.loc[summ.setting.str.contains("role=headline"), "quantity"]) == {
        "excess_clustering_corrected"
    }


def test_fit_range_beyond_width_stops_with_message(tmp_path):
    path = tmp_path / "results/sae/tiny/features/layer_0.decoder.npy"
    io.write_npy(
        path,
        np.random.default_rng(0).standard_normal((400, 20)).astype(np.float32),
        producer="test",
    )
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(CONFIG.replace("layers: [0, 2]", "layers: [0]"))
    proc = run_snakemake(
        tmp_path,
        cfg,
        "results/galaxy/tiny/layer_0/galaxy.tsv",
        "--allowed-rules",
        *RULES,
        check=False,
    )
    assert proc.returncode != 0
    log = (tmp_path / "logs/galaxy/layer_tiny_0.log").read_text()
    assert "galaxy.fit_range" in log and "Traceback" not in log
