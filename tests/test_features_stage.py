"""The features stage's glue (features/stage.py): config slices -> the model, its width and
each layer's SAE, on a tiny offline BERT and tiny Gemma Scope style SAEs."""

import pytest
import torch
from test_sae import write_gemma_scope_params
from tiny_models import make_tiny_bert, make_word_tokenizer

from concept_geometry.errors import ConfigError
from concept_geometry.features.stage import (
    load_model_and_tokenizer,
    load_sae_for_layer,
    model_hidden_size,
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
