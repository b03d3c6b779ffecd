"""End to end: tiny Gemma-2 + Gemma Scope format JumpReLU SAEs + a local jsonl corpus through
the whole features stage (the code path of config/paper.yaml, offline)."""

import json

import numpy as np
import pytest
import yaml
from conftest import run_snakemake
from test_sae import write_gemma_scope_params
from tiny_models import make_tiny_gemma2, make_word_tokenizer

from concept_geometry import io
from concept_geometry.features.cooccurrence import cooccurrence_reference

WORDS = [f"w{i}" for i in range(30)]


@pytest.mark.workflow
def test_features_stage_end_to_end(tmp_path):
    tok = make_word_tokenizer(WORDS)
    make_tiny_gemma2(tmp_path / "gemma", tok, hidden=32, layers=3)
    for layer in (0, 1):
        write_gemma_scope_params(
            tmp_path / "gemmascope" / f"layer_{layer}", d_in=32, d_sae=20, seed=layer
        )
    rng = np.random.default_rng(0)
    with open(tmp_path / "pile.jsonl", "w") as fh:
        for i in range(30):
            n = int(rng.integers(4, 40))
            fh.write(
                json.dumps(
                    {
                        "text": " ".join(rng.choice(WORDS, n)),
                        "meta": {"pile_set_name": ["Github", "Pile-CC", "ArXiv"][i % 3]},
                    }
                )
                + "\n"
            )
    cfg = {
        "stages": ["features"],
        "features": {
            "model": {"name": "tiny-gemma2", "path": str(tmp_path / "gemma"), "batch_size": 4},
            "corpus": {
                "name": "tinypile",
                "source": "local",
                "path": str(tmp_path / "pile.jsonl"),
                "n_documents": 25,
                "min_chars": 1,
            },
            "layers": [0, 1],
            "sae": {"source": "local", "path": str(tmp_path / "gemmascope" / "layer_{layer}")},
            "threshold": 1.0,
            "max_length": 33,
            "chunk_size": 8,
            "heldout_fraction": 0.2,
            "cooccurrence_batch": 7,
        },
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    run_snakemake(tmp_path, tmp_path / "c.yaml")

    base = tmp_path / "results/features/tiny-gemma2/tinypile"
    for layer in (0, 1):
        d = base / f"layer_{layer}"
        f = io.read_npz(d / "firings.npz")
        n_chunks = f["firings"].shape[0]
        assert f["firings"].shape[1] == 20 and n_chunks > 10
        assert f["doc_id"].dtype == np.int64 and f["doc_id"].shape == (n_chunks,)
        assert set(f["category"].tolist()) <= {"Github", "Pile-CC", "ArXiv"}
        assert set(f["split"].tolist()) == {"histogram", "heldout"}
        for doc in set(f["doc_id"].tolist()):  # documents, not chunks, are split
            assert len(set(f["split"][f["doc_id"] == doc].tolist())) == 1
        c = io.read_npz(d / "cooccurrence.npz")
        hist = f["firings"][f["split"] == "histogram"]
        ref_counts, ref_occ, ref_t = cooccurrence_reference(hist)
        np.testing.assert_array_equal(c["counts"], ref_counts)
        np.testing.assert_array_equal(c["occurrences"], ref_occ)
        assert int(c["n_chunks"]) == ref_t
        dec = io.read_npy(d / "decoder.npy")
        assert dec.dtype == np.float32 and dec.shape == (20, 32)
        np.testing.assert_allclose(
            dec, np.load(tmp_path / "gemmascope" / f"layer_{layer}" / "params.npz")["W_dec"]
        )
        meta = io.read_json(d / "meta.json")
        assert (
            meta["threshold"] == 1.0
            and meta["chunk_size"] == 8
            and meta["sae"]["source"] == "local"
        )
        assert meta["n_chunks_histogram"] == ref_t
    summary = io.read_tsv(tmp_path / "results/summary/features.tsv")
    assert {"n_chunks_histogram", "sae_explained_variance"} <= set(summary["quantity"])
    assert (tmp_path / "logs/features").is_dir()

    # Provenance (issue 13 item 3): layer 0's firings, and layer 0's SAE decoder, copied with
    # their sidecars over layer 1's are intact but refused by the jobs that read them.
    import shutil

    sae = tmp_path / "results/sae/tiny-gemma2/features"
    for src, dst in [
        (base / "layer_0/firings.npz", base / "layer_1/firings.npz"),
        (sae / "layer_0.decoder.npy", sae / "layer_1.decoder.npy"),
    ]:
        shutil.copy(src, dst)
        shutil.copy(io.sidecar(src), io.sidecar(dst))
    proc = run_snakemake(tmp_path, tmp_path / "c.yaml", "--keep-going", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for rule, name in [
        ("features_cooccurrence", "firings.npz"),
        ("features_decoder", "decoder.npy"),
    ]:
        line = next(x for x in out.splitlines() if x.startswith(f"Error in rule `{rule}`"))
        assert "layer_1" in line and name in line and "layer=0" in line and "layer=1" in line, line
