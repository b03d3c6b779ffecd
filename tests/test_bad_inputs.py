"""Issue 9: bad input is refused with one clear paragraph, and leaves no partial output.

One table, one row per kind of bad input: the config (checked before any job, `snakemake -n`)
and the data, models and SAEs a job reads (a real run on a tiny config). Each row asserts the
message names the culprit and the fix, that no traceback is shown, and that the failing
stage left no output behind.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from conftest import run_snakemake
from tiny_models import make_tiny_llama, make_word_tokenizer

pytestmark = pytest.mark.workflow

SMALL_FEATURES = {
    "corpus": {"name": "stdlib", "source": "stdlib", "n_documents": 12, "max_chars": 3000,
               "min_chars": 200},
    "layers": [1],
    "sae": {"source": "train", "width": 96, "steps": 20, "batch_size": 64,
            "n_train_tokens": 500},
}


def _gemma_scope_params(folder, d_in, width=32):
    """A JumpReLU SAE in Gemma Scope's params.npz format."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    np.savez(folder / "params.npz", W_enc=rng.normal(size=(d_in, width)).astype(np.float32),
             W_dec=rng.normal(size=(width, d_in)).astype(np.float32),
             b_enc=np.zeros(width, np.float32), b_dec=np.zeros(d_in, np.float32),
             threshold=np.ones(width, np.float32))
    return folder


def _llama_and_data(tmp, folder, files, vocab):
    """A tiny Llama whose tokenizer knows ``vocab``, and a folder of data files (name -> text)."""
    model = tmp / "llama"
    make_tiny_llama(model, make_word_tokenizer(vocab))
    data = tmp / folder
    data.mkdir()
    for name, text in files.items():
        (data / name).write_text(text)
    return model, data


def _llama_with_concepts(tmp, lines_by_file, vocab):
    model, concepts = _llama_and_data(
        tmp, "concepts", {n: "".join(lines) for n, lines in lines_by_file.items()}, vocab)
    return {"stages": ["alignment"], "alignment": {"models": [
        {"name": "tiny", "path": str(model), "concepts": str(concepts)}]}}


def case_unknown_key(tmp):
    return {"stages": ["simulation"], "simulation": {"m": 4, "step": 10}}, [
        "'step' was unexpected", "under `simulation`"], "config"


def case_wrong_type(tmp):
    return {"stages": ["features"], "features": {"layers": "three"}}, [
        "key `features.layers`", "'three'"], "config"


def case_impossible_size(tmp):
    return {"stages": ["simulation"], "simulation": {"m": 14}}, [
        "`simulation.m` = 14", "too large for exact enumeration"], "config"


def case_layer_outside_model(tmp):
    return {"stages": ["features"], "features": {**SMALL_FEATURES, "layers": [7]}}, [
        "`features.layers` asks for layer(s) [7]", "has 6 blocks"], "config"


def case_model_missing_offline(tmp):
    cfg = {"stages": ["alignment"], "alignment": {"models": [
        {"name": "gone", "path": "someone/not-on-this-machine", "concepts": "config/concepts"}]}}
    return cfg, ["alignment.models[gone].path", "local"], "results/alignment/gone"


def case_sae_missing_offline(tmp):
    feats = {**SMALL_FEATURES, "sae": {"source": "pretrained", "release": "gemma-scope-2b-pt-res",
                                       "sae_id": "layer_{layer}/width_16k/average_l0_41"}}
    return {"stages": ["features"], "features": feats}, [
        "features.sae", "source: local"], "results/features"


def case_sae_d_in_mismatch(tmp):
    _gemma_scope_params(tmp / "sae" / "layer_1", d_in=16)
    feats = {**SMALL_FEATURES, "sae": {"source": "local", "path": str(tmp / "sae" / "layer_{layer}")}}
    return {"stages": ["features"], "features": feats}, ["d_in", "16", "384"], "results/features"


def case_sae_hook_layer_mismatch(tmp):
    """An SAE of the right width but trained on another layer's residual stream."""
    import torch
    from sae_lens import StandardSAE, StandardSAEConfig

    sae = StandardSAE(StandardSAEConfig(d_in=384, d_sae=32))
    torch.nn.init.normal_(sae.W_dec)
    sae.cfg.metadata.hook_name = "blocks.3.hook_resid_post"
    sae.save_model(str(tmp / "sae_l3"))
    feats = {**SMALL_FEATURES, "sae": {"source": "local", "path": str(tmp / "sae_l3")}}
    return {"stages": ["features"], "features": feats}, [
        "blocks.3.hook_resid_post", "configured for layer 1", "features.sae"], "results/features"


