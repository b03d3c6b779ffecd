"""Simulation stage end to end on a tiny config, and bad configs refused before any job."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from conftest import run_snakemake

TINY = {
    "stages": ["simulation"],
    "simulation": {
        "m": 4,
        "d": 4,
        "steps": 150,
        "log_every": 50,
        "seeds": [0, 1],
        "experiments": ["full", "dimension", "incomplete_contexts"],
        "dims": [2, 4],
        "context_fracs": [0.5, 1.0],
    },
}


def _write(tmp_path, cfg):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.workflow
def test_simulation_workflow_tiny(tmp_path):
    run_snakemake(tmp_path, _write(tmp_path, TINY))
    res = tmp_path / "results"
    summary = pd.read_csv(res / "simulation/summary.tsv", sep="\t")
    for col in [
        "experiment",
        "setting",
        "seed",
        "m",
        "d",
        "concept",
        "steering_cos",
        "embedding_cos",
        "alignment_cos",
        "final_loss",
    ]:
        assert col in summary.columns
    # full: 2 optimisers (gd + the Adam contrast) x 2 seeds x 4 concepts; dimension: 2 dims
    # x 2 seeds x 4; contexts: same.
    assert len(summary) == 16 + 16 + 16
    assert set(summary[summary.experiment == "full"]["optimizer"]) == {"gd", "adam"}
    assert summary["steering_cos"].between(-1, 1).all()
    orth = pd.read_csv(res / "simulation/orthogonality.tsv", sep="\t")
    assert list(orth.columns[:7]) == [
        "experiment",
        "setting",
        "seed",
        "concept_i",
        "concept_j",
        "independent",
        "cos",
    ]
    assert len(orth) == 6 * 2 * 6  # 6 settings x 2 seeds x C(4,2) pairs
    curves = pd.read_csv(res / "simulation/curves.tsv", sep="\t")
    assert {"experiment", "setting", "seed", "step", "loss", "steering_cos"} <= set(curves)
    head = pd.read_csv(res / "summary/simulation.tsv", sep="\t", keep_default_na=False)
    assert list(head.columns) == ["stage", "quantity", "setting", "model", "value"]
    q = head.set_index(["quantity", "setting"])["value"]
    full_mean = summary[(summary.experiment == "full") & (summary.setting == "all")][
        "steering_cos"
    ].mean()
    assert float(q[("steering_cos_mean", "experiment=full")]) == pytest.approx(full_mean)
    assert ("steering_cos_mean", "experiment=dimension,d=2") in q.index
    assert ("orth_abs_cos_independent", "experiment=full") in q.index
    assert ("steering_cos_mean", "experiment=full,optimizer=adam") in q.index
    assert float(q[("steering_cos_n_concepts", "experiment=full")]) == 8
    assert ("spearman_logodds_rel_sd_vs_steering_cos", "experiment=all") in q.index
    mech = pd.read_csv(res / "simulation/mechanism.tsv", sep="\t")
    assert list(mech.columns) == ["quantity", "experiment", "setting", "optimizer", "value", "n"]
    for fig in ["dynamics", "sweeps", "orthogonality", "mechanism"]:
        for ext in ["png", "pdf"]:
            assert (res / f"figures/simulation_{fig}.{ext}").stat().st_size > 1000


@pytest.mark.parametrize(
    "override, key",
    [
        ({"bogus_key": 1}, "bogus_key"),
        ({"m": 12}, "simulation.m"),
        ({"context_fracs": [0.5, 1.5]}, "simulation.context_fracs"),
        ({"concept_fracs": [0.0]}, "simulation.concept_fracs"),
    ],
)
def test_bad_simulation_config_refused_before_any_job(tmp_path, override, key):
    cfg = {"stages": ["simulation"], "simulation": override}
    proc = run_snakemake(tmp_path, _write(tmp_path, cfg), "-n", check=False)
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert key in text
    assert "simulate" not in text.split("Job stats")[0] or "Job stats" not in text


@pytest.mark.workflow
def test_diverging_simulation_fails_with_one_paragraph_and_no_output(tmp_path):
    """lr = 20 at m = 2 diverges: the job fails, the message names `simulation.lr` and
    `simulation.m` with a suggested rate, and no table of that job is left behind."""
    cfg = {
        "stages": ["simulation"],
        "simulation": {
            "m": 2,
            "d": 2,
            "lr": 20.0,
            "steps": 100,
            "log_every": 50,
            "seeds": [0],
            "experiments": ["full"],
        },
    }
    proc = run_snakemake(tmp_path, _write(tmp_path, cfg), check=False)
    assert proc.returncode != 0
    log = (tmp_path / "logs/simulation/simulate_full_0.log").read_text()
    for text in [
        "Simulation training diverged",
        "`simulation.lr`",
        "`simulation.m` = 2",
        "Set `simulation.lr` to",
    ]:
        assert text in log
    assert "Traceback" not in log
    runs = tmp_path / "results/simulation"
    assert not runs.exists() or not any(p.is_file() for p in runs.rglob("*"))
