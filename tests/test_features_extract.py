"""Batched extraction on a tiny Gemma-2 and a tiny BERT + Gemma Scope style JumpReLU SAE equals a
per-document, unpadded brute force (so padding never fires, BOS is dropped, only full chunks
count, and real tokens keep their positions)."""

import numpy as np
import pytest
import torch
from test_sae import write_gemma_scope_params
from tiny_models import make_tiny_bert, make_tiny_gemma2, make_word_tokenizer

from concept_geometry.features.extract import extract_firings, sample_activations
from concept_geometry.features.sae import load_local_sae
from concept_geometry.models import load_model, load_tokenizer

WORDS = [f"w{i}" for i in range(40)]
LAYERS = [0, 1]  # hidden_states[L + 1] is the raw residual for L < last block (the last is normed)


@pytest.fixture(scope="module", params=["gemma2", "bert"])
def tiny(tmp_path_factory, request):
    """Gemma-2 (rotary: attention sees only relative positions, so a shift of every real
    token cancels) and BERT (absolute position embeddings, as MiniLM, the default model:
    a shift changes every residual)."""
    root = tmp_path_factory.mktemp("tiny")
    tok = make_word_tokenizer(WORDS)
    make_model = {"gemma2": make_tiny_gemma2, "bert": make_tiny_bert}[request.param]
    make_model(root / "model", tok, hidden=32, layers=3)
    saes = {}
    for layer in LAYERS:
        # thresholds low enough that plenty of features fire
        p = write_gemma_scope_params(root / f"sae_{layer}", d_in=32, d_sae=24, seed=layer)
        saes[layer] = load_local_sae(root / f"sae_{layer}", "features.sae")
        del p
    model = load_model(str(root / "model"), "m")
    tokenizer = load_tokenizer(str(root / "model"), "m")
    return model, tokenizer, saes


def texts_of_lengths(lengths, seed=0):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=n)) for n in lengths]


def brute_force(model, tokenizer, saes, text, chunk, threshold, max_length):
    """One document alone, no padding: drop BOS, cut full chunks, fire if any token > threshold."""
    ids = tokenizer(text, truncation=True, max_length=max_length)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    out = {}
    with torch.no_grad():
        hidden = model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states
    for layer, sae in saes.items():
        resid = hidden[layer + 1][0, 1:]  # residual after block `layer`, BOS dropped
        n = resid.shape[0] // chunk
        rows = []
        for c in range(n):
            acts = sae.encode(resid[c * chunk : (c + 1) * chunk])
            rows.append((acts > threshold).any(0).numpy())
        out[layer] = (
            np.array(rows, dtype=bool) if rows else np.zeros((0, sae.cfg.d_sae), dtype=bool)
        )
    return out


