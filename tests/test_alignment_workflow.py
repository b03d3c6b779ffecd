"""End to end: the alignment stage on a tiny toy Llama and a planted local model, the
paper preset's plan, and the fast offline failure for an absent hub model."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
import yaml
from conftest import run_snakemake
from test_alignment import _planted_model

from concept_geometry.alignment import pairs

TOY = {
    "m": 3,
    "d_model": 16,
    "layers": 1,
    "heads": 2,
    "intermediate": 32,
    "steps": 40,
    "batch_size": 64,
    "lr": 0.01,
    "log_every": 10,
    "eval_batch": 256,
    "fillers": 24,
}


@pytest.mark.workflow
def test_alignment_workflow_end_to_end(tmp_path):
    _, _, concepts, _, _ = _planted_model(tmp_path / "planted")
    pairs.write_concepts(tmp_path / "concepts", concepts)
    cfg = {
        "stages": ["alignment"],
        "alignment": {
            "models": [
                {"name": "toy", "path": "train"},
                {
                    "name": "planted",
                    "path": str(tmp_path / "planted"),
                    "concepts": str(tmp_path / "concepts"),
                },
            ],
            "random_pair_draws": 3,
            "toy": TOY,
        },
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    run_snakemake(tmp_path / "run", tmp_path / "config.yaml")
    res = tmp_path / "run" / "results"
    for name in ("toy", "planted"):
        base = res / "alignment" / name
        for f in (
            "pairs.tsv",
            "alignment.tsv",
            "orthogonality.tsv",
            "summary.json",
            "figures/alignment_heatmap.png",
            "figures/alignment_heatmap.pdf",
            "figures/orthogonality.png",
            "figures/orthogonality.pdf",
        ):
            assert (base / f).stat().st_size > 0, (name, f)
        frame = pd.read_csv(base / "pairs.tsv", sep="\t")
        assert list(frame.columns) == pairs.PAIR_COLUMNS
        orth = pd.read_csv(base / "orthogonality.tsv", sep="\t")
        assert list(orth.columns) == ["space", "inner_product", "concept_i", "concept_j", "abs_cos"]
        assert set(map(tuple, orth[["space", "inner_product"]].drop_duplicates().to_numpy())) == {
            (s, ip)
            for s in ("embedding", "unembedding")
            for ip in ("euclidean", "causal", "random_park", "random_gaussian")
        } | {("embedding", "causal_dual")}
        assert orth["abs_cos"].between(0, 1 + 1e-9).all()
    planted = json.loads((res / "alignment" / "planted" / "summary.json").read_text())
    assert planted["n_pairs_kept"] == 16 and planted["tied"] is False
    assert planted["diag_mean"] == pytest.approx(0.75, abs=1e-4)  # planted: 1, 1, 1, 0
    assert planted["offdiag_mean_abs"] == pytest.approx(0.0, abs=1e-4)
    assert planted["source"] == "safetensors"
    assert (
        planted["diag_verdict"] == "stands out" and planted["diag_null"]["draws"] == 100
    )  # the default
    toy = json.loads((res / "alignment" / "toy" / "summary.json").read_text())
    # 4 of the 8 concept vectors are words: one pair per concept (see toy_lm.choose_outputs)
    assert toy["n_pairs_kept"] == 3 and toy["n_concepts_used"] == 3
    assert toy["toy_kl_to_exact"] >= 0
    assert toy["vocab_size"] == 4 + 6 + 4 + 24
    # a trained model's diagonal stands out against independent Gaussian matrices
    assert toy["diag_verdict"] == "stands out", toy["diag_null"]
    align = pd.read_csv(res / "alignment" / "toy" / "alignment.tsv", sep="\t")
    assert list(align.columns) == ["concept_embedding", "concept_unembedding", "cos"]
    assert len(align) == 9
    summary = pd.read_csv(res / "summary" / "alignment.tsv", sep="\t", keep_default_na=False)
    assert list(summary.columns) == ["stage", "quantity", "setting", "model", "value"]
    assert set(summary["model"]) == {"toy", "planted"}
    assert (summary["stage"] == "alignment").all()
    keyed = summary.set_index(["model", "quantity", "setting"])["value"]
    assert float(keyed[("planted", "n_pairs_kept", "")]) == 16
    assert float(keyed[("planted", "tied", "")]) == 0
    assert ("planted", "orth_median_abs", "space=unembedding,inner_product=causal") in keyed.index
    assert ("toy", "random_pairs_mean_abs", "") in keyed.index
    assert float(keyed[("toy", "diag_stands_out", "")]) == 1
    assert ("planted", "orth_mean_abs", "space=embedding,inner_product=causal_dual") in keyed.index


@pytest.mark.workflow
def test_paper_preset_plans_llama2_and_fails_fast_offline(tmp_path, root):
    paper = yaml.safe_load((root / "config" / "paper.yaml").read_text())
    cfg = {"stages": ["alignment"], "alignment": paper["alignment"]}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    plan = run_snakemake(tmp_path / "run", tmp_path / "config.yaml", "-n")
    assert "alignment_analyse" in plan.stdout and "llama-2-7b" in plan.stdout
    assert "alignment_train_toy" not in plan.stdout
    start = time.time()
    proc = run_snakemake(tmp_path / "run", tmp_path / "config.yaml", check=False)
    assert proc.returncode != 0
    assert time.time() - start < 120
    log = (tmp_path / "run" / "logs" / "alignment" / "analyse_llama-2-7b.log").read_text()
    assert "alignment.models[llama-2-7b].path" in log and "local" in log
    assert "Traceback" not in log
