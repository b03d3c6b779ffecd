"""The features stage's glue (features/stage.py): config slices -> the model, its width and
each layer's SAE, on a tiny offline BERT and tiny Gemma Scope style SAEs; the per-layer
statistics, chunk columns, top-context arrays and meta.json the scripts write, and the
registry's reading of meta.json (features/quantities.py), on hand-computed small cases."""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from test_sae import write_gemma_scope_params
from tiny_models import make_tiny_bert, make_word_tokenizer

from concept_geometry.errors import ConfigError, InputDataError, MissingResourceError
from concept_geometry.features.contexts import TopContextsResult
from concept_geometry.features.stage import (
    chunk_columns,
    layer_meta,
    layer_stats,
    load_model_and_tokenizer,
    load_sae_for_layer,
    model_hidden_size,
    top_context_arrays,
)

HIDDEN = 24  # distinct from every SAE width below


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("stage")
    make_tiny_bert(root / "model", make_word_tokenizer(["a", "b"]), hidden=HIDDEN, layers=3)
    return str(root / "model")


def test_model_tokenizer_and_width_are_loaded_and_missing_layers_refused(tiny_model):
    model, tokenizer, d_model = load_model_and_tokenizer(
        {"dtype": "float64", "device": "cpu"}, tiny_model, [0, 2]
    )
    assert d_model == HIDDEN and isinstance(d_model, int)
    assert next(model.parameters()).dtype == torch.float64
    assert tokenizer("a b")["input_ids"] == [2, 4, 5]  # BOS, a, b
    assert model_hidden_size(tiny_model) == HIDDEN
    with pytest.raises(ConfigError, match=r"`features.layers`.*\[3\]"):
        load_model_and_tokenizer({"dtype": "float32", "device": "cpu"}, tiny_model, [1, 3])


def test_width_of_a_multimodal_model_is_its_text_model_width(tmp_path):
    """A config without a top-level hidden_size (Gemma-3: text + vision) gives the text
    model's."""
    from transformers import Gemma3Config

    Gemma3Config(
        text_config=dict(
            hidden_size=20,
            num_hidden_layers=1,
            intermediate_size=8,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=10,
            vocab_size=50,
        )
    ).save_pretrained(tmp_path)
    assert model_hidden_size(str(tmp_path)) == 20


@pytest.fixture
def saes(tmp_path):
    """sae_0 and sae_1 with 5 and 7 features (which one was loaded is visible)."""
    for layer, width in ((0, 5), (1, 7)):
        write_gemma_scope_params(tmp_path / f"sae_{layer}", d_in=HIDDEN, d_sae=width)
    return tmp_path


def test_local_sae_of_each_layer_from_its_path_template(saes):
    spec = {"source": "local", "path": str(saes / "sae_{layer}")}
    assert load_sae_for_layer(spec, 1, "features.sae").cfg.d_sae == 7
    sae = load_sae_for_layer({**spec, "dtype": "float64"}, 0, "features.sae", device="meta")
    assert sae.cfg.d_sae == 5 and sae.W_dec.dtype == torch.float64
    assert sae.W_dec.device.type == "meta"


@pytest.mark.parametrize("source", ["local", "pretrained", "train"])
def test_a_materialised_sae_folder_wins_over_the_source(saes, source):
    """Once the workflow has materialised (or trained) the layer's SAE, that folder is read
    whatever the source says."""
    spec = {"source": source, "path": str(saes / "sae_0"), "release": "r", "sae_id": "i"}
    sae = load_sae_for_layer(spec, 0, "features.sae", sae_dir=str(saes / "sae_1"))
    assert sae.cfg.d_sae == 7 and sae.W_dec.dtype == torch.float32


def test_pretrained_sae_id_is_formatted_for_the_layer(monkeypatch):
    from concept_geometry.features import stage

    calls = []
    monkeypatch.setattr(stage, "load_pretrained_sae", lambda *args: calls.append(args) or "sae")
    spec = {
        "source": "pretrained",
        "release": "gemma-scope",
        "sae_id": "layer_{layer}/w16k",
        "dtype": "bfloat16",
    }
    assert load_sae_for_layer(spec, 12, "features.sae", device="cuda") == "sae"
    assert calls == [("gemma-scope", "layer_12/w16k", "features.sae", "cuda", "bfloat16")]


def test_an_untrained_sae_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match=r"`galaxy.sae.source: train`"):
        load_sae_for_layer({"source": "train"}, 0, "galaxy.sae")