def test_batched_extraction_equals_per_document_brute_force(tiny):
    """Batches of documents of different lengths give each document the firings it has alone.
    On BERT this pins right padding: left padding would move every real token of a shorter
    document to later absolute positions (on rotary Gemma-2 the shift cancels)."""
    model, tokenizer, saes = tiny
    # short (< chunk), exact multiples of the chunk, partial tails, truncated
    lengths = [3, 8, 16, 17, 23, 40, 5, 31]
    texts = texts_of_lengths(lengths)
    chunk, thr, max_len = 8, 0.5, 33  # max_len 33 = BOS + 32 tokens: doc of 40 is truncated
    got = extract_firings(
        model, tokenizer, texts, saes, thr, chunk, batch_size=3, max_length=max_len, progress=False
    )
    expected_chunks = [min(n, 32) // chunk for n in lengths]
    for layer in LAYERS:
        res = got[layer]
        assert res.firings.shape == (sum(expected_chunks), 24)
        assert np.bincount(res.doc_index, minlength=len(texts)).tolist() == expected_chunks
        dense = res.firings.toarray().astype(bool)
        assert 0 < dense.mean() < 1
        for d, text in enumerate(texts):
            ref = brute_force(model, tokenizer, saes, text, chunk, thr, max_len)[layer]
            np.testing.assert_array_equal(dense[res.doc_index == d], ref)
        assert np.isfinite(res.stats["explained_variance"])
        assert res.stats["n_tokens"] == sum(expected_chunks) * chunk
    # Streamed to sinks batch by batch (as the workflow writes firings.npz): the same rows.
    import scipy.sparse as sp

    received = {layer: [] for layer in LAYERS}
    streamed = extract_firings(
        model,
        tokenizer,
        texts,
        saes,
        thr,
        chunk,
        batch_size=3,
        max_length=max_len,
        progress=False,
        sinks={layer: received[layer].append for layer in LAYERS},
    )
    for layer in LAYERS:
        assert streamed[layer].firings is None and len(received[layer]) == 3  # 8 docs / 3
        assert all(block.dtype == np.uint8 for block in received[layer])
        np.testing.assert_array_equal(streamed[layer].doc_index, got[layer].doc_index)
        assert (sp.vstack(received[layer]) != got[layer].firings).nnz == 0


def test_explained_variance_is_one_minus_sse_over_centred_sum_of_squares():
    """The SAE statistics' explained variance is 1 − SSE / Σ(x − mean)², the mean taken over
    all tokens of all blocks, not 1 − SSE / Σx². Tokens 11 and 13 (mean 12, centred SS 2),
    reconstructed as 11.5 and 12.5 (SSE 0.5): 0.75. Uncentred it would be 1 − 0.5 / 290.
    One token per block, so the two tokens reach the statistics in separate updates."""
    from types import SimpleNamespace

    from concept_geometry.features.extract import _Stats, chunk_firings

    sae = SimpleNamespace(
        cfg=SimpleNamespace(d_sae=1),
        W_dec=torch.zeros(1, 1),
        encode=lambda x: x,
        decode=lambda f: 12.0 + 0.5 * (f - 12.0),
    )
    tokens = torch.tensor([[[11.0]], [[13.0]]])  # (n_chunks 2, chunk_size 1, d 1)
    stats = _Stats(1)
    fired = chunk_firings(sae, tokens, threshold=12.0, stats=stats, block_tokens=1)
    assert fired.tolist() == [[False], [True]]
    res = stats.result()
    assert res["n_tokens"] == 2
    assert res["explained_variance"] == pytest.approx(1 - 0.5 / 2, abs=1e-12)
    assert res["l0_per_token"] == 1.0 and res["firing_per_token"] == 0.5


def test_sample_activations_shapes_and_seed(tiny):
    model, tokenizer, _ = tiny
    texts = texts_of_lengths([20] * 10, seed=1)
    a = sample_activations(model, tokenizer, texts, LAYERS, 50, seed=3, batch_size=4, max_length=64)
    b = sample_activations(model, tokenizer, texts, LAYERS, 50, seed=3, batch_size=4, max_length=64)
    assert a[0].shape == (50, 32) and a[1].shape == (50, 32)
    np.testing.assert_array_equal(a[0], b[0])
    # every sampled vector is a real (non-BOS, non-pad) residual: a row of the full forward
    with torch.no_grad():
        enc = tokenizer(texts, return_tensors="pt")
        hs = model(**enc, output_hidden_states=True).hidden_states[1][:, 1:].reshape(-1, 32).numpy()
    d = np.abs(a[0][:, None, :] - hs[None]).max(-1).min(1)
    assert d.max() < 1e-4


def test_content_tokens_are_counted_in_every_batch_after_truncation():
    """Documents of 3, 1, 4, 1, 5 words in batches of 2: each one's word count, BOS dropped
    (with BOS when special tokens are kept), truncated at max_length − 1 words."""
    from concept_geometry.features.extract import count_content_tokens

    tok = make_word_tokenizer(WORDS)
    texts = texts_of_lengths([3, 1, 4, 1, 5])
    assert count_content_tokens(tok, texts, max_length=64, batch_size=2).tolist() == [3, 1, 4, 1, 5]
    assert count_content_tokens(tok, texts, max_length=4, batch_size=2).tolist() == [3, 1, 3, 1, 3]
    assert count_content_tokens(
        tok, texts, max_length=64, drop_special=False, batch_size=2
    ).tolist() == [4, 2, 5, 2, 6]
    assert count_content_tokens(tok, [], max_length=8).shape == (0,)


@pytest.mark.parametrize("missing", ["pad", "pad and eos"])
def test_a_tokenizer_without_pad_token_pads_with_eos_else_unk(missing):
    """Batching documents of different lengths needs a pad token: EOS, else UNK (padding is
    never content, so the counts are the word counts)."""
    from concept_geometry.features.extract import count_content_tokens

    tok = make_word_tokenizer(WORDS)
    tok.pad_token = None
    if missing == "pad and eos":
        tok.eos_token = None
    counts = count_content_tokens(tok, texts_of_lengths([2, 5, 1]), max_length=64)
    assert counts.tolist() == [2, 5, 1]
    assert tok.pad_token == ("</s>" if missing == "pad" else "<unk>")


def test_no_documents_give_empty_firings_as_wide_as_the_sae():
    """No text: no forward pass, a (0, F) uint8 matrix per layer, and statistics with the
    same keys as a non-empty run, NaN where they are ratios over zero tokens."""
    from types import SimpleNamespace

    saes = {3: SimpleNamespace(cfg=SimpleNamespace(d_in=4, d_sae=7))}
    out = extract_firings(None, None, [], saes, 0.5, 8, 2, 16, progress=False)
    assert out[3].firings.shape == (0, 7) and out[3].firings.dtype == np.uint8
    assert out[3].doc_index.shape == (0,) and out[3].doc_index.dtype == np.int64
    stats = out[3].stats
    assert set(stats) == {"n_tokens", "explained_variance", "l0_per_token", "firing_per_token"}
    assert stats["n_tokens"] == 0
    assert all(
        np.isnan(stats[k]) for k in ("explained_variance", "l0_per_token", "firing_per_token")
    )


@pytest.mark.parametrize(
    "words, n_tokens, n_docs, n_out",
    [
        (1, 4, 5, 4),  # 1.25 · 4 = 5 content tokens: 5 one-word documents
        (3, 4, 2, 4),  # 3 + 3 ≥ 5: 2 three-word documents
        (1, 20, 10, 10),  # the corpus holds fewer than n_tokens: all of it
    ],
)
def test_sample_runs_only_documents_holding_one_and_a_quarter_n_tokens(
    tiny, words, n_tokens, n_docs, n_out
):
    """Documents enter in seeded order until they hold 1.25 · n_tokens content tokens (BOS
    not counted); only those reach the model, and n_tokens of their tokens are returned."""
    model, tokenizer, _ = tiny
    texts = texts_of_lengths([words] * 10, seed=2)
    seen = []
    handle = model.register_forward_pre_hook(
        lambda m, args, kwargs: seen.append(int(kwargs["input_ids"].shape[0])), with_kwargs=True
    )
    try:
        out = sample_activations(
            model,
            tokenizer,
            texts,
            LAYERS,
            n_tokens,
            seed=5,
            batch_size=3,
            max_length=64,
            progress=False,
        )
    finally:
        handle.remove()
    assert sum(seen) == n_docs
    assert out[0].shape == (n_out, 32) and out[1].shape == (n_out, 32)


class _Stop(Exception):
    pass


def _first_forward(model, run):
    """The input_ids of the first forward pass ``run`` makes (stopped there)."""
    seen = []

    def hook(module, args, kwargs):
        seen.append(kwargs["input_ids"])
        raise _Stop

    handle = model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        with pytest.raises(_Stop):
            run()
    finally:
        handle.remove()
    return seen[0]


@pytest.mark.parametrize("which", ["extract", "sample"])
def test_documents_go_to_the_device_asked(tiny, which):
    """The tokens reach the model on ``device`` (the "meta" device: visible, and no data)."""
    model, tokenizer, saes = tiny
    texts = texts_of_lengths([4, 6])
    run = {
        "extract": lambda: extract_firings(
            model, tokenizer, texts, saes, 0.5, 2, 2, 16, device="meta", progress=False
        ),
        "sample": lambda: sample_activations(
            model, tokenizer, texts, LAYERS, 4, 0, 2, 16, device="meta", progress=False
        ),
    }[which]
    assert _first_forward(model, run).device.type == "meta"


def test_documents_are_run_longest_first_in_a_stable_order(tiny):
    """Batches hold the longest texts first (less padding); equal lengths keep input order.
    Texts of 3, 9, 5, 9, 1 words (of 2 characters each) in batches of 2: documents 1 and 3,
    then 2 and 0, then 4."""
    from concept_geometry.features.extract import iter_residual_batches

    model, tokenizer, _ = tiny
    texts = [" ".join(["w1"] * n) for n in (3, 9, 5, 9, 1)]
    batches = [
        idx.tolist()
        for idx, _resid, _keep in iter_residual_batches(
            model, tokenizer, texts, [0], batch_size=2, max_length=16, progress=False
        )
    ]
    assert batches == [[1, 3], [2, 0], [4]]


def test_sampled_documents_are_truncated_at_max_length(tiny):
    """max_length 4 = BOS + 3 words: ten-word documents hold 3 content tokens each, so
    1.25 · 6 = 7.5 needs 3 of them, each run 4 tokens long."""
    model, tokenizer, _ = tiny
    texts = texts_of_lengths([10] * 6, seed=4)
    shapes = []
    handle = model.register_forward_pre_hook(
        lambda m, args, kwargs: shapes.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True
    )
    try:
        out = sample_activations(
            model, tokenizer, texts, LAYERS, 6, seed=0, batch_size=8, max_length=4, progress=False
        )
    finally:
        handle.remove()
    assert shapes == [(3, 4)] and out[0].shape == (6, 32)


def test_one_layer_returned_or_streamed_keeps_csr_uint8_rows_and_token_statistics(tiny):
    """One layer only (layer 1), documents of 3, 8 and 17 words in chunks of 4: 0, 2 and 4
    full chunks, 6 chunks of 24 tokens. Returned, the firings are one (6, 24) CSR uint8
    matrix; streamed to a sink, the blocks arrive and the statistics still count the 24
    encoded tokens."""
    import scipy.sparse as sp

    model, tokenizer, saes = tiny
    texts = texts_of_lengths([3, 8, 17], seed=2)
    one = {1: saes[1]}
    kw = dict(batch_size=2, max_length=64, progress=False)
    got = extract_firings(model, tokenizer, texts, one, 0.5, 4, **kw)
    assert list(got) == [1]
    res = got[1]
    assert sp.isspmatrix_csr(res.firings) and res.firings.dtype == np.uint8
    assert res.firings.shape == (6, 24) and 0 < res.firings.nnz < 6 * 24
    assert res.doc_index.dtype == np.int64 and sorted(res.doc_index.tolist()) == [1, 1] + [2] * 4
    assert res.stats["n_tokens"] == 24
    blocks = []
    streamed = extract_firings(model, tokenizer, texts, one, 0.5, 4, sinks={1: blocks.append}, **kw)
    assert streamed[1].firings is None and len(blocks) == 2  # 3 documents in batches of 2
    assert streamed[1].stats["n_tokens"] == 24
    assert set(streamed[1].stats) == {
        "n_tokens",
        "explained_variance",
        "l0_per_token",
        "firing_per_token",
    }
    # threshold 0.5 > 0: the features firing on a token are among its active ones (L0)
    assert 0 < streamed[1].stats["firing_per_token"] <= streamed[1].stats["l0_per_token"]


def test_progress_bars_name_the_pass_and_count_documents_by_default(tiny, capsys):
    """Unless ``progress=False``, each pass shows a bar on stderr: its label, documents done
    of the total, in documents per second (3 documents here)."""
    from concept_geometry.features.extract import iter_residual_batches

    model, tokenizer, saes = tiny
    texts = texts_of_lengths([5, 9, 4], seed=3)
    runs = {
        "extract firings": lambda: extract_firings(model, tokenizer, texts, saes, 0.5, 4, 2, 16),
        "sample activations": lambda: sample_activations(
            model, tokenizer, texts, LAYERS, 20, 0, 2, 16
        ),
        "forward": lambda: list(iter_residual_batches(model, tokenizer, texts, [0], 2, 16)),
    }
    for label, run in runs.items():
        capsys.readouterr()
        run()
        err = capsys.readouterr().err
        assert f"{label}: 100%" in err and "| 3/3 [" in err and "doc/s]" in err, (label, err)
    capsys.readouterr()
    extract_firings(model, tokenizer, texts, saes, 0.5, 4, 2, 16, progress=False)
    sample_activations(model, tokenizer, texts, LAYERS, 20, 0, 2, 16, progress=False)
    list(iter_residual_batches(model, tokenizer, texts, [0], 2, 16, progress=False))
    assert capsys.readouterr().err == ""  # progress=False: no bar at all


def test_an_empty_corpus_samples_no_activations():
    """No documents: nothing is run (no model needed) and every layer gets an empty sample
    with no rows."""
    out = sample_activations(None, None, [], [0, 2], 16, seed=0, batch_size=4, max_length=8)
    assert list(out) == [0, 2]
    assert all(x.shape == (0, 0) and x.dtype == np.float32 for x in out.values())


def test_many_documents_of_equal_length_keep_their_input_order(tiny):
    """20 texts alternating between two words and one (2 characters each): the ten long ones
    first, then the ten short ones, each group in input order (numpy's default sort, unlike a
    stable one, reorders such ties once there are more than a handful)."""
    from concept_geometry.features.extract import iter_residual_batches

    model, tokenizer, _ = tiny
    texts = ["w1 w2" if i % 2 == 0 else "w3" for i in range(20)]
    batches = [
        idx.tolist()
        for idx, _resid, _keep in iter_residual_batches(
            model, tokenizer, texts, [0], batch_size=20, max_length=8, progress=False
        )
    ]
    assert batches == [list(range(0, 20, 2)) + list(range(1, 20, 2))]
