"""Top-activating contexts (issue 18): the streamed top-N equals a brute-force top-N over every
token of a small corpus, ties are settled the same way however the tokens are batched, and
the state does not grow with the corpus."""

import numpy as np
import pytest
import torch
from test_features_extract import LAYERS, texts_of_lengths, tiny  # noqa: F401 (fixture)

from concept_geometry.features.contexts import TopContexts, snippet_ids, token_strings
from concept_geometry.features.extract import extract_firings


def brute_top(model, tokenizer, saes, texts, chunk, max_length, n_top, window):
    """Each document alone: every token of its full chunks, all (activation, doc, position)
    sorted by (-activation, doc, position) per feature; the snippet from its content ids."""
    per_layer = {layer: [] for layer in saes}
    content = []
    for d, text in enumerate(texts):
        ids = tokenizer(text, truncation=True, max_length=max_length)["input_ids"][1:]  # drop BOS
        content.append(ids)
        with torch.no_grad():
            hidden = model(
                input_ids=torch.tensor([[tokenizer.bos_token_id] + ids]), output_hidden_states=True
            ).hidden_states
        n = (len(ids) // chunk) * chunk
        for layer, sae in saes.items():
            acts = sae.encode(hidden[layer + 1][0, 1 : 1 + n]).detach().numpy()  # (n, F)
            for p, f in zip(*np.nonzero(acts > 0), strict=False):
                per_layer[layer].append((f, -float(acts[p, f]), d, p))
    out = {}
    for layer, rows in per_layer.items():
        rows.sort()
        table = {}
        for f, neg, d, p in rows:
            if len(table.setdefault(f, [])) < n_top:
                snip = [
                    content[d][q] if 0 <= q < len(content[d]) else -1
                    for q in range(p - window, p + window + 1)
                ]
                table[f].append((-neg, d, p, snip))
        out[layer] = table
    return out


def test_streamed_top_contexts_equal_brute_force(tiny):  # noqa: F811
    model, tokenizer, saes = tiny
    lengths = [3, 8, 16, 17, 23, 40, 5, 31, 12, 26]
    texts = texts_of_lengths(lengths, seed=2)
    chunk, max_len, n_top, window = 8, 33, 4, 3
    acc = {layer: TopContexts(24, n_top, window) for layer in LAYERS}
    extract_firings(
        model,
        tokenizer,
        texts,
        saes,
        0.5,
        chunk,
        batch_size=3,
        max_length=max_len,
        progress=False,
        top_contexts=acc,
    )
    ref = brute_top(model, tokenizer, saes, texts, chunk, max_len, n_top, window)
    for layer in LAYERS:
        res = acc[layer].result()
        assert res.activation.shape == (24, n_top) and res.snippet.shape == (24, n_top, 7)
        for f in range(24):
            want = ref[layer].get(f, [])
            got = int(np.isfinite(res.activation[f]).sum())
            assert got == len(want), (layer, f)
            np.testing.assert_allclose(
                res.activation[f, :got], [w[0] for w in want], rtol=1e-4, atol=1e-5
            )
            assert res.doc_index[f, :got].tolist() == [w[1] for w in want]
            assert res.position[f, :got].tolist() == [w[2] for w in want]
            assert res.snippet[f, :got].tolist() == [w[3] for w in want]
            assert (res.doc_index[f, got:] == -1).all()
        assert np.isfinite(res.activation).sum() > 24  # most features have several contexts
    # Token strings are the tokenizer's own spelling of those ids.
    vocab, idx = token_strings(tokenizer, acc[LAYERS[0]].result().snippet)
    f0 = next(f for f in range(24) if ref[LAYERS[0]].get(f))
    first = ref[LAYERS[0]][f0][0][3]
    assert [vocab[i] if i >= 0 else None for i in idx[f0, 0]] == [
        tokenizer.convert_ids_to_tokens(t) if t >= 0 else None for t in first
    ]


def _planted_blocks(n_docs, n_features, seed):
    """Activations on a coarse grid (many exact ties), tokens of 6 per document."""
    gen = np.random.default_rng(seed)
    feats = gen.integers(0, 4, size=(n_docs * 6, n_features)).astype(np.float32) / 2
    doc = np.repeat(np.arange(n_docs), 6)
    pos = np.tile(np.arange(6), n_docs)
    return feats, doc, pos


def _feed(acc, feats, doc, pos, order, block):
    ids = doc * 100 + pos  # a fake token id per (doc, position)
    for start in range(0, len(order), block):
        sel = order[start : start + block]
        acc.add(
            torch.from_numpy(feats[sel]),
            doc[sel],
            pos[sel],
            lambda t, sel=sel: ids[sel][t][:, None].repeat(2 * acc.window + 1, axis=1),
        )


def test_ties_are_settled_by_document_then_position_whatever_the_batching():
    feats, doc, pos = _planted_blocks(30, 7, seed=0)
    # expected: per feature, (-activation, doc, pos) ascending, positive activations only
    results = []
    for order, block in [
        (np.arange(len(doc)), 180),
        (np.arange(len(doc))[::-1], 7),
        (np.random.default_rng(1).permutation(len(doc)), 13),
    ]:
        acc = TopContexts(7, 5, 1)
        _feed(acc, feats, doc, pos, order, block)
        results.append(acc.result())
    for f in range(7):
        t = np.flatnonzero(feats[:, f] > 0)
        best = t[np.lexsort((pos[t], doc[t], -feats[t, f]))][:5]
        for res in results:
            assert res.doc_index[f].tolist() == doc[best].tolist()
            assert res.position[f].tolist() == pos[best].tolist()
            np.testing.assert_array_equal(res.activation[f], feats[best, f])
            assert (res.snippet[f][:, 0] == doc[best] * 100 + pos[best]).all()


def test_state_does_not_grow_with_the_corpus():
    sizes = []
    for n_docs in (20, 200):  # 1x and 10x the documents
        feats, doc, pos = _planted_blocks(n_docs, 9, seed=3)
        acc = TopContexts(9, 4, 2)
        before = acc.state_nbytes
        _feed(acc, feats, doc, pos, np.arange(len(doc)), 60)
        sizes.append((before, acc.state_nbytes, acc.activation.shape, acc.snippet.shape))
    assert sizes[0] == sizes[1]
    assert sizes[0][1] == 9 * 4 * (4 + 8 + 8 + 5 * 8)  # F x N x (float32, 2 int64, 2W+1 int64)


def test_snippet_ids_pad_outside_the_document():
    content = np.array([[10, 11, 12, -1], [20, 21, 22, 23]])
    got = snippet_ids(content, np.array([0, 1, 1]), np.array([0, 3, 1]), 2)
    assert got.tolist() == [[-1, -1, 10, 11, 12], [21, 22, 23, -1, -1], [-1, 20, 21, 22, 23]]


@pytest.mark.parametrize("n_top", [1, 3])
def test_only_positive_activations_are_kept(n_top):
    acc = TopContexts(2, n_top, 0)
    feats = torch.tensor([[0.0, 2.0], [0.0, -1.0]])
    acc.add(feats, np.array([0, 0]), np.array([0, 1]), lambda t: np.zeros((len(t), 1)))
    res = acc.result()
    assert np.isnan(res.activation[0]).all() and (res.doc_index[0] == -1).all()
    assert res.activation[1, 0] == 2.0 and np.isnan(res.activation[1, 1:]).all()


def test_result_keeps_the_window():
    assert TopContexts(3, 2, window=4).result().window == 4


def test_contexts_hook_feeds_each_block_its_own_tokens():
    """chunk_firings' on_block(start, stop, feats) covers chunks start..stop: the hook must
    hand TopContexts those chunks' tokens. Two chunks of 2 tokens (documents 5 and 8), the
    second block (chunk 1) fires on its second token: document 8, content position 3."""
    from concept_geometry.features.extract import _contexts_hook

    acc = TopContexts(1, 1, window=1)
    content_ids = np.array([[10, 11, 12, 13]])
    hook = _contexts_hook(
        acc,
        tok_doc=np.array([5, 5, 8, 8]),
        tok_row=np.array([0, 0, 0, 0]),
        tok_pos=np.array([0, 1, 2, 3]),
        content_ids=content_ids,
        chunk_size=2,
    )
    hook(1, 2, torch.tensor([[0.0], [2.5]]))
    res = acc.result()
    assert res.activation.tolist() == [[2.5]]
    assert res.doc_index.tolist() == [[8]] and res.position.tolist() == [[3]]
    assert res.snippet.tolist() == [[[12, 13, -1]]]


def test_token_strings_index_a_vocabulary_and_keep_minus_one_for_no_token():
    """ids 7, 3 and -1 (no token): vocabulary [t3, t7], snippets index into it, -1 stays."""
    from types import SimpleNamespace

    tok = SimpleNamespace(convert_ids_to_tokens=lambda ids: [f"t{i}" for i in ids])
    vocab, index = token_strings(tok, np.array([[[-1, 7, 3], [3, -1, -1]]]))
    assert vocab.tolist() == ["t3", "t7"]
    assert index.tolist() == [[[-1, 1, 0], [0, -1, -1]]] and index.dtype == np.int32


def test_a_table_nothing_entered_is_all_empty_slots():
    """2 features × 3 slots, window 1, no block added: NaN activations and -1 everywhere."""
    res = TopContexts(2, 3, 1).result()
    assert np.isnan(res.activation).all() and res.activation.shape == (2, 3)
    assert res.doc_index.tolist() == [[-1] * 3] * 2 and res.doc_index.dtype == np.int64
    assert res.position.tolist() == [[-1] * 3] * 2 and res.position.dtype == np.int64
    assert res.snippet.shape == (2, 3, 3) and (res.snippet == -1).all() and res.window == 1


def test_content_ids_are_left_aligned_and_other_columns_have_position_minus_one():
    """Row 0: BOS (not content), ids 7 and 8, padding; row 1: id 9 only."""
    from concept_geometry.features.contexts import content_ids_of

    ids = np.array([[2, 7, 8, 0], [2, 9, 0, 0]])
    keep = np.array([[0, 1, 1, 0], [0, 1, 0, 0]])
    content, pos = content_ids_of(ids, keep)
    assert content.tolist() == [[7, 8, -1, -1], [9, -1, -1, -1]]
    assert pos.tolist() == [[-1, 0, 1, -1], [-1, 0, -1, -1]]