def test_a_missing_model_or_tokenizer_names_the_config_key(tmp_path):
    """The errors name the config key the spec came from: `features.model.path` by default,
    else the key given. A missing folder fails at the tokenizer; a folder holding only a
    tokenizer fails at the model (no config.json)."""
    cfg = {"dtype": "float32", "device": "cpu"}
    missing = str(tmp_path / "absent")
    with pytest.raises(
        MissingResourceError, match=r"absent \(config key `features\.model\.path`\)"
    ):
        load_model_and_tokenizer(cfg, missing, [0])
    with pytest.raises(MissingResourceError, match=r"absent \(config key `sae\.model`\)"):
        load_model_and_tokenizer(cfg, missing, [0], key="sae.model")
    make_word_tokenizer(["a"], path=tmp_path / "tokenizer_only")
    with pytest.raises(
        MissingResourceError,
        match=r"tokenizer_only \(config key `sae\.model`\) has no config\.json",
    ):
        load_model_and_tokenizer(cfg, str(tmp_path / "tokenizer_only"), [0], key="sae.model")
    with pytest.raises(
        MissingResourceError, match=r"absent \(config key `features\.model\.path`\)"
    ):
        model_hidden_size(missing)
    with pytest.raises(MissingResourceError, match=r"absent \(config key `galaxy\.model`\)"):
        model_hidden_size(missing, "galaxy.model")


def test_width_is_the_text_models_even_beside_a_top_level_hidden_size(tmp_path):
    """A composite config holding both a top-level hidden_size (99: not the language model's)
    and a text config of width 20: the residual stream an SAE reads is the text model's."""
    from transformers import LlavaConfig

    LlavaConfig(
        text_config=dict(
            model_type="llama",
            hidden_size=20,
            num_hidden_layers=1,
            intermediate_size=8,
            num_attention_heads=2,
            num_key_value_heads=1,
            vocab_size=50,
        ),
        hidden_size=99,
    ).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["hidden_size"] == 99
    assert model_hidden_size(str(tmp_path)) == 20


def test_layer_stats_count_chunks_and_refuse_empty_layers_naming_the_fix():
    """10 firings over 4 chunks: 2.5 per chunk; one chunk with one firing is enough. No full
    chunk, or no firing at all, is refused with the settings that caused it."""
    got = layer_stats(
        3, {"dead_fraction": 0.25}, n_rows=4, nnz=10, chunk_size=32, max_length=66, threshold=0.1
    )
    assert got == {"dead_fraction": 0.25, "n_chunks": 4, "mean_firing_per_chunk": 2.5}
    assert layer_stats(0, {}, n_rows=1, nnz=1, chunk_size=8, max_length=9, threshold=0.5) == {
        "n_chunks": 1,
        "mean_firing_per_chunk": 1.0,
    }
    with pytest.raises(
        InputDataError,
        match=r"^No document of the corpus has a full chunk of 32 tokens \(after dropping "
        r"special tokens, truncation at 66\)\. Lower `features\.chunk_size` or give longer "
        r"documents\.$",
    ):
        layer_stats(3, {}, n_rows=0, nnz=0, chunk_size=32, max_length=66, threshold=0.1)
    with pytest.raises(
        InputDataError,
        match=r"^No SAE feature of layer 3 fires \(activation > `features\.threshold` = 0\.1\) "
        r"on any of the 4 chunks, so co-occurrences, lobes and galaxy statistics would all be "
        r"empty\. Lower `features\.threshold`\.$",
    ):
        layer_stats(3, {}, n_rows=4, nnz=0, chunk_size=32, max_length=66, threshold=0.1)


def _docs():
    """Three documents, int32 ids (as a narrow table may hold them), labelled rows 7..9 (so a
    label lookup would differ from a positional one)."""
    return pd.DataFrame(
        {
            "doc_id": np.array([10, 11, 12], dtype=np.int32),
            "category": ["a", "b", "a"],
            "split": ["histogram", "heldout", "histogram"],
        },
        index=[7, 8, 9],
    )


def test_chunk_columns_are_each_chunks_document_row_as_int64_and_str():
    cols = chunk_columns(_docs(), np.array([0, 0, 1, 2]))
    assert set(cols) == {"doc_id", "category", "split"}
    assert cols["doc_id"].dtype == np.int64 and cols["doc_id"].tolist() == [10, 10, 11, 12]
    assert cols["category"].dtype.kind == "U" and cols["category"].tolist() == ["a", "a", "b", "a"]
    assert cols["split"].dtype.kind == "U"
    assert cols["split"].tolist() == ["histogram", "histogram", "heldout", "histogram"]


def test_layer_meta_counts_chunks_documents_and_features_by_hand():
    """Chunks of documents 10, 10, 11, 12 (11 held out): 4 chunks, 1 held out, 3 documents;
    occurrences [0, 2, 1, 0, 5]: 5 features, 3 ever fired (one of them exactly once)."""
    meta = layer_meta(
        model="m",
        model_path="p",
        corpus="c",
        layer=np.int64(3),
        sae={"w": 1},
        threshold=0.5,
        chunk_size=8,
        max_length=16,
        split=np.array(["histogram", "histogram", "heldout", "histogram"]),
        doc_id=np.array([10, 10, 11, 12]),
        occurrences=np.array([0, 2, 1, 0, 5]),
        n_chunks_histogram=np.int64(3),
        stats={"n_chunks": 4, "explained_variance": 0.75},
    )
    assert meta == {
        "model": "m",
        "model_path": "p",
        "corpus": "c",
        "layer": 3,
        "sae": {"w": 1},
        "threshold": 0.5,
        "chunk_size": 8,
        "max_length": 16,
        "n_features": 5,
        "n_chunks_total": 4,
        "n_chunks_histogram": 3,
        "n_chunks_heldout": 1,
        "n_documents": 3,
        "features_ever_fired": 3,
        "sae_n_chunks": 4,
        "sae_explained_variance": 0.75,
    }
    # plain Python ints, so meta.json is written as numbers whatever numpy hands in
    assert all(
        type(meta[k]) is int
        for k in ("layer", "n_features", "n_chunks_total", "n_chunks_histogram")
        + ("n_chunks_heldout", "n_documents", "features_ever_fired")
    )


