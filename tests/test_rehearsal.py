"""Issue 19: a scaled-down rehearsal (same builder as the true shapes, tiny sizes) runs the
paper preset's whole DAG, config/paper.yaml + config/rehearsal.yaml, end to end offline."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import yaml
from conftest import ROOT, snakemake_cmd

from concept_geometry import io
from concept_geometry.rehearsal import build, config_paths, tiny
from concept_geometry.rehearsal.build import (
    category_schedule,
    filler_words,
    gemma_scope_params,
)

# Cost only: the rehearsal's shapes and paper settings that the tiny build can hold stay
# (1024-token truncation, 256-token chunks, layers 12 / 0, 12, 25 / hidden_states 0 and 12).
COST = {
    "simulation": {
        "m": 3,
        "d": 3,
        "steps": 150,
        "log_every": 50,
        "seeds": [0],
        "experiments": ["full"],
    },
    "alignment": {"random_pair_draws": 3},
    "features": {"corpus": {"n_documents": 40}},
    "crystals": {
        "relations": ["country-capital", "english-french", "present-past", "singular-plural"],
        "max_pairs_per_relation": 30,
        "batch_size": 64,
        "kmeans_n_init": 2,
        "lda": {"n_components": 2},
        "distractors": {"n_components": 4},
        "silhouette": {"n_splits": 3},
        "quality": {"n_quadruples": 50},
    },
    "lobes": {
        "measures": ["jaccard", "phi"],
        "ks": [2, 3],
        "ami": {"n_permutations": 20},
        "clustering": {"n_neighbors": 10},
        "probe": {"ks": [2, 3], "n_null": 2, "n_splits": 3, "max_iter": 100},
        "figures": {"k": 2, "embedding": "pca", "max_points": 200, "specialization_ks": [2]},
    },
    "galaxy": {
        "fit_range": [3, 30],
        "slope_ci": {"replicates": 10},
        "entropy": {"n_points": 150, "pca_dim": 10},
        "faithful": {"bootstrap": 3},
        "corrected": {"replicates": 5, "pca_dim": 5},
        "null": {"replicates": 2},
    },
}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            _merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


def test_rehearsal_yaml_points_at_the_builders_layout():
    """config/rehearsal.yaml's path keys are exactly the builder's layout under
    resources/rehearsal (one owner: concept_geometry.rehearsal.layout)."""
    cfg = yaml.safe_load((ROOT / "config/rehearsal.yaml").read_text())
    want = config_paths("resources/rehearsal")
    assert _merge(cfg, want) == cfg


def test_sae_thresholds_give_the_target_l0_on_residuals_of_the_calibrated_norm():
    """Planted: residuals in random directions with norm r. Each feature fires when its unit
    direction's projection exceeds z r / sqrt(d), i.e. with probability target / width, so
    the mean L0 is binomial(width, target / width) around the target."""
    d, width, target, r = 64, 4096, 41.0, 250.0
    p = gemma_scope_params(d, width, r, target, seed=1)
    x = np.random.default_rng(2).standard_normal((2000, d)).astype(np.float32)
    x *= r / np.linalg.norm(x, axis=1, keepdims=True)
    pre = x @ p["W_enc"] + p["b_enc"]
    l0 = (pre > p["threshold"]).sum(1).mean()
    assert abs(l0 - target) < 3.0  # sd of the mean over 2000 tokens ~ 0.15 (+ direction spread)
    assert (p["threshold"] > 1.0).all()  # every firing activation passes features.threshold = 1
    np.testing.assert_allclose(np.linalg.norm(p["W_dec"], axis=1), 1.0, rtol=1e-5)


def test_categories_follow_the_pile_shares_and_fillers_are_distinct():
    cats = category_schedule(1000, seed=0)
    assert len(cats) == 1000 and cats.count("Pile-CC") == 300 and cats.count("Github") == 100
    assert set(category_schedule(16, seed=0)) == set(category_schedule(1000, seed=0))  # all 16
    words = filler_words(50000, exclude={"a"}, seed=0)
    assert len(set(words)) == 50000 and "a" not in words


@pytest.fixture(scope="module")
def rehearsal_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("rehearsal")
    sizes = tiny()
    summary = build(work / "build", sizes, seed=0)
    overrides = _merge(COST, config_paths(work / "build"))
    (work / "tiny.yaml").write_text(yaml.safe_dump(overrides))
    configs = [ROOT / "config/paper.yaml", ROOT / "config/rehearsal.yaml", work / "tiny.yaml"]
    cmd = snakemake_cmd(work, configs)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-6000:]
    return work, sizes, summary


@pytest.mark.workflow
def test_builder_writes_the_hub_and_gemma_scope_formats(rehearsal_run):
    work, sizes, _summary = rehearsal_run
    base = work / "build"
    index = json.loads((base / "llama-2-7b/model.safetensors.index.json").read_text())
    assert set(index["weight_map"]) == {"model.embed_tokens.weight", "lm_head.weight"}
    assert sorted(set(index["weight_map"].values())) == [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ]
    llama = json.loads((base / "llama-2-7b/config.json").read_text())
    assert llama["tie_word_embeddings"] is False and llama["torch_dtype"] == "float16"
    gemma = json.loads((base / "gemma-2-2b/config.json").read_text())
    assert gemma["num_hidden_layers"] == 26 and gemma["model_type"] == "gemma2"
    with np.load(
        base / "gemma-scope-2b-pt-res-canonical/layer_25/width_65k/canonical/params.npz"
    ) as p:
        assert p["W_dec"].shape == (sizes.galaxy_width, 32) and p["W_enc"].shape == (
            32,
            sizes.galaxy_width,
        )
        assert {"b_enc", "b_dec", "threshold"} <= set(p.files)
        np.testing.assert_allclose(np.linalg.norm(p["W_dec"], axis=1), 1.0, rtol=1e-5)
    # Every built folder is checksummed and says what it is, as workflow artifacts do.
    for part, path in [
        ("gemma-2-2b", base / "gemma-2-2b"),
        ("gemma-2-2b", base / "gemma-scope-2b-pt-res/layer_12/width_16k/average_l0_41"),
    ]:
        io.verify(path, expect={"model": part})
    io.verify(base / "pile/pile-rehearsal.jsonl", expect={"corpus": "pile-rehearsal"})
    docs = [json.loads(line) for line in (base / "pile/pile-rehearsal.jsonl").open()]
    assert len(docs) == sizes.n_documents
    assert {"Github", "StackExchange", "DM Mathematics"} <= {
        d["meta"]["pile_set_name"] for d in docs
    }
    assert min(len(d["text"].split()) for d in docs) >= sizes.doc_words


@pytest.mark.workflow
def test_the_paper_dag_ran_on_the_built_folders(rehearsal_run):
    work, sizes, summary = rehearsal_run
    res = work / "results"
    align = io.read_json(res / "alignment/llama-2-7b/summary.json")
    assert align["source"] == "safetensors" and align["d_model"] == 32
    assert align["vocab_size"] == summary["llama"]["vocab_size"]
    layer = res / "features/gemma-2-2b/pile-rehearsal/layer_12"
    meta = io.read_json(
        layer / "meta.json",
        expect={"model": "gemma-2-2b", "layer": "12", "corpus": "pile-rehearsal"},
    )
    assert meta["chunk_size"] == 256
    # Every document has >= 1,100 one-token words: truncated at 1,024 with the BOS, 1,023
    # content tokens, so exactly 3 full 256-token chunks each.
    firings = io.read_npz(layer / "firings.npz")
    assert firings["firings"].shape == (3 * sizes.n_documents, sizes.lobes_width)
    galaxy = io.read_tsv(res / "galaxy/gemma-2-2b/galaxy.tsv")
    assert sorted(set(galaxy["layer"].astype(str))) == ["0", "12", "25"]
    for layer in ("0", "12"):
        assert (res / f"crystals/gemma-2-2b/layer_{layer}/quality.tsv").exists()
    assert (res / "lobes/gemma-2-2b/pile-rehearsal/layer_12/tests.tsv").exists()
    assert (res / "summary.tsv").exists()
