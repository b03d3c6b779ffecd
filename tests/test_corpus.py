"""Corpus sources: offline stdlib corpus, local jsonl/jsonl.zst/parquet, Pile offline, splits."""

import json
import time

import numpy as np
import pandas as pd
import pytest

from concept_geometry.corpus import (
    read_local_corpus,
    split_documents,
    stdlib_corpus,
    stream_hf_corpus,
)
from concept_geometry.corpus.sources import _split_module
from concept_geometry.errors import InputDataError, MissingResourceError


def test_stdlib_corpus_is_deterministic_two_categories():
    a = stdlib_corpus(40, min_chars=200, max_chars=3000)
    b = stdlib_corpus(40, min_chars=200, max_chars=3000)
    pd.testing.assert_frame_equal(a, b)
    assert a["category"].value_counts().to_dict() == {"code": 20, "prose": 20}
    assert a["doc_id"].tolist() == list(range(40))
    assert a["text"].str.len().between(200, 3000).all()


def test_module_split_separates_docstrings_from_code():
    src = '"""Module doc."""\nimport os\n\ndef f():\n    """Function doc."""\n    return os.sep\n'
    code, prose = _split_module(src)
    assert "Module doc" not in code and "Function doc" not in code and "return os.sep" in code
    assert prose == "Module doc.\n\nFunction doc."


def _records(n):
    return [
        {
            "text": f"document number {i} " * 5,
            "meta": {"pile_set_name": "Github" if i % 2 else "Pile-CC"},
        }
        for i in range(n)
    ]


def test_local_jsonl_and_parquet(tmp_path):
    recs = _records(7)
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    got = read_local_corpus(jsonl, n_documents=5)
    assert len(got) == 5 and got["category"].tolist() == [
        "Pile-CC",
        "Github",
        "Pile-CC",
        "Github",
        "Pile-CC",
    ]
    assert got["text"][1] == recs[1]["text"]
    flat = pd.DataFrame(
        {"body": [r["text"] for r in recs], "subset": ["a", "b", "a", "b", "a", "b", "a"]}
    )
    flat.to_parquet(tmp_path / "c.parquet")
    got = read_local_corpus(tmp_path / "c.parquet", 100, text_field="body", category_field="subset")
    assert len(got) == 7 and got["category"].tolist()[:2] == ["a", "b"]


def test_local_jsonl_zst(tmp_path):
    path = tmp_path / "c.jsonl.zst"
    data = ("\n".join(json.dumps(r) for r in _records(4)) + "\n").encode()
    try:
        import zstandard
    except ImportError:
        path.write_bytes(b"not read")
        with pytest.raises(MissingResourceError, match="zstandard"):
            read_local_corpus(path, 10)
        return
    path.write_bytes(zstandard.ZstdCompressor().compress(data))
    assert len(read_local_corpus(path, 10)) == 4


def test_empty_corpus_and_missing_field_are_refused(tmp_path):
    empty = tmp_path / "e.jsonl"
    empty.write_text("")
    with pytest.raises(InputDataError, match="no document"):
        read_local_corpus(empty, 10)
    bad = tmp_path / "b.jsonl"
    bad.write_text(json.dumps({"content": "x"}) + "\n")
    with pytest.raises(InputDataError, match="text_field"):
        read_local_corpus(bad, 10)
    with pytest.raises(MissingResourceError, match="does not exist"):
        read_local_corpus(tmp_path / "nope.jsonl", 10)


def test_pile_offline_fails_fast_with_local_instructions(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.time()
    with pytest.raises(MissingResourceError) as err:
        stream_hf_corpus("monology/pile-uncopyrighted", "train", 10)
    assert time.time() - t0 < 10
    assert "source: local" in str(err.value) and "features.corpus.path" in str(err.value)


def test_split_is_by_document_stratified_and_seeded():
    cats = np.array(["a"] * 50 + ["b"] * 10 + ["c"])
    s1 = split_documents(cats, 0.2, seed=1)
    assert (s1 == split_documents(cats, 0.2, seed=1)).all()
    assert (s1 != split_documents(cats, 0.2, seed=2)).any()
    assert (s1[cats == "a"] == "heldout").sum() == 10
    assert (s1[cats == "b"] == "heldout").sum() == 2
    assert set(s1.tolist()) == {"histogram", "heldout"}
    assert (split_documents(cats, 0.0, 0) == "histogram").all()


@pytest.mark.parametrize(
    "record, needle",
    [
        ({"text": None, "meta": {"pile_set_name": "A"}}, "`text` = null, not a string"),
        ({"text": 12345, "meta": {"pile_set_name": "A"}}, "`text` = 12345, not a string"),
        (
            {"text": "x" * 50, "meta": {"pile_set_name": 7}},
            "`meta.pile_set_name` = 7, not a string",
        ),
        ({"text": "x" * 50, "meta": {"pile_set_name": ["A"]}}, "not a string"),
    ],
)
def test_non_string_text_or_category_is_refused_not_stored_as_repr(tmp_path, record, needle):
    """Issue 13 §6: `"text": null` used to be refused as a *missing* field while listing it,
    and a numeric text or category was stored as its Python repr."""
    path = tmp_path / "c.jsonl"
    path.write_text(
        json.dumps({"text": "y" * 50, "meta": {"pile_set_name": "B"}})
        + "\n"
        + json.dumps(record)
        + "\n"
    )
    with pytest.raises(InputDataError) as err:
        read_local_corpus(path, 10)
    assert needle in str(err.value) and "Record 1" in str(err.value)
    assert "has no field" not in str(err.value)


def test_non_utf8_and_json_array_corpora_are_refused_with_the_fix(tmp_path):
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(
        json.dumps({"text": "caf_", "meta": {"pile_set_name": "A"}}).encode().replace(b"_", b"\xe9")
        + b"\n"
    )
    with pytest.raises(InputDataError, match="not UTF-8 text.*iconv"):
        read_local_corpus(latin, 10)
    array = tmp_path / "docs.json"
    array.write_text(json.dumps([{"text": "a" * 50, "meta": {"pile_set_name": "A"}}]))
    with pytest.raises(InputDataError, match=r"JSON list, not an object.*jq -c"):
        read_local_corpus(array, 10)