def test_top_context_arrays_map_rows_to_document_ids_and_tokens_to_strings():
    """2 features × 2 slots, window 1. Slots hold documents 2 and 0 of feature 0, document 1
    and an empty slot (-1) of feature 1: ids 12, 10, 11 and -1. Snippet ids 5, 9 and -1 (no
    token) become indices into the vocabulary [t5, t9]."""
    top = TopContextsResult(
        activation=np.array([[3.0, 2.0], [1.5, np.nan]], dtype=np.float32),
        doc_index=np.array([[2, 0], [1, -1]]),
        position=np.array([[4, 0], [7, -1]]),
        snippet=np.array(
            [[[5, 9, -1], [-1, 9, 9]], [[9, 5, 5], [-1, -1, -1]]],
        ),
        window=1,
    )
    tok = SimpleNamespace(convert_ids_to_tokens=lambda ids: [f"t{i}" for i in ids])
    got = top_context_arrays(top, tok, _docs())
    assert set(got) == {"activation", "doc_id", "position", "snippet", "tokens", "window"}
    assert got["doc_id"].dtype == np.int64 and got["doc_id"].tolist() == [[12, 10], [11, -1]]
    np.testing.assert_array_equal(got["activation"], top.activation)
    assert got["position"].tolist() == [[4, 0], [7, -1]]
    assert got["tokens"].tolist() == ["t5", "t9"]
    assert got["snippet"].tolist() == [[[0, 1, -1], [-1, 1, 1]], [[1, 0, 0], [-1, -1, -1]]]
    assert got["window"] == 1 and got["window"].dtype == np.int64
    # one document only: an empty slot must not look up a row the table does not have
    one = top_context_arrays(
        TopContextsResult(
            np.array([[1.0, np.nan]]),
            np.array([[0, -1]]),
            np.array([[2, -1]]),
            np.array([[[5], [-1]]]),
            0,
        ),
        tok,
        _docs().iloc[[1]],
    )
    assert one["doc_id"].tolist() == [[11, -1]]


def test_registry_reads_each_layers_meta_json_and_leaves_missing_quantities_empty(tmp_path):
    """Two layers' meta.json, the second without sae_n_tokens: one unit per layer, of the
    model named in meta.json, its record the quantities' columns (None where missing)."""
    from concept_geometry import io
    from concept_geometry.features import quantities
    from concept_geometry.registry_declarations import Unit

    values = {
        "n_chunks_histogram": 30,
        "n_chunks_heldout": 6,
        "n_features": 24,
        "features_ever_fired": 20,
        "sae_mean_firing_per_chunk": 2.5,
        "sae_firing_per_token": 0.5,
        "sae_l0_per_token": 4.0,
        "sae_explained_variance": 0.8,
        "sae_n_tokens": 120,
    }
    paths = []
    for layer, drop in ((2, None), (5, "sae_n_tokens")):
        meta = {"model": "tiny", "layer": layer, "chunk_size": 8, **values}
        if drop:
            del meta[drop]
        paths.append(tmp_path / f"layer_{layer}.json")
        io.write_json(paths[-1], meta, producer="features_cooccurrence")
    units = quantities.load({"meta": [str(p) for p in paths]}, {})
    assert units == [
        Unit("tiny", {"meta": [{"layer": 2, **values}]}),
        Unit("tiny", {"meta": [{"layer": 5, **values, "sae_n_tokens": None}]}),
    ]


def test_device_and_dtype_reach_the_model_and_every_sae_path(tiny_model, saes):
    """features.model's device reaches the model ("meta": visible, no data); the SAE spec's
    dtype and the device reach a materialised SAE folder too, and an SAE spec without a
    dtype loads float32 on the CPU."""
    model, _, _ = load_model_and_tokenizer({"dtype": "float32", "device": "meta"}, tiny_model, [0])
    assert next(model.parameters()).device.type == "meta"
    spec = {"source": "local", "path": str(saes / "sae_{layer}")}
    sae = load_sae_for_layer(
        {**spec, "dtype": "float64"}, 0, "features.sae", device="meta", sae_dir=str(saes / "sae_1")
    )
    assert sae.cfg.d_sae == 7 and sae.W_dec.dtype == torch.float64
    assert sae.W_dec.device.type == "meta"
    plain = load_sae_for_layer(spec, 0, "features.sae")
    assert plain.W_dec.dtype == torch.float32 and plain.W_dec.device.type == "cpu"
