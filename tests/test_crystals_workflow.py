"""End to end: the crystals stage on a tiny Llama-architecture model and three small
relations (with words the tokenizer does not know), in a temp work directory, read in the
paper code's layer convention (hidden_states[L], up to L = n_blocks)."""

import json

import numpy as np
import pytest
import yaml
from conftest import run_snakemake
from tiny_models import make_tiny_llama, make_word_tokenizer

from concept_geometry import io


@pytest.mark.workflow
def test_crystals_workflow_writes_the_output_contract(tmp_path):
    rel_dir = tmp_path / "relations"
    rel_dir.mkdir()
    vocab = []
    for r in ("alpha", "beta", "gamma"):
        pairs = [{"input": f"{r}in{i}", "output": f"{r}out{i}"} for i in range(24)]
        vocab += [w for p in pairs for w in p.values()]
        pairs += [
            {"input": f"{r}unknown{i}", "output": f"{r}out{i}"} for i in range(3)
        ]  # not in vocab
        (rel_dir / f"{r}.json").write_text(json.dumps(pairs))
    model_dir = tmp_path / "tiny-llama"
    make_tiny_llama(model_dir, make_word_tokenizer(vocab), hidden=32, layers=2)
    cfg = {
        "stages": ["crystals"],
        "crystals": {
            "model": {"path": str(model_dir), "name": "tiny-llama"},
            "layers": [0, 2],
            "layer_convention": "hidden_states",
            "relations_dir": str(rel_dir),
            "max_pairs_per_relation": 25,
            "min_pairs_per_relation": 10,
            "batch_size": 16,
            "lda": {"n_components": 2},
            "distractors": {"n_components": 5, "corr_threshold": 0.3},
            "silhouette": {"n_splits": 3},
            "quality": {"n_quadruples": 50},
            "kmeans_n_init": 2,
        },
    }
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(cfg))
    run_snakemake(tmp_path, configfile)

    for layer in ("0", "2"):
        d = tmp_path / f"results/crystals/tiny-llama/layer_{layer}"
        pairs = io.read_tsv(d / "pairs.tsv")
        assert len(pairs) == 75  # 27 per relation, capped at 25
        assert set(pairs["reason"]) <= {"ok", "unknown_input"}
        n_used = int(pairs["used"].sum())
        assert n_used == (pairs["reason"] == "ok").sum() and n_used >= 66
        diff = io.read_npz(d / "differences.npz")
        assert diff["differences"].shape == (n_used, 32)
        np.testing.assert_allclose(diff["differences"], diff["outputs"] - diff["inputs"], atol=1e-6)
        assert set(diff["relation"]) == {"alpha", "beta", "gamma"}
        clusters = io.read_tsv(d / "clusters.tsv")
        assert list(clusters.columns[:4]) == ["space", "variant", "ari", "purity"]
        assert set(zip(clusters["space"], clusters["variant"], strict=False)) == {
            (s, v) for s in ("raw", "distractor_removed", "lda") for v in ("faithful", "corrected")
        }
        n_scored = clusters.set_index("variant")["n_pairs"]
        assert (n_scored["faithful"] == n_used).all() and (n_scored["corrected"] < n_used).all()
        assert clusters["purity"].between(1 / 3, 1).all()
        sil = io.read_tsv(d / "silhouette.tsv")
        assert list(sil.columns) == ["space", "variant", "n_components", "silhouette"]
        assert len(sil) == 6 and sil["silhouette"].between(-1, 1).all()
        quality = io.read_tsv(d / "quality.tsv")
        assert list(quality.columns[:7]) == [
            "relation",
            "space",
            "variant",
            "parallelogram_error_median",
            "trapezoid_cos_median",
            "baseline_error_median",
            "baseline_cos_median",
        ]
        assert len(quality) == 18 and quality["parallelogram_error_median"].between(0, 1).all()
        dist = io.read_tsv(d / "distractors.tsv")
        assert list(dist.columns[:5]) == [
            "variant",
            "component",
            "explained_variance",
            "corr_last_subword_chars_diff",
            "corr_length_diff",
        ]
        for _, part in dist.groupby("variant"):
            assert part["explained_variance"].is_monotonic_decreasing
        assert set(diff["last_subword_chars_diff"]) <= set(range(-20, 21))
        assert (
            str(diff["layer_label"])
            == {
                "0": "hidden_states[0] = embedding (input of block 0)",
                "2": "hidden_states[2] = output of block 1 after the final norm",
            }[layer]
        )
        for fig in ("difference_views", "pc1_length", "quality"):
            for ext in ("png", "pdf"):
                assert (d / f"figures/{fig}.{ext}").stat().st_size > 1000
    summary = io.read_tsv(tmp_path / "results/summary/crystals.tsv")
    assert list(summary.columns) == ["stage", "quantity", "setting", "model", "value"]
    s = summary.set_index(["quantity", "setting"])["value"]
    assert s["n_pairs_dropped", "layer=hidden_states[2]"] == 75 - n_used
    assert ("silhouette", "layer=hidden_states[0],space=lda,variant=faithful") in s.index
    assert ("ari", "layer=hidden_states[2],space=lda,variant=corrected") in s.index
    assert (
        "pc1_corr_last_subword_chars_diff",
        "layer=hidden_states[0],variant=faithful",
    ) in s.index
    assert set(summary["model"]) == {"tiny-llama"}