def case_malformed_word_pairs(tmp):
    cfg = _llama_with_concepts(tmp, {"a.txt": ["cat\tcats\n", "dog dogs\n"],
                                     "b.txt": ["big\tbigger\n"]},
                               "cat cats dog dogs big bigger".split())
    return cfg, ["a.txt, line 2", "base<TAB>target"], "results/alignment/tiny"


def case_words_do_not_tokenize(tmp):
    cfg = _llama_with_concepts(tmp, {"a.txt": ["zebra\tzebras\n"], "b.txt": ["okapi\tokapis\n"]},
                               "cat cats dog dogs".split())
    return cfg, ["do not tokenize", "0 of 2 pairs", "unknown_token"], "results/alignment/tiny"


def _crystals_with_relations(tmp, files, vocab):
    model, rel = _llama_and_data(tmp, "relations", files, vocab)
    return {"stages": ["crystals"], "crystals": {
        "model": {"path": str(model), "name": "tiny"}, "layers": ["embed"],
        "relations_dir": str(rel), "min_pairs_per_relation": 10, "lda": {"n_components": 1},
        "silhouette": {"n_splits": 2}, "distractors": {"n_components": 2}}}


def case_malformed_relation_file(tmp):
    good = json.dumps([{"input": f"a{i}", "output": f"b{i}"} for i in range(12)])
    cfg = _crystals_with_relations(tmp, {"good.json": good, "bad.json": '[{"input": "a0"}]'},
                                   [f"{c}{i}" for c in "ab" for i in range(12)])
    return cfg, ["bad.json", "is malformed", "entry 0"], "results/crystals"


def case_relation_words_do_not_tokenize(tmp):
    one = json.dumps([{"input": f"a{i}", "output": f"b{i}"} for i in range(12)])
    two = json.dumps([{"input": f"zz{i}", "output": f"yy{i}"} for i in range(12)])
    cfg = _crystals_with_relations(tmp, {"one.json": one, "two.json": two},
                                   [f"{c}{i}" for c in "ab" for i in range(12)])
    return cfg, ["Only 1 relation(s) have usable pairs", "unknown_both", "crystals.model.path"], \
        "results/crystals"


def case_empty_corpus(tmp):
    (tmp / "empty.jsonl").write_text("")
    feats = {**SMALL_FEATURES, "corpus": {"name": "empty", "source": "local",
                                          "path": str(tmp / "empty.jsonl")}}
    return {"stages": ["features"], "features": feats}, [
        "empty.jsonl", "no document"], "results/features"


def case_unreadable_corpus(tmp):
    feats = {**SMALL_FEATURES, "corpus": {"name": "nope", "source": "local",
                                          "path": str(tmp / "missing.parquet")}}
    return {"stages": ["features"], "features": feats}, ["missing.parquet"], "results/features"


CASES = [case_unknown_key, case_wrong_type, case_impossible_size, case_layer_outside_model,
         case_model_missing_offline, case_sae_missing_offline, case_sae_d_in_mismatch,
         case_sae_hook_layer_mismatch,
         case_malformed_word_pairs, case_words_do_not_tokenize, case_malformed_relation_file,
         case_relation_words_do_not_tokenize, case_empty_corpus,
         case_unreadable_corpus]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[5:] for c in CASES])
def test_bad_input_gives_one_clear_paragraph_and_no_partial_output(tmp_path, case, monkeypatch):
    cfg, needles, where = case(tmp_path)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(tmp_path, path, *(["-n"] if where == "config" else []), check=False,
                         timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    for needle in needles:
        assert needle in out, f"{needle!r} not in:\n{out[-3000:]}"
    assert "Traceback (most recent call last)" not in out
    if where == "config":
        assert not (tmp_path / "results").exists()
    else:
        # The failing job wrote nothing: no output at all under the stage's folder except
        # outputs of jobs that finished before it (corpus, samples), each checksum-verified.
        from concept_geometry import io

        stage = tmp_path / where
        for f in stage.rglob("*") if stage.exists() else []:
            if f.is_file() and not f.name.endswith(io.SIDECAR_SUFFIX) and io.MANIFEST not in str(f):
                io.verify(f)
        assert not list(tmp_path.rglob("*.tmp-*")) and not list(tmp_path.rglob(".*.tmp-*"))
