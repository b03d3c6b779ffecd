"""Alignment stage (Jiang et al. 2024 §5, spec §3): pair filter, matrix loading, directions,
inner products, tied detection and the toy-LM text sampler, each checked against planted
structure, closed forms or hand-made cases."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from tiny_models import make_tiny_gemma2, make_tiny_llama, make_word_tokenizer

from concept_geometry.alignment import checks, geometry, matrices, pairs, toy_lm
from concept_geometry.errors import ConfigError, InputDataError
from concept_geometry.simulation import dag as dagmod
from concept_geometry.simulation.dag import concept_vectors, joint_distribution, random_dag

WORDS = ["actor", "actress", "king", "queen", "he", "his", "ice", "cream"]


# --- pair filter -------------------------------------------------------------------------


def test_pair_filter_hand_made_cases():
    tok = make_word_tokenizer(WORDS)  # ids: <pad>0 <unk>1 <s>2 </s>3 actor4 actress5 king6 ...
    concepts = [
        pairs.Concept(
            "gender",
            (
                ("actor", "actress"),
                ("king", "queen"),
                ("king", "king"),
                ("ice cream", "queen"),
                ("actor", "zebra"),
            ),
        )
    ]
    frame = pairs.filter_pairs(tok, concepts)
    assert list(frame.columns) == pairs.PAIR_COLUMNS
    assert frame["kept"].tolist() == [True, True, False, False, False]
    assert frame["reason"].tolist() == [
        "kept",
        "kept",
        "same_id",
        "base:multi_token(2)",
        "target:unknown_token",
    ]
    assert frame["base_id"].tolist()[:3] == [4, 6, 6]
    assert frame["target_id"].tolist()[:3] == [5, 7, 6]
    assert frame["base_id"].tolist()[3] == -1


def test_pair_filter_without_bos():
    concepts = [pairs.Concept("c", (("actor", "actress"),))]
    no_bos_added = make_word_tokenizer(WORDS, add_bos=False)
    strict = pairs.filter_pairs(no_bos_added, concepts, require_bos=True)
    assert strict["reason"].tolist() == ["base:no_bos;target:no_bos"]
    relaxed = pairs.filter_pairs(no_bos_added, concepts, require_bos=False)
    assert relaxed["kept"].tolist() == [True] and relaxed["base_id"].tolist() == [4]
    no_bos_token = toy_lm.build_word_tokenizer(
        ["<pad>", "<unk>", "</s>", "actor", "actress"], bos=None
    )
    with pytest.raises(
        ConfigError,
        match=r"^Invalid config: key `alignment\.models\[\]\.require_bos` "
        r"is true but the tokenizer has no BOS token",
    ):
        pairs.filter_pairs(no_bos_token, concepts, require_bos=True)
    assert pairs.filter_pairs(no_bos_token, concepts, require_bos=False)["target_id"].tolist() == [
        4
    ]


def test_word_pair_files_round_trip_and_errors(tmp_path):
    concepts = [
        pairs.Concept("b_concept", (("a", "b"),)),
        pairs.Concept("a_concept", (("c", "d"), ("e", "f"))),
    ]
    pairs.write_concepts(tmp_path / "c", concepts)
    back = pairs.read_concepts(tmp_path / "c")
    assert back == concepts  # file order (NN_ prefix) is the concept order, not the name
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "01_x.txt").write_text("only-one-column\n")
    with pytest.raises(InputDataError, match="line 1"):
        pairs.read_concepts(tmp_path / "bad")
    with pytest.raises(InputDataError, match="no `\\*.txt`"):
        pairs.read_concepts(tmp_path / "missing")


def test_vendored_park_lists(root):
    concepts = pairs.read_concepts(root / "config" / "concepts")
    assert len(concepts) == 27
    assert concepts[0].name == "verb_3pSg" and concepts[-1].name == "German_Spanish"
    assert ("he", "his") in concepts[16].pairs
    assert sum(len(c.pairs) for c in concepts) == 2024


def test_duplicate_pairs_are_kept_and_flagged(root):
    """Issue 13 §6: repeated lines stay (Park's code keeps them: its pair counts must match)
    and pairs.tsv flags each repeat; the vendored lists repeat 1, 2 and 22 pairs in files
    25-27 (counted by hand with `sort | uniq -d`)."""
    tok = make_word_tokenizer(WORDS)
    concepts = [
        pairs.Concept(
            "g",
            (("actor", "actress"), ("king", "queen"), ("actor", "actress"), ("actor", "actress")),
        ),
        pairs.Concept("h", (("actor", "actress"),)),
    ]  # same pair, other concept: not a repeat
    frame = pairs.filter_pairs(tok, concepts)
    assert frame["duplicate"].tolist() == [False, False, True, True, False]
    assert frame["kept"].all()
    vendored = pairs.read_concepts(root / "config" / "concepts")
    words = sorted({w for c in vendored for pair in c.pairs for w in pair})
    frame = pairs.filter_pairs(make_word_tokenizer(words), vendored)
    assert len(frame) == 2024
    repeats = frame.groupby("concept")["duplicate"].sum()
    assert repeats[repeats > 0].to_dict() == {
        "French_German": 1,
        "French_Spanish": 2,
        "German_Spanish": 22,
    }


def test_ids_without_a_matrix_row_are_dropped_as_out_of_range():
    """A matrix of n rows has ids 0..n-1: a kept pair with base or target id == n (the first
    id past the end) or larger is dropped with reason ``id_out_of_range``; id n-1 stays; an
    already dropped pair keeps its own reason; the input frame is not modified."""
    n = 10
    frame = pd.DataFrame(
        {
            "concept": ["c"] * 6,
            "base_id": [3, 3, n, 3, 12, -1],
            "target_id": [n - 1, n, 4, 11, 13, n],
            "kept": [True, True, True, True, True, False],
            "reason": ["kept"] * 5 + ["base:multi_token(2)"],
        }
    )
    before = frame.copy()
    out = pairs.drop_out_of_range(frame, n)
    assert out["kept"].tolist() == [True, False, False, False, False, False]
    assert out["reason"].tolist() == ["kept"] + ["id_out_of_range"] * 4 + ["base:multi_token(2)"]
    pd.testing.assert_frame_equal(frame, before)


def test_byte_order_mark_is_not_part_of_the_first_word(tmp_path):
    """Issue 13 §6: a UTF-8 BOM made the first base word unknown (`base:unknown_token`)."""
    path = tmp_path / "01_g.txt"
    path.write_bytes("\ufeffactor\tactress\nking\tqueen\n".encode("utf-8"))
    concept = pairs.read_word_pairs(path)
    assert concept.pairs == (("actor", "actress"), ("king", "queen"))
    assert pairs.filter_pairs(make_word_tokenizer(WORDS), [concept])["kept"].all()
    path.write_bytes(b"caf\xe9\tcafes\n")
    with pytest.raises(InputDataError, match="not UTF-8"):
        pairs.read_word_pairs(path)


# --- directions and inner products --------------------------------------------------------


def _planted_model(path, tied=False, seed=0, d=32):
    """Tiny Llama whose matrices carry planted concept directions.

    Concepts 0-2: the same unit direction in both matrices; concept 3: orthogonal ones.
    target row = base row + 2 * direction exactly, so each mean difference is 2 * direction.
    """
    words = [f"w{i}" for i in range(40)]
    tok = make_word_tokenizer(words)
    model = make_tiny_llama(path, tok, hidden=d, tied=tied, seed=seed)
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    emb_dirs = q[:, :4].T
    unemb_dirs = np.stack([q[:, 0], q[:, 1], q[:, 2], q[:, 10]])
    concepts, cid = [], 4  # first word id
    e = model.get_input_embeddings().weight.detach().numpy().copy()
    u = model.get_output_embeddings().weight.detach().numpy().copy()
    for c in range(4):
        ps = []
        for _ in range(4):
            b, t = cid, cid + 1
            e[t] = e[b] + 2 * emb_dirs[c]
            u[t] = u[b] + 2 * unemb_dirs[c]
            ps.append((f"w{b - 4}", f"w{t - 4}"))
            cid += 2
        concepts.append(pairs.Concept(f"concept{c}", tuple(ps)))
    with torch.no_grad():
        model.get_input_embeddings().weight.copy_(torch.from_numpy(e))
        if not tied:
            model.get_output_embeddings().weight.copy_(torch.from_numpy(u))
    model.save_pretrained(str(path))
    return model, tok, concepts, emb_dirs, unemb_dirs


def test_planted_directions_are_recovered(tmp_path):
    model, tok, concepts, emb_dirs, unemb_dirs = _planted_model(tmp_path / "m")
    mats = matrices.load_embedding_matrices(str(tmp_path / "m"))
    assert not mats.tied and mats.source == "safetensors"
    frame = pairs.filter_pairs(tok, concepts)
    assert frame["kept"].all()
    cand = np.arange(4, len(tok))
    res = geometry.analyse(
        mats.embedding, mats.unembedding, mats.tied, frame, cand, np.random.default_rng(0)
    )
    np.testing.assert_allclose(res.directions["embedding"], emb_dirs, atol=1e-5)
    np.testing.assert_allclose(res.directions["unembedding"], unemb_dirs, atol=1e-5)
    np.testing.assert_allclose(res.alignment, emb_dirs @ unemb_dirs.T, atol=1e-5)
    summary = geometry.summarise(res, frame, mats.tied)
    assert summary["diag_mean"] == pytest.approx(0.75, abs=1e-5)  # 1, 1, 1, 0
    assert summary["diag_mean_abs"] == pytest.approx(0.75, abs=1e-5)
    assert summary["diag_row_max"] == 3  # concept3's row: 0 on the diagonal, 0 elsewhere too
    assert summary["offdiag_mean_abs"] == pytest.approx(0.0, abs=1e-5)
    assert summary["orth_mean_abs"]["embedding"]["euclidean"] == pytest.approx(0.0, abs=1e-5)
    assert summary["n_pairs_kept"] == 16 and summary["tied"] is False
    table = geometry.alignment_table(res)
    assert len(table) == 16
    row = table[(table.concept_embedding == "concept3") & (table.concept_unembedding == "concept3")]
    assert row["cos"].iloc[0] == pytest.approx(0.0, abs=1e-5)
    orth = geometry.orthogonality_table(res)
    # (2 spaces x 4 inner products + causal_dual in the embedding space) x (4 choose 2)
    assert len(orth) == 9 * 6


def test_concept_directions_brute_force():
    rng = np.random.default_rng(1)
    m = rng.standard_normal((20, 5))
    b, t, c = np.array([0, 1, 2, 3]), np.array([4, 5, 6, 7]), np.array([0, 0, 2, 2])
    got = geometry.concept_directions(m, b, t, c, 3)
    for k, (_i, _j) in {0: (0, 1), 2: (2, 3)}.items():
        mean = (
            ((m[4] - m[0]) + (m[5] - m[1])) / 2 if k == 0 else ((m[6] - m[2]) + (m[7] - m[3])) / 2
        )
        np.testing.assert_allclose(got[k], mean / np.linalg.norm(mean))
    assert np.isnan(got[1]).all()  # a concept without pairs
    # pairs that cancel (a -> b and b -> a): zero mean difference, NaN; no float warning
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = geometry.concept_directions(
            m, np.array([0, 4, 1]), np.array([4, 0, 2]), np.array([0, 0, 1]), 3
        )
    assert np.isnan(got[0]).all() and np.isnan(got[2]).all()
    np.testing.assert_allclose(got[1], (m[2] - m[1]) / np.linalg.norm(m[2] - m[1]))


def test_causal_inner_product_closed_form():
    rng = np.random.default_rng(2)
    d = 6
    gamma = rng.standard_normal((500, d)) @ rng.standard_normal((d, d)) + 3.0
    a, b = rng.standard_normal((3, d)), rng.standard_normal((4, d))
    metric = np.linalg.inv(np.cov(gamma.T, bias=True))
    expect = (a @ metric @ b.T) / np.sqrt(
        np.einsum("id,de,ie->i", a, metric, a)[:, None]
        * np.einsum("id,de,ie->i", b, metric, b)[None, :]
    )
    got = geometry.cosine_matrix(a, b, geometry.causal_transform(gamma))
    np.testing.assert_allclose(got, expect, atol=1e-8)
    # vocab < d: the pseudo-inverse is exact for differences of rows (they lie in the span)
    small = rng.standard_normal((5, 12))
    diffs = small[1:] - small[:1]
    pinv = np.linalg.pinv(np.cov(small.T, bias=True), hermitian=True)
    n = np.sqrt(np.einsum("id,de,ie->i", diffs, pinv, diffs))
    expect = (diffs @ pinv @ diffs.T) / np.outer(n, n)
    got = geometry.cosine_matrix(diffs, diffs, geometry.causal_transform(small))
    np.testing.assert_allclose(got, expect, atol=1e-6)


def test_random_inner_product_is_seeded_and_valid():
    a = np.eye(4)
    t1 = geometry.random_transform(4, np.random.default_rng(5))
    t2 = geometry.random_transform(4, np.random.default_rng(5))
    np.testing.assert_array_equal(t1, t2)
    cos = geometry.cosine_matrix(a, a, t1)
    np.testing.assert_allclose(np.diag(cos), 1.0)
    assert np.abs(cos - np.eye(4)).max() > 1e-3  # not the Euclidean one


def test_random_pair_baseline_near_zero_for_unrelated_matrices():
    rng = np.random.default_rng(3)
    d = 256
    e, u = rng.standard_normal((400, d)), rng.standard_normal((400, d))
    cos = geometry.random_pair_alignment(e, u, np.arange(400), np.array([10, 20, 30]), 20, rng)
    assert cos.shape == (60,)
    assert np.abs(cos).mean() < 3 / np.sqrt(d)
    same = geometry.random_pair_alignment(e, e, np.arange(400), np.array([5]), 3, rng)
    np.testing.assert_allclose(same, 1.0)


# --- matrix loading ------------------------------------------------------------------------


def test_safetensors_fast_path_equals_full_model(tmp_path):
    tok = make_word_tokenizer(WORDS)
    model = make_tiny_llama(tmp_path / "single", tok, hidden=16)
    e = model.get_input_embeddings().weight.detach().numpy()
    u = model.get_output_embeddings().weight.detach().numpy()
    single = matrices.read_safetensors_matrices(tmp_path / "single")
    assert single.source == "safetensors" and not single.tied
    assert single.names == ("model.embed_tokens.weight", "lm_head.weight")
    np.testing.assert_array_equal(single.embedding, e)
    np.testing.assert_array_equal(single.unembedding, u)
    model.save_pretrained(str(tmp_path / "sharded"), max_shard_size="4KB")
    assert (tmp_path / "sharded" / matrices.INDEX_FILE).exists()
    # The index file says which shard holds each matrix; only those shards are read (delete
    # every other shard: the fast path must not need them).
    import json

    index = json.loads((tmp_path / "sharded" / matrices.INDEX_FILE).read_text())["weight_map"]
    needed = {index["model.embed_tokens.weight"], index["lm_head.weight"]}
    shards = set(index.values())
    assert len(needed) == 2 and len(shards) > 2  # the two matrices sit in different shards
    for other in shards - needed:
        (tmp_path / "sharded" / other).unlink()
    sharded = matrices.load_embedding_matrices(str(tmp_path / "sharded"))
    assert sharded.source == "safetensors" and not sharded.tied
    np.testing.assert_array_equal(sharded.embedding, e)
    np.testing.assert_array_equal(sharded.unembedding, u)
    # no safetensors: the full-model fallback reads the same matrices
    fallback = tmp_path / "bin"
    model.save_pretrained(str(fallback))
    tok.save_pretrained(str(fallback))
    (fallback / "model.safetensors").unlink()
    torch.save(model.state_dict(), fallback / "pytorch_model.bin")
    assert matrices.read_safetensors_matrices(fallback) is None
    full = matrices.load_embedding_matrices(str(fallback))
    assert full.source == "model" and not full.tied
    np.testing.assert_array_equal(full.embedding, e)
    np.testing.assert_array_equal(full.unembedding, u)


def test_tied_models_are_reported_as_tied(tmp_path):
    tok = make_word_tokenizer(WORDS)
    make_tiny_llama(tmp_path / "llama", tok, hidden=16, tied=True)
    make_tiny_gemma2(tmp_path / "gemma", tok, hidden=32)
    for name in ("llama", "gemma"):
        mats = matrices.load_embedding_matrices(str(tmp_path / name))
        assert mats.tied, name
    _, tok, concepts, _, _ = _planted_model(tmp_path / "planted_tied", tied=True)
    mats = matrices.load_embedding_matrices(str(tmp_path / "planted_tied"))
    frame = pairs.filter_pairs(tok, concepts)
    res = geometry.analyse(
        mats.embedding,
        mats.unembedding,
        mats.tied,
        frame,
        np.arange(4, len(tok)),
        np.random.default_rng(0),
    )
    assert res.alignment is None
    summary = geometry.summarise(res, frame, True)
    assert summary["tied"] and summary["diag_mean"] is None
    assert summary["random_pairs_mean_abs"] is None and "tied" in summary["note"]
    assert geometry.alignment_table(res).empty
    rows = alignment_rows("x", summary).set_index("quantity")
    assert rows.loc["tied", "value"] == 1 and np.isnan(rows.loc["diag_mean", "value"])
    assert np.isnan(rows.loc["diag_stands_out", "value"])  # no verdict when tied, not 0


def test_missing_hub_model_fails_fast_with_local_path_hint(monkeypatch):
    import time

    from concept_geometry.errors import MissingResourceError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.time()
    with pytest.raises(MissingResourceError, match="local"):
        matrices.load_embedding_matrices(
            "meta-llama/Llama-2-7b-hf", "alignment.models[llama-2-7b].path"
        )
    assert time.time() - start < 30


# --- toy model text -----------------------------------------------------------------------


def test_toy_sampler_matches_the_exact_conditional():
    m = 4
    dag = random_dag(m, 0.5, np.random.default_rng(0))
    joint = joint_distribution(dag)
    text = toy_lm.make_toy_text(
        dag,
        dict(output_frac=0.5, fillers=10, word_context_prob=0.3, filler_prob=0.25),
        np.random.default_rng(2),
    )
    vocab = text.vocab
    assert len(vocab.outputs) == 8 and vocab.size == 4 + 8 + 8 + 10
    ids, pos, ctx, p_next = toy_lm.sample_batch(text, 600, np.random.default_rng(1))
    cv = concept_vectors(m)
    words = vocab.words
    in_vocab = np.isin(np.arange(2**m), vocab.outputs)
    filler = np.array([words[ids[r, 1]].startswith("f") for r in range(len(ids))])
    assert 0.18 < filler.mean() < 0.32  # filler_prob
    for r in range(ids.shape[0]):
        toks = [words[i] for i in ids[r, 1 : pos[r] + 1]]
        assert ids[r, 0] == toy_lm.BOS and (ids[r, pos[r] + 1 :] == toy_lm.PAD).all()
        if filler[r]:
            assert pos[r] == 1 and (ctx[r] == -1).all()
            a = int(toks[0][1:])
            expect = np.zeros(vocab.size)
            expect[vocab.filler_offset :] = text.filler_next[a]
            np.testing.assert_allclose(p_next[r], expect)
            continue
        known = {}
        for w in toks:
            if w.startswith("y_"):
                known.update({i: int(b) for i, b in enumerate(w[2:])})
            else:
                i, v = w[1:].split("_")
                known[int(i)] = int(v)
        assert {i: int(ctx[r, i]) for i in range(m) if ctx[r, i] >= 0} == known
        # brute force p(y | known): joint restricted to the vocabulary's concept words and to
        # the vectors agreeing with the context, renormalised; nothing on other words
        agree = np.array([all(c[i] == v for i, v in known.items()) for c in cv]) & in_vocab
        expect = np.zeros(vocab.size)
        for y in np.flatnonzero(agree):
            expect[vocab.output_id(y)] = joint[y]
        np.testing.assert_allclose(p_next[r], expect / expect.sum())
    as_word = np.array([words[ids[r, 1]].startswith("y_") for r in range(len(ids))])
    assert 0.15 < as_word.mean() < 0.3  # word_context_prob x (1 - filler_prob)
    assert set(pos[~as_word & ~filler]) == set(range(m + 1))  # every core size occurs


def test_toy_concepts_differ_in_one_concept():
    full = toy_lm.toy_concepts(toy_lm.ToyVocabulary(3, tuple(range(8)), 0))
    assert [c.name for c in full] == ["c0", "c1", "c2"]
    assert [len(c.pairs) for c in full] == [4, 4, 4]
    # concept words 000 001 011 101 110: hand-listed pairs per concept
    part = toy_lm.toy_concepts(toy_lm.ToyVocabulary(3, (0, 1, 3, 5, 6), 4))
    assert [set(c.pairs) for c in part] == [
        {("y_001", "y_101")},
        {("y_001", "y_011")},
        {("y_000", "y_001")},
    ]
    for i, c in enumerate(full + part):
        for base, target in c.pairs:
            diff = [k for k in range(3) if base[2 + k] != target[2 + k]]
            assert diff == [i % 3] and base[2 + i % 3] == "0" and target[2 + i % 3] == "1"


def test_toy_training_learns_and_saves(tmp_path):
    cfg = dict(
        m=3,
        edge_prob=0.5,
        d_model=16,
        layers=1,
        heads=2,
        intermediate=32,
        steps=60,
        batch_size=64,
        lr=1e-2,
        init_std=0.02,
        word_context_prob=0.3,
        targets="exact",
        log_every=20,
        eval_batch=256,
        output_frac=0.5,
        fillers=12,
        filler_prob=0.3,
    )
    toy = toy_lm.train_toy_lm(cfg, seed=0, progress=False)
    assert toy.history["kl_to_exact"].iloc[-1] < toy.history["kl_to_exact"].iloc[0]
    toy_lm.save_toy_lm(toy, tmp_path / "toy")
    mats = matrices.load_embedding_matrices(str(tmp_path / "toy"))
    assert not mats.tied and mats.embedding.shape == (4 + 6 + 4 + 12, 16)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tmp_path / "toy"))
    concepts = toy_lm.toy_concepts(toy.text.vocab)
    frame = pairs.filter_pairs(tok, concepts)
    assert frame["kept"].all() and len(frame) == sum(len(c.pairs) for c in concepts) >= 3
    saved = json.loads((tmp_path / "toy" / "dag.json").read_text())
    assert saved["m"] == 3
    # the saved law is the trained one: the DAG rebuilt from the file has the same joint
    back = dagmod.Dag(
        saved["m"], [tuple(p) for p in saved["parents"]], [np.asarray(c) for c in saved["cpts"]]
    )
    np.testing.assert_array_equal(joint_distribution(back), joint_distribution(toy.dag))


# --- config --------------------------------------------------------------------------------


def _cfg(models, **toy):
    base = dict(d_model=64, heads=4)
    base.update(toy)
    return {"alignment": {"models": models, "toy": base}}


def test_config_checks():
    ok = [{"name": "toy", "path": "train"}, {"name": "l", "path": "x/y", "concepts": "c"}]
    checks.check_alignment_config(_cfg(ok))
    with pytest.raises(ConfigError, match="more than once"):
        checks.check_alignment_config(_cfg([ok[0], dict(ok[0])]))
    with pytest.raises(ConfigError, match="concepts"):
        checks.check_alignment_config(_cfg([{"name": "t", "path": "train", "concepts": "c"}]))
    with pytest.raises(ConfigError, match="divide"):
        checks.check_alignment_config(_cfg(ok, heads=5))
    with pytest.raises(
        ConfigError,
        match=r"`alignment.toy.d_model / heads` = 3 is odd; "
        r"Llama's rotary embedding needs an even head size",
    ):
        checks.check_alignment_config(_cfg(ok, d_model=24, heads=8))
    checks.check_alignment_config(_cfg(ok, d_model=24, heads=6))  # head size 4
    # the toy section is only checked when a model is trained from it
    checks.check_alignment_config(_cfg([ok[1]], heads=5))
    with pytest.raises(ConfigError, match="alignment.toy.fillers"):
        checks.check_alignment_config(_cfg(ok, fillers=0, filler_prob=0.3))
    checks.check_alignment_config(_cfg(ok, fillers=0, filler_prob=0.0))
    # m = 2 with 2 of 4 concept words: no subset gives both concepts a pair
    with pytest.raises(ConfigError, match="alignment.toy.output_frac"):
        toy_lm.choose_outputs(2, 0.5, np.random.default_rng(0))


def test_dual_causal_inner_product_closed_form():
    rng = np.random.default_rng(4)
    d = 5
    gamma = rng.standard_normal((300, d)) @ rng.standard_normal((d, d))
    a = rng.standard_normal((3, d))
    metric = np.cov(gamma.T, bias=True)
    n = np.sqrt(np.einsum("id,de,ie->i", a, metric, a))
    expect = (a @ metric @ a.T) / np.outer(n, n)
    got = geometry.cosine_matrix(a, a, geometry.causal_transform(gamma, dual=True))
    np.testing.assert_allclose(got, expect, atol=1e-8)


def test_each_covariance_is_eigendecomposed_once_and_serves_causal_and_dual(monkeypatch):
    """``inner_product_transforms`` decomposes Cov(γ) of the unembedding once for both the
    unembedding's ``causal`` and the embedding side's ``causal_dual`` (and a tied model's one
    matrix once in all), with transforms equal, bit for bit, to separate ``causal_transform``
    calls; and those match the closed forms Cov^-1/2 and Cov^1/2 (np.cov, 1e-8)."""
    rng = np.random.default_rng(8)
    d = 6
    emb = rng.standard_normal((200, d)) @ rng.standard_normal((d, d))
    unemb = rng.standard_normal((200, d)) @ rng.standard_normal((d, d))
    calls = []
    real = geometry.covariance_eigh
    monkeypatch.setattr(geometry, "covariance_eigh", lambda m: calls.append(m) or real(m))
    got = geometry.inner_product_transforms(emb, unemb, np.random.default_rng(0), 0.0)
    assert len(calls) == 2
    np.testing.assert_array_equal(got[("unembedding", "causal")], geometry.causal_transform(unemb))
    np.testing.assert_array_equal(got[("embedding", "causal")], geometry.causal_transform(emb))
    np.testing.assert_array_equal(
        got[("embedding", "causal_dual")], geometry.causal_transform(unemb, dual=True)
    )
    vals, vecs = np.linalg.eigh(np.cov(unemb.T, bias=True))
    np.testing.assert_allclose(
        got[("unembedding", "causal")], (vecs / np.sqrt(vals)) @ vecs.T, atol=1e-8
    )
    np.testing.assert_allclose(
        got[("embedding", "causal_dual")], (vecs * np.sqrt(vals)) @ vecs.T, atol=1e-8
    )
    calls.clear()
    tied = geometry.inner_product_transforms(unemb, unemb.copy(), np.random.default_rng(0), 0.0)
    assert len(calls) == 1
    np.testing.assert_array_equal(tied[("embedding", "causal")], tied[("unembedding", "causal")])


# --- issue 14: inner products per space, Park's random M, the diagonal's null, a toy that can fail


def _anisotropic_pairs(rng, vocab=300, d=8, k=5, per=6):
    """Anisotropic embedding and unembedding (different covariances) and a pairs frame."""
    emb = rng.standard_normal((vocab, d)) @ (
        rng.standard_normal((d, d)) * np.exp(rng.uniform(-2, 2, d))
    )
    unemb = rng.standard_normal((vocab, d)) @ (
        rng.standard_normal((d, d)) * np.exp(rng.uniform(-2, 2, d))
    )
    ids = rng.permutation(vocab)[: 2 * k * per].reshape(k * per, 2)
    frame = pd.DataFrame(
        {
            "concept": np.repeat([f"c{i}" for i in range(k)], per),
            "base_id": ids[:, 0],
            "target_id": ids[:, 1],
            "kept": True,
            "reason": "kept",
        }
    )
    return emb, unemb, frame


def _closed_form_cos(x, metric):
    n = np.sqrt(np.einsum("id,de,ie->i", x, metric, x))
    return (x @ metric @ x.T) / np.outer(n, n)


def test_every_orthogonality_entry_against_its_closed_form():
    """causal = x^T Cov^-1 y with Cov from *that space's* matrix; causal_dual = x^T Cov(γ) y
    (embedding only); random_gaussian = x^T A^T A y with A the first draw of the seed's rng."""
    rng = np.random.default_rng(11)
    emb, unemb, frame = _anisotropic_pairs(rng)
    res = geometry.analyse(emb, unemb, False, frame, np.arange(300), np.random.default_rng(5))
    assert set(res.orthogonality) == {
        (s, ip)
        for s in geometry.SPACES
        for ip in ("euclidean", "causal", "random_park", "random_gaussian")
    } | {("embedding", "causal_dual")}
    d = emb.shape[1]
    a_gauss = np.random.default_rng(5).standard_normal((d, d)) / np.sqrt(d)
    mats = {"embedding": emb, "unembedding": unemb}
    for (space, ip), got in res.orthogonality.items():
        x = res.directions[space]
        metric = {
            "euclidean": np.eye(d),
            "causal": np.linalg.inv(np.cov(mats[space].T, bias=True)),
            "causal_dual": np.cov(unemb.T, bias=True),
            "random_gaussian": a_gauss.T @ a_gauss,
        }.get(ip)
        if metric is None:  # random_park: its own re-derivation test below
            continue
        np.testing.assert_allclose(
            got, _closed_form_cos(x, metric), atol=1e-8, err_msg=f"{space} {ip}"
        )
    # the spec's embedding-space causal product is not its dual (anisotropic matrices)
    diff = np.abs(
        res.orthogonality[("embedding", "causal")] - res.orthogonality[("embedding", "causal_dual")]
    )
    assert diff.max() > 0.1


def test_park_random_inner_product_rederived_float32():
    """Follows KihoPark/linear_rep_geometry 2_heatmap.ipynb cell 1: torch.manual_seed(100);
    another_g = concept_gamma @ torch.abs(torch.randn(d, d)); cosine_similarity of its rows
    (float32 throughout, as there)."""
    from torch.nn.functional import cosine_similarity

    rng = np.random.default_rng(12)
    emb, unemb, frame = _anisotropic_pairs(rng, d=16)
    res = geometry.analyse(emb, unemb, False, frame, np.arange(300), np.random.default_rng(0))
    for space in geometry.SPACES:
        concept_gamma = torch.from_numpy(res.directions[space].astype(np.float32))
        with torch.random.fork_rng():
            torch.manual_seed(100)
            another = concept_gamma @ torch.abs(torch.randn(16, 16))
        park = cosine_similarity(another.unsqueeze(1), another.unsqueeze(0), dim=-1).numpy()
        np.testing.assert_allclose(res.orthogonality[(space, "random_park")], park, atol=2e-6)
    # positive entries: orthonormal directions map to rows of |N(0,1)|, whose cosine tends to
    # E|z|^2 / E z^2 = 2/pi; the Gaussian metric leaves them at E|cos| ~ sqrt(2 / (pi d))
    d = 400
    park = geometry.offdiag(
        geometry.cosine_matrix(np.eye(d), np.eye(d), geometry.park_random_transform(d))
    )
    gauss = geometry.offdiag(
        geometry.cosine_matrix(
            np.eye(d), np.eye(d), geometry.random_transform(d, np.random.default_rng(0))
        )
    )
    assert np.abs(park).mean() == pytest.approx(2 / np.pi, abs=0.02)
    assert np.abs(gauss).mean() == pytest.approx(np.sqrt(2 / (np.pi * d)), rel=0.05)


def test_diagonal_statistics_and_null_verdict_by_hand():
    align = np.array([[-0.9, 0.1, 0.95], [0.2, 0.5, -0.1], [0.0, 0.3, 0.2]])
    mean_abs, row_max = geometry.diagonal_stats(align)
    assert mean_abs == pytest.approx((0.9 + 0.5 + 0.2) / 3) and row_max == 1  # row 1 only
    null = np.array(
        [0.1, 0.2, 0.3, 0.4] * 5
    )  # mean 0.25, sd (ddof 1) sqrt(0.1/0.95 * 0.5)... by hand:
    sd = np.sqrt(((null - 0.25) ** 2).sum() / 19)
    out = geometry.null_verdict(0.6, null)
    assert out["z"] == pytest.approx((0.6 - 0.25) / sd) and out["p"] == pytest.approx(1 / 21)
    assert out["verdict"] == "stands out"
    near = geometry.null_verdict(0.35, null)  # 5 draws at 0.4 >= 0.35: p = 6 / 21
    assert near["p"] == pytest.approx(6 / 21) and near["verdict"] == "does not stand out"
    # z > 3 but p not < 0.05 (too few draws beat): does not stand out
    assert geometry.null_verdict(0.6, null[:10])["verdict"] == "does not stand out"


def test_diagonal_null_matches_random_direction_law():
    """On i.i.d. Gaussian rows, cos of two independent directions in R^d has E|cos| =
    Γ(d/2) / (√π Γ((d+1)/2)); the null's diagonal mean |cos| averages k of them."""
    from math import gamma, pi, sqrt

    d, k = 64, 6
    b = np.arange(0, 2 * k * 4, 2)
    idx = np.repeat(np.arange(k), 4)
    means, row_max = geometry.diagonal_null(b, b + 1, idx, k, d, 400, np.random.default_rng(0))
    expect = gamma(d / 2) / (sqrt(pi) * gamma((d + 1) / 2))
    assert means.mean() == pytest.approx(expect, rel=0.05)
    assert row_max.mean() == pytest.approx(
        1.0, abs=0.2
    )  # each row's max is on the diagonal w.p. 1/k


def _summary_of_model(path, words, concepts, seed=0):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    mats = matrices.load_embedding_matrices(str(path))
    frame = pairs.filter_pairs(tok, concepts)
    res = geometry.analyse(
        mats.embedding,
        mats.unembedding,
        mats.tied,
        frame,
        np.arange(4, len(tok)),
        np.random.default_rng(seed),
    )
    return geometry.summarise(res, frame, mats.tied)


def test_random_weight_llama_diagonal_does_not_stand_out(tmp_path):
    words = [f"w{i}" for i in range(120)]
    tok = make_word_tokenizer(words)
    make_tiny_llama(tmp_path / "m", tok, hidden=32, seed=3)
    rng = np.random.default_rng(4)
    concepts = [
        pairs.Concept(
            f"c{c}", tuple((words[a], words[b]) for a, b in rng.permutation(120)[:10].reshape(5, 2))
        )
        for c in range(6)
    ]
    summary = _summary_of_model(tmp_path / "m", words, concepts)
    assert summary["diag_verdict"] == "does not stand out"
    assert summary["diag_null"]["draws"] == 20 and summary["diag_null"]["p"] >= 0.05
    rows = alignment_rows("x", summary).set_index("quantity")["value"]
    assert rows["diag_stands_out"] == 0 and rows["diag_null_p"] == summary["diag_null"]["p"]
    # the same model with the planted shared directions stands out
    _, tok2, planted, _, _ = _planted_model(tmp_path / "p")
    align = _summary_of_model(tmp_path / "p", None, planted)
    assert align["diag_verdict"] == "stands out" and align["diag_null"]["z"] > 3


def _planted_toy_unembedding(vocab, directions, rng, noise=0.02):
    """Unembedding of a toy layout: concept words linear in their concepts (rows c @ directions
    + a shared offset), fillers anisotropic Gaussian, every other row small noise."""
    d = directions.shape[1]
    u = noise * rng.standard_normal((vocab.size, d))
    cv = concept_vectors(vocab.m)[list(vocab.outputs)].astype(np.float64)
    u[vocab.output_offset : vocab.filler_offset] = cv @ directions + rng.standard_normal(d)
    if vocab.fillers:
        g = rng.standard_normal((d, d)) * np.exp(rng.uniform(-1, 1, d))
        u[vocab.filler_offset :] = rng.standard_normal((vocab.fillers, d)) @ g.T / np.sqrt(d)
    return u


def test_toy_layout_lets_causal_orthogonality_fail():
    """Plant concept directions 0 and 1 at Euclidean cos 0.87. In the redesigned layout
    (concept words a half of {0,1}^m, 256 fillers) the causal inner product must not call them
    orthogonal; in the old layout (the full factorial as the whole output vocabulary) Cov(γ)
    whitening makes them orthogonal whatever the planted angle."""
    m, d = 6, 64
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    dirs = q[:, :m].T.copy()
    dirs[1] = 0.87 * dirs[0] + np.sqrt(1 - 0.87**2) * dirs[1]

    def causal_cos(vocab):
        u = _planted_toy_unembedding(vocab, dirs, rng)
        ids = {w: i for i, w in enumerate(vocab.words)}
        concepts = toy_lm.toy_concepts(vocab)
        b = np.array([ids[x] for c in concepts for x, _ in c.pairs])
        t = np.array([ids[y] for c in concepts for _, y in c.pairs])
        idx = np.repeat(np.arange(m), [len(c.pairs) for c in concepts])
        got = geometry.concept_directions(u, b, t, idx, m)
        assert geometry.cosine_matrix(got, got)[0, 1] == pytest.approx(0.87)
        return geometry.cosine_matrix(got, got, geometry.causal_transform(u))[0, 1]

    new = toy_lm.ToyVocabulary(m, toy_lm.choose_outputs(m, 0.5, np.random.default_rng(1)), 256)
    assert new.size > 4 * d and len(new.outputs) == 32
    assert abs(causal_cos(new)) > 0.5
    old = toy_lm.ToyVocabulary(m, tuple(range(2**m)), 0)
    assert abs(causal_cos(old)) < 1e-8


def test_pair_files_round_trip_through_nested_folders_and_blank_lines(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "01_gender.txt").write_text("king\tqueen\n\nman\twoman\n", encoding="utf-8")
    concepts = pairs.read_concepts(tmp_path / "in")
    assert list(concepts[0].pairs) == [
        ("king", "queen"),
        ("man", "woman"),
    ]  # the blank line is skipped
    pairs.write_concepts(tmp_path / "a" / "b", concepts)
    assert pairs.read_concepts(tmp_path / "a" / "b")[0].pairs == concepts[0].pairs


def test_empty_concept_folder_names_the_config_key(tmp_path):
    with pytest.raises(InputDataError, match=r"\(config key `alignment.models\[\].concepts`\)"):
        pairs.read_concepts(tmp_path)


def test_a_word_without_own_tokens_has_no_token_id():
    assert pairs._single_token([], False, None, None) == (-1, "empty")
    assert pairs._single_token([2], True, 2, None) == (-1, "empty")


def test_alignment_checks_accept_a_config_without_the_section():
    checks.check_alignment_config({})


# --- issue 15: mutation-testing gaps (summary by hand, ridge, dtypes, key in errors) --------


def test_summary_of_a_hand_made_result():
    """Every number of summary.json for a 2-concept result built by hand."""
    result = geometry.AlignmentResult(
        concepts=["a", "b"],
        directions={},
        alignment=np.array([[0.8, -0.1], [0.3, -0.6]]),
        orthogonality={("embedding", "euclidean"): np.array([[1.0, -0.3], [-0.3, 1.0]])},
        random_pairs=np.array([-0.2, 0.4]),
        null_diag_mean_abs=np.array([0.1, 0.2, 0.3, 0.4]),
        null_diag_row_max=np.array([1, 2, 1, 0]),
    )
    frame = pd.DataFrame(
        {
            "concept": ["a", "a", "b", "c"],
            "kept": [True, True, True, False],
            "reason": ["kept", "kept", "kept", "same_id"],
        }
    )
    out = geometry.summarise(result, frame, False, extra_key=7)
    assert (
        out["n_pairs_total"],
        out["n_pairs_kept"],
        out["n_concepts"],
        out["n_concepts_used"],
    ) == (4, 3, 3, 2)
    assert out["concepts_without_pairs"] == ["c"]
    assert out["pairs_kept_per_concept"] == {"a": 2, "b": 1} and out["drop_reasons"] == {
        "same_id": 1
    }
    assert out["diag_mean_abs"] == pytest.approx(0.7) and out["diag_mean"] == pytest.approx(0.1)
    assert out["diag_min"] == pytest.approx(-0.6) and out["diag_row_max"] == 2
    assert out["offdiag_mean_abs"] == pytest.approx(0.2)
    sd = np.sqrt((0.15**2 + 0.05**2 + 0.05**2 + 0.15**2) / 3)  # ddof 1, by hand
    null = out["diag_null"]
    assert null["draws"] == 4 and null["mean_abs"] == pytest.approx(0.25)
    assert null["sd_abs"] == pytest.approx(sd) and null["row_max_mean"] == pytest.approx(1.0)
    assert null["z"] == pytest.approx((0.7 - 0.25) / sd) and null["p"] == pytest.approx(1 / 5)
    assert out["diag_verdict"] == "does not stand out"  # z > 3 but 4 draws cannot give p < 0.05
    assert out["random_pairs_mean_abs"] == pytest.approx(0.3)
    assert out["orth_mean_abs"]["embedding"]["euclidean"] == pytest.approx(0.3)
    assert out["orth_median_abs"]["embedding"]["euclidean"] == pytest.approx(0.3)
    assert out["tied"] is False and out["note"] == "" and out["extra_key"] == 7
    orth = geometry.orthogonality_table(result)
    assert orth.columns.tolist() == ["space", "inner_product", "concept_i", "concept_j", "abs_cos"]
    assert orth.values.tolist() == [["embedding", "euclidean", "a", "b", pytest.approx(0.3)]]
    rows = alignment_rows("m", dict(out, toy_kl_to_exact=0.02, toy_final_loss=None))
    toy = rows[rows["quantity"].str.startswith("toy_")].to_dict("records")
    assert toy == [
        dict(stage="alignment", quantity="toy_kl_to_exact", setting="", model="m", value=0.02)
    ]


def test_ridge_reaches_both_causal_inner_products():
    """ridge r adds r * mean eigenvalue = r tr(Cov) / d to every eigenvalue: the causal metric
    is (Cov + r tr(Cov)/d I)^-1, the dual one Cov(γ) + r tr(Cov(γ))/d I."""
    rng = np.random.default_rng(13)
    emb, unemb, frame = _anisotropic_pairs(rng)
    d, ridge = emb.shape[1], 0.5
    res = geometry.analyse(
        emb, unemb, False, frame, np.arange(300), np.random.default_rng(0), ridge=ridge
    )

    def shrunk(x):
        cov = np.cov(x.T, bias=True)
        return cov + ridge * np.trace(cov) / d * np.eye(d)

    for space, x in (("embedding", emb), ("unembedding", unemb)):
        np.testing.assert_allclose(
            res.orthogonality[(space, "causal")],
            _closed_form_cos(res.directions[space], np.linalg.inv(shrunk(x))),
            atol=1e-8,
            err_msg=space,
        )
    np.testing.assert_allclose(
        res.orthogonality[("embedding", "causal_dual")],
        _closed_form_cos(res.directions["embedding"], shrunk(unemb)),
        atol=1e-8,
    )


def test_null_verdict_computes_in_double_precision():
    """A float32 null near 1e4 (10000 + k / 1024, k = 0..19, exact in float32): mean 10000 +
    9.5 / 1024, sd (ddof 1) sqrt(35) / 1024; float32 arithmetic would be off by ~0.4 %."""
    null = (np.float32(10000.0) + np.arange(20, dtype=np.float32) / np.float32(1024)).astype(
        np.float32
    )
    out = geometry.null_verdict(10000.05, null)
    assert out["z"] == pytest.approx((0.05 - 9.5 / 1024) / (np.sqrt(35) / 1024), rel=1e-9)


def test_bfloat16_tensors_become_float32_arrays():
    """bf16 checkpoints (Gemma, Llama-3): numpy has no bfloat16, the tensor is upcast first."""
    got = matrices._as_float32(torch.tensor([[1.5, -2.0], [0.25, 3.0]], dtype=torch.bfloat16))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.array([[1.5, -2.0], [0.25, 3.0]], dtype=np.float32))


def test_unloadable_model_folder_error_names_the_config_key(tmp_path):
    """No safetensors and no other weights: the full-model fallback fails naming the key."""
    from transformers import LlamaConfig

    from concept_geometry.errors import MissingResourceError

    LlamaConfig(
        vocab_size=12,
        hidden_size=8,
        intermediate_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
    ).save_pretrained(str(tmp_path / "m"))
    with pytest.raises(MissingResourceError, match=r"config key `alignment\.models\[x\]\.path`"):
        matrices.load_embedding_matrices(str(tmp_path / "m"), key="alignment.models[x].path")


def test_word_pairs_that_do_not_tokenize_are_refused():
    """Fewer than two concepts with a kept pair: InputDataError naming the file and the key,
    with the drop reasons counted; two concepts with a kept pair pass."""
    tok = make_word_tokenizer(WORDS)
    concepts = [
        pairs.Concept("g", (("actor", "actress"),)),
        pairs.Concept("h", (("ice cream", "king"), ("zebra", "king"))),
    ]
    frame = pairs.filter_pairs(tok, concepts)
    with pytest.raises(
        InputDataError,
        match=r"1 of 3 pairs survive.*in 1 concept\(s\).*"
        r"base:multi_token\(2\) \(1\), base:unknown_token \(1\).*"
        r"`alignment.models\[m\]`'s `require_bos",
    ):
        pairs.require_tokenizable(frame, "words/", "alignment.models[m]")
    two = pairs.filter_pairs(tok, concepts[:1] + [pairs.Concept("h", (("king", "queen"),))])
    pairs.require_tokenizable(two, "words/", "alignment.models[m]")


def alignment_rows(model: str, summary: dict) -> pd.DataFrame:
    """The registry's alignment summary rows of one summary.json."""
    from concept_geometry import registry
    from concept_geometry.alignment import quantities

    return registry.stage_rows("alignment", model, quantities.tables(summary))


def test_null_verdict_needs_z_strictly_above_three():
    """Null: 19 zeros and +-2 three times each (25 draws): mean 0, sample sd sqrt(24/24) = 1
    exactly; observed 3 beats every draw (p = 1/26 < 0.05) but z = 3.0 is not > 3."""
    null = np.r_[np.zeros(19), [2.0] * 3, [-2.0] * 3]
    at = geometry.null_verdict(3.0, null)
    assert at["z"] == 3.0 and at["p"] == pytest.approx(1 / 26)
    assert at["verdict"] == "does not stand out"
    assert geometry.null_verdict(3.0 + 1e-9, null)["verdict"] == "stands out"


def test_cosines_are_computed_in_double_precision():
    """float32 rows (exact values) give the float64 cosines of those values to 1e-15;
    normalising in float32 would leave errors of ~1e-8."""
    rng = np.random.default_rng(3)
    a32 = rng.standard_normal((6, 40)).astype(np.float32)
    b32 = rng.standard_normal((5, 40)).astype(np.float32)
    a, b = a32.astype(np.float64), b32.astype(np.float64)
    want = (a @ b.T) / np.outer(np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1))
    np.testing.assert_allclose(geometry.cosine_matrix(a32, b32), want, rtol=0, atol=1e-15)
    np.testing.assert_allclose(geometry.cosine_matrix(a32, a32).diagonal(), 1.0, rtol=0, atol=1e-15)


def test_learning_rate_warms_up_then_decays_by_cosine():
    """100 steps: warm-up over 5 steps ((s + 1) / 5), cosine 0.5 (1 + cos(pi s / 100))."""
    assert toy_lm.lr_factor(0, 100) == pytest.approx(0.2)
    assert toy_lm.lr_factor(3, 100) == pytest.approx(0.8 * 0.5 * (1 + np.cos(0.03 * np.pi)))
    assert toy_lm.lr_factor(4, 100) == pytest.approx(0.5 * (1 + np.cos(0.04 * np.pi)))
    assert toy_lm.lr_factor(50, 100) == pytest.approx(0.5)
    assert toy_lm.lr_factor(100, 100) == pytest.approx(0.0, abs=1e-15)
    assert toy_lm.lr_factor(150, 100) == pytest.approx(0.0, abs=1e-15)  # held at the end
    assert toy_lm.lr_factor(0, 10) == pytest.approx(1.0)  # warm-up of max(1, 10 // 20) = 1 step
    assert toy_lm.lr_factor(0, 30) == pytest.approx(1.0)  # 30 // 20 = 1 step, not 1.5


def test_toy_loss_exact_and_sampled_targets_by_hand():
    """Logits at the scored position: (0, ln 3), softmax (1/4, 3/4). With the next word
    certain to be word 1, the exact and the sampled cross-entropy are both -ln(3/4), and so
    is the KL to the exact law; the other position's logits must not matter."""
    logits = torch.tensor([[[5.0, -5.0], [0.0, np.log(3.0)]], [[0.0, np.log(3.0)], [7.0, 0.0]]])

    class Model:
        def __call__(self, input_ids):
            return type("Out", (), {"logits": logits})()

    ids = torch.zeros((2, 2), dtype=torch.long)
    position = torch.tensor([1, 0])
    p_next = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    for targets in ("exact", "sampled"):
        ce, kl = toy_lm._loss(
            Model(), ids, position, p_next, targets, torch.Generator().manual_seed(0)
        )
        assert ce.item() == pytest.approx(-np.log(0.75), rel=1e-6), targets
        assert kl.item() == pytest.approx(-np.log(0.75), rel=1e-6), targets


def test_word_tokenizer_names_its_special_tokens():
    words = ["<pad>", "<unk>", "<s>", "</s>", "actor", "actress"]
    tok = toy_lm.build_word_tokenizer(words)
    assert (tok.pad_token, tok.unk_token, tok.bos_token, tok.eos_token) == (
        "<pad>",
        "<unk>",
        "<s>",
        "</s>",
    )
    assert (tok.pad_token_id, tok.unk_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2, 3)
    assert tok("actress actor")["input_ids"] == [2, 5, 4]
    assert tok("nobody")["input_ids"] == [2, 1]


def test_random_pairs_are_uniform_over_distinct_token_pairs():
    """Embedding = identity, unembedding = diag(w): a pseudo-concept of one pair (b, t) has
    cos = (w_b + w_t) / (sqrt 2 sqrt(w_b^2 + w_t^2)). Over 4,000 one-pair pseudo-concepts the
    mean is that of all 30 ordered distinct pairs, enumerated by hand (sd 0.61: 4 standard
    errors = 0.039; no single pair's value is within 0.057 of it)."""
    import itertools

    w = np.array([1.0, -1.0, 2.0, -3.0, 0.5, 4.0])
    exact = np.mean(
        [
            (w[b] + w[t]) / (np.sqrt(2) * np.hypot(w[b], w[t]))
            for b, t in itertools.permutations(range(6), 2)
        ]
    )
    cos = geometry.random_pair_alignment(
        np.eye(6), np.diag(w), np.arange(6), np.array([1]), 4000, np.random.default_rng(0)
    )
    assert cos.shape == (4000,)
    assert cos.mean() == pytest.approx(exact, abs=0.039)


def test_single_token_rule_by_hand():
    """Park's rule on token-id lists: BOS then exactly one known token; -1 otherwise."""
    bos, unk = 2, 1
    assert pairs._single_token([2, 7], True, bos, unk) == (7, "kept")
    assert pairs._single_token([7], True, bos, unk) == (-1, "no_bos")
    assert pairs._single_token([2], True, bos, unk) == (-1, "empty")
    assert pairs._single_token([2, 7, 8], True, bos, unk) == (-1, "multi_token(2)")
    assert pairs._single_token([2, 1], True, bos, unk) == (-1, "unknown_token")
    assert pairs._single_token([7], False, None, None) == (7, "kept")


def test_tie_flag_from_config_or_the_architecture_default():
    """tie_word_embeddings when the file has it (also under text_config), else the config
    class's default (Gemma-2: tied; Llama: untied); unknown or missing model_type: untied."""
    assert matrices._config_tied({"tie_word_embeddings": True, "model_type": "llama"})
    assert matrices._config_tied({"text_config": {"tie_word_embeddings": True}})
    assert matrices._config_tied({"model_type": "gemma2"})
    assert not matrices._config_tied({"model_type": "llama"})
    assert not matrices._config_tied({"model_type": "no-such-architecture"})
    assert not matrices._config_tied({})


def test_shortest_tensor_name_wins_not_the_first_in_sort_order():
    """Several names end in the same suffix: the shortest (the plainest path) is taken, even
    when a longer one sorts first; the first suffix in the list with any hit decides."""
    names = ["aux.model.embed_tokens.weight", "model.embed_tokens.weight", "lm_head.weight"]
    assert matrices._find(names, matrices.EMBEDDING_SUFFIXES) == "model.embed_tokens.weight"
    assert matrices._find(names, matrices.UNEMBEDDING_SUFFIXES) == "lm_head.weight"
    assert matrices._find(["x.wte.weight"], matrices.EMBEDDING_SUFFIXES) is None


def test_hub_download_error_is_quoted_by_type_and_first_line(monkeypatch):
    """Online but the download fails (gated, no such repo): the message quotes the error's
    type and its first line only, then says how to give a local folder."""
    import huggingface_hub

    from concept_geometry.errors import MissingResourceError

    def refuse(*args, **kwargs):
        raise OSError("401 Client Error: gated repo\nAccess to model org/m is restricted.")

    monkeypatch.setattr(matrices, "hub_reachable", lambda: True)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    with pytest.raises(MissingResourceError) as err:
        matrices._snapshot_files("org/m", "alignment.models[m].path")
    msg = str(err.value)
    assert "hub (OSError: 401 Client Error: gated repo). To use it offline" in msg
    assert "restricted" not in msg and "`alignment.models[m].path: /path/to/m`" in msg


def test_untied_config_with_equal_matrices_is_reported_as_tied(tmp_path):
    """Full-model fallback (no safetensors): an lm_head that is a separate tensor holding the
    embedding's values is tied in effect, though the config says untied."""
    tok = make_word_tokenizer(WORDS)
    model = make_tiny_llama(tmp_path / "m", tok, hidden=16)
    with torch.no_grad():
        model.lm_head.weight.copy_(model.get_input_embeddings().weight)
    assert model.lm_head.weight is not model.get_input_embeddings().weight
    (tmp_path / "m" / "model.safetensors").unlink()
    torch.save(model.state_dict(), tmp_path / "m" / "pytorch_model.bin")
    mats = matrices.load_embedding_matrices(str(tmp_path / "m"))
    assert mats.source == "model" and mats.names == ("input", "output")
    assert mats.tied and not model.config.tie_word_embeddings


def test_null_p_value_counts_ties_with_the_observed_value():
    """p = (1 + #{null >= observed}) / (1 + draws): null 0, 1, 2, 3 (ten draws each), observed
    2: the ten draws equal to it count, p = (1 + 20) / 41; observed 3: p = 11 / 41."""
    null = np.repeat([0.0, 1.0, 2.0, 3.0], 10)
    assert geometry.null_verdict(2.0, null)["p"] == pytest.approx(21 / 41)
    assert geometry.null_verdict(3.0, null)["p"] == pytest.approx(11 / 41)


def test_random_pairs_from_exactly_two_candidate_tokens():
    """Two candidates (0 and 2) allow one pair up to order; with embedding = identity and
    unembedding = diag(w), both orders give cos = (w0 + w2) / (sqrt 2 sqrt(w0^2 + w2^2)).
    One distinct candidate allows no pair and is refused."""
    w = np.array([1.0, -1.0, 2.0, -3.0])
    cos = geometry.random_pair_alignment(
        np.eye(4), np.diag(w), np.array([0, 2]), np.array([1, 1]), 5, np.random.default_rng(0)
    )
    np.testing.assert_allclose(cos, np.full(10, 3 / (np.sqrt(2) * np.sqrt(5))), rtol=1e-12)
    with pytest.raises(ValueError, match="at least two distinct"):
        geometry.random_pair_alignment(
            np.eye(4), np.diag(w), np.array([2, 2]), np.array([1]), 1, np.random.default_rng(0)
        )


def test_two_files_of_the_same_concept_name_are_refused(tmp_path):
    """`01_gender.txt` and `02_gender.txt` are both the concept `gender`."""
    (tmp_path / "01_gender.txt").write_text("king\tqueen\n")
    (tmp_path / "02_gender.txt").write_text("actor\tactress\n")
    (tmp_path / "03_number.txt").write_text("he\this\n")
    with pytest.raises(InputDataError, match=r"concept names \['gender'\] occur twice"):
        pairs.read_concepts(tmp_path)


def test_a_pair_line_without_a_base_word_is_refused(tmp_path):
    """A line whose base word is empty (a leading tab, or only spaces before it) is no pair;
    the error names the line."""
    for line in ("\tqueen", "  \tqueen"):
        (tmp_path / "01_x.txt").write_text(f"king\tqueen\n{line}\n")
        with pytest.raises(InputDataError, match="line 2: expected `base<TAB>target`"):
            pairs.read_word_pairs(tmp_path / "01_x.txt")


# --- issue 15, second sample: sharded checkpoints, tie flag, tables, toy ids ----------------


def _write_two_shard_checkpoint(folder, emb, unemb, tie=None):
    """A hand-made sharded safetensors checkpoint: the (prefixed) embedding in shard 1 with a
    decoy layer, the unembedding in shard 2, an index naming the shards, a config.json."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    shard1, shard2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    save_file(
        {
            "model.language_model.embed_tokens.weight": torch.from_numpy(emb),
            "model.layers.0.mlp.weight": torch.ones(2, 2),
        },
        str(folder / shard1),
    )
    save_file({"lm_head.weight": torch.from_numpy(unemb)}, str(folder / shard2))
    weight_map = {
        "model.language_model.embed_tokens.weight": shard1,
        "model.layers.0.mlp.weight": shard1,
        "lm_head.weight": shard2,
    }
    (folder / matrices.INDEX_FILE).write_text(json.dumps({"weight_map": weight_map}))
    config = {"model_type": "llama"} if tie is None else {"tie_word_embeddings": tie}
    (folder / "config.json").write_text(json.dumps(config))
    return shard1, shard2


def test_two_shard_checkpoint_with_prefixed_names_is_read_exactly(tmp_path):
    emb = np.arange(12, dtype=np.float32).reshape(4, 3)
    unemb = -np.arange(12, dtype=np.float32).reshape(4, 3) / 7
    _write_two_shard_checkpoint(tmp_path / "m", emb, unemb, tie=False)
    mats = matrices.load_embedding_matrices(str(tmp_path / "m"))
    assert mats.source == "safetensors" and not mats.tied
    assert mats.names == ("model.language_model.embed_tokens.weight", "lm_head.weight")
    np.testing.assert_array_equal(mats.embedding, emb)
    np.testing.assert_array_equal(mats.unembedding, unemb)
    # equal matrices in separate tensors, config untied: tied in effect
    _write_two_shard_checkpoint(tmp_path / "eq", emb, emb.copy(), tie=False)
    assert matrices.read_safetensors_matrices(tmp_path / "eq").tied
    # config says tied (different matrices on disk): the config decides
    _write_two_shard_checkpoint(tmp_path / "cfg", emb, unemb, tie=True)
    assert matrices.read_safetensors_matrices(tmp_path / "cfg").tied


def test_hub_snapshot_fetches_only_the_index_and_the_two_shards(tmp_path, monkeypatch):
    """A sharded hub checkpoint: config, index, then exactly the shards holding the two
    matrices (not the decoy-only shard), and the matrices read from them are exact."""
    import shutil

    import huggingface_hub

    emb = np.arange(6, dtype=np.float32).reshape(3, 2)
    unemb = emb[::-1].copy() + 0.5
    remote = tmp_path / "remote"
    shard1, shard2 = _write_two_shard_checkpoint(remote, emb, unemb, tie=False)
    # move the decoy into a third shard of its own: it must not be downloaded
    index = json.loads((remote / matrices.INDEX_FILE).read_text())
    index["weight_map"]["model.layers.0.mlp.weight"] = "decoy.safetensors"
    (remote / matrices.INDEX_FILE).write_text(json.dumps(index))
    (remote / "decoy.safetensors").write_bytes(b"not a checkpoint")
    cache = tmp_path / "cache"
    cache.mkdir()
    fetched = []

    def download(repo_id, filename, local_files_only=False):
        assert repo_id == "org/sharded" and not local_files_only
        fetched.append(filename)
        shutil.copy(remote / filename, cache / filename)
        return str(cache / filename)

    monkeypatch.setattr(matrices, "hub_reachable", lambda: True)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    mats = matrices.load_embedding_matrices("org/sharded", "alignment.models[s].path")
    assert fetched == ["config.json", matrices.INDEX_FILE, shard1, shard2]
    assert mats.source == "safetensors" and not mats.tied
    np.testing.assert_array_equal(mats.embedding, emb)
    np.testing.assert_array_equal(mats.unembedding, unemb)


class _FakeEmbedding:
    def __init__(self, values):
        self.weight = torch.tensor(values, dtype=torch.float32)


class _FakeModel:
    def __init__(self, emb, unemb, config):
        self.config = config
        self._inp, self._out = _FakeEmbedding(emb), _FakeEmbedding(unemb)

    def get_input_embeddings(self):
        return self._inp

    def get_output_embeddings(self):
        return self._out


def test_full_model_tie_flag_from_the_config_attribute(tmp_path, monkeypatch):
    """Full-model fallback: different matrices are tied when config.tie_word_embeddings says
    so, untied when the attribute is False or absent."""
    from types import SimpleNamespace

    (tmp_path / "config.json").write_text("{}")  # a model folder with no safetensors
    emb, unemb = [[1.0, 0.0], [0.0, 1.0]], [[2.0, 0.0], [0.0, 3.0]]
    for config, tied in (
        (SimpleNamespace(tie_word_embeddings=True), True),
        (SimpleNamespace(tie_word_embeddings=False), False),
        (SimpleNamespace(), False),
    ):
        model = _FakeModel(emb, unemb, config)
        monkeypatch.setattr(matrices, "load_model", lambda *a, model=model: model)
        mats = matrices.load_embedding_matrices(str(tmp_path))
        assert mats.source == "model" and mats.tied is tied, config
        np.testing.assert_array_equal(mats.unembedding, unemb)


def test_candidate_tokens_cover_the_shortest_vocabulary_without_special_ids():
    class Tok:
        all_special_ids = [0, 2, 7]

        def __len__(self):
            return 6

    mats = matrices.EmbeddingMatrices(np.zeros((9, 2)), np.zeros((8, 2)), False, "x", ("a", "b"))
    vocab, cands = matrices.candidate_tokens(mats, Tok())
    assert vocab == 6 and cands.tolist() == [1, 3, 4, 5]
    short = matrices.EmbeddingMatrices(np.zeros((9, 2)), np.zeros((4, 2)), False, "x", ("a", "b"))
    vocab, cands = matrices.candidate_tokens(short, Tok())
    assert vocab == 4 and cands.tolist() == [1, 3]


def test_concept_without_pairs_or_with_zero_difference_gets_nan_row():
    matrix = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]])
    # concept 0: 0 -> 1 (direction (0.6, 0.8)); concept 1: no pairs; concept 2: 2 -> 2 (zero)
    out = geometry.concept_directions(
        matrix, np.array([0, 2]), np.array([1, 2]), np.array([0, 2]), 3
    )
    np.testing.assert_allclose(out[0], [0.6, 0.8])
    assert np.isnan(out[1]).all() and np.isnan(out[2]).all()


def test_filler_law_rows_are_softmax_distributions_even_for_extreme_logits(monkeypatch):
    """Each filler row is a softmax of its own logits: non-negative, sums to 1, finite even when
    the logits span thousands (a per-row shift, not one global one, avoids 0/0 rows)."""
    dag = random_dag(3, 0.5, np.random.default_rng(0))
    cfg = dict(output_frac=0.5, fillers=12, word_context_prob=0.3, filler_prob=0.25)
    for scale in (3.0, 1e4):
        monkeypatch.setattr(toy_lm, "FILLER_SCALE", scale)
        law = toy_lm.make_toy_text(dag, cfg, np.random.default_rng(1)).filler_next
        assert law.shape == (12, 12) and np.isfinite(law).all() and (law >= 0).all()
        np.testing.assert_allclose(law.sum(axis=1), np.ones(12), rtol=1e-12)


_TINY_TOY = dict(
    m=2,
    edge_prob=0.5,
    d_model=8,
    layers=1,
    heads=2,
    intermediate=8,
    steps=1,
    batch_size=4,
    lr=1e-3,
    init_std=0.02,
    word_context_prob=0.3,
    targets="exact",
    log_every=1,
    eval_batch=4,
    output_frac=1.0,
    fillers=2,
    filler_prob=0.3,
)


def test_toy_model_and_tokenizer_agree_on_special_token_ids():
    toy = toy_lm.train_toy_lm(_TINY_TOY, seed=0, progress=False)
    tok, config = toy.tokenizer, toy.model.config
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 2, 3)  # PAD, UNK, BOS, EOS
    assert (config.pad_token_id, config.bos_token_id, config.eos_token_id) == (0, 2, 3)
    assert config.tie_word_embeddings is False


def _fake_hub(monkeypatch, files: dict, online=True):
    """hf_hub_download over a dict filename -> path (EntryNotFoundError for anything else);
    returns the list of (filename, local_files_only) requested."""
    import huggingface_hub
    from huggingface_hub.errors import EntryNotFoundError

    asked = []

    def download(repo_id, filename, local_files_only=False):
        asked.append((filename, local_files_only))
        if filename not in files:
            raise EntryNotFoundError(f"{filename} not in {repo_id}")
        return str(files[filename])

    monkeypatch.setattr(matrices, "hub_reachable", lambda: online)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    return asked


def test_hub_snapshot_single_file_and_no_safetensors(tmp_path, monkeypatch):
    """No index on the hub: the single model.safetensors is fetched (from the cache only when
    offline); no safetensors at all: only config.json, and the folder is still returned."""
    from safetensors.torch import save_file

    emb = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    (tmp_path / "config.json").write_text(json.dumps({"tie_word_embeddings": False}))
    save_file(
        {"transformer.wte.weight": torch.from_numpy(emb), "lm_head.weight": torch.zeros(2, 2)},
        str(tmp_path / matrices.SINGLE_FILE),
    )
    files = {
        "config.json": tmp_path / "config.json",
        matrices.SINGLE_FILE: tmp_path / "model.safetensors",
    }
    for online in (True, False):
        asked = _fake_hub(monkeypatch, files, online=online)
        mats = matrices.load_embedding_matrices("org/single")
        assert asked == [
            ("config.json", not online),
            (matrices.INDEX_FILE, not online),
            (matrices.SINGLE_FILE, not online),
        ]
        assert mats.names == ("transformer.wte.weight", "lm_head.weight") and not mats.tied
        np.testing.assert_array_equal(mats.embedding, emb)
        np.testing.assert_array_equal(mats.unembedding, np.zeros((2, 2)))
    asked = _fake_hub(monkeypatch, {"config.json": tmp_path / "config.json"})
    assert matrices._snapshot_files("org/bin", "k") == tmp_path
    assert [a for a, _ in asked] == ["config.json", matrices.INDEX_FILE, matrices.SINGLE_FILE]


def test_safetensors_without_lm_head_or_without_embedding(tmp_path):
    """No unembedding tensor: the embedding is reused and the model is tied (names say so);
    no recognisable embedding tensor: None (the full-model fallback takes over)."""
    from safetensors.torch import save_file

    emb = np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 3.0]], dtype=np.float32)
    (tmp_path / "a").mkdir()
    save_file(
        {"gpt_neox.embed_in.weight": torch.from_numpy(emb)},
        str(tmp_path / "a" / "model.safetensors"),
    )
    mats = matrices.read_safetensors_matrices(tmp_path / "a")
    assert mats.tied and mats.names == ("gpt_neox.embed_in.weight", "gpt_neox.embed_in.weight")
    np.testing.assert_array_equal(mats.unembedding, emb)
    (tmp_path / "b").mkdir()
    save_file({"encoder.weight": torch.from_numpy(emb)}, str(tmp_path / "b" / "model.safetensors"))
    assert matrices.read_safetensors_matrices(tmp_path / "b") is None
    assert matrices.read_safetensors_matrices(tmp_path / "empty_folder") is None


def test_full_model_without_output_or_input_embedding(tmp_path, monkeypatch):
    """Fallback: no output embedding (or the same tensor) -> the input one, tied; no input
    embedding -> a MissingResourceError naming the config key."""
    from types import SimpleNamespace

    from concept_geometry.errors import MissingResourceError

    (tmp_path / "config.json").write_text("{}")
    emb = [[1.0, 2.0], [3.0, 5.0]]
    model = _FakeModel(emb, emb, SimpleNamespace(tie_word_embeddings=False))
    model._out = None
    monkeypatch.setattr(matrices, "load_model", lambda *a: model)
    mats = matrices.load_embedding_matrices(str(tmp_path))
    assert mats.tied and mats.names == ("input", "input") and mats.source == "model"
    np.testing.assert_array_equal(mats.unembedding, emb)
    model._out = model._inp
    assert matrices.load_embedding_matrices(str(tmp_path)).names == ("input", "input")
    model._inp = None
    with pytest.raises(MissingResourceError, match=r"config key `alignment.models\[x\].path`"):
        matrices.load_embedding_matrices(str(tmp_path), "alignment.models[x].path")


def test_alignment_table_rows_by_hand():
    result = geometry.AlignmentResult(
        concepts=["a", "b"],
        directions={},
        alignment=np.array([[0.8, -0.1], [0.3, -0.6]]),
        orthogonality={},
        random_pairs=np.zeros(1),
        null_diag_mean_abs=np.zeros(1),
        null_diag_row_max=np.zeros(1),
    )
    table = geometry.alignment_table(result)
    assert table.columns.tolist() == ["concept_embedding", "concept_unembedding", "cos"]
    assert table.values.tolist() == [
        ["a", "a", 0.8],
        ["a", "b", -0.1],
        ["b", "a", 0.3],
        ["b", "b", -0.6],
    ]


def test_tied_alignment_table_keeps_its_header():
    """Tied: no rows, but the TSV still has its three named columns."""
    result = geometry.AlignmentResult(
        concepts=["a"],
        directions={},
        alignment=None,
        orthogonality={},
        random_pairs=None,
        null_diag_mean_abs=None,
        null_diag_row_max=None,
    )
    table = geometry.alignment_table(result)
    assert table.empty
    assert table.columns.tolist() == ["concept_embedding", "concept_unembedding", "cos"]


def test_saved_toy_records_its_law_and_special_ids(tmp_path):
    """dag.json carries the concept words, filler count and KL; the saved config keeps the
    tokenizer's special ids."""
    toy = toy_lm.train_toy_lm(_TINY_TOY, seed=0, progress=False)
    toy_lm.save_toy_lm(toy, tmp_path / "toy")
    saved = json.loads((tmp_path / "toy" / "dag.json").read_text())
    # m = 2, output_frac = 1: all four concept words; fillers = 2
    assert saved["concept_words"] == [0, 1, 2, 3] and saved["fillers"] == 2
    assert saved["kl_to_exact"] == toy.kl_to_exact and toy.kl_to_exact >= 0
    config = json.loads((tmp_path / "toy" / "config.json").read_text())
    assert (config["pad_token_id"], config["bos_token_id"], config["eos_token_id"]) == (0, 2, 3)
    assert config["tie_word_embeddings"] is False


def test_explicit_tie_flag_in_config_json_overrides_the_architecture_default():
    assert not matrices._config_tied({"tie_word_embeddings": False, "model_type": "gemma2"})
    assert not matrices._config_tied(
        {"text_config": {"tie_word_embeddings": False}, "model_type": "gemma2"}
    )
    assert matrices._config_tied({"tie_word_embeddings": True, "text_config": {}})


def test_offline_hub_message_says_offline_and_quotes_no_error(monkeypatch):
    """Offline and not cached: the message says the hub was offline and quotes no download
    error (there was no attempt worth quoting), then says how to give a local folder."""
    import huggingface_hub

    from concept_geometry.errors import MissingResourceError

    def not_cached(*args, **kwargs):
        raise OSError("LocalEntryNotFoundError: cannot find the requested files in the cache")

    monkeypatch.setattr(matrices, "hub_reachable", lambda: False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", not_cached)
    with pytest.raises(MissingResourceError) as err:
        matrices._snapshot_files("org/m", "alignment.models[m].path")
    msg = str(err.value)
    assert "fetched from the Hugging Face hub (offline). To use it offline" in msg
    assert "cache" not in msg and "`alignment.models[m].path: /path/to/m`" in msg


def test_toy_training_is_a_function_of_the_seed():
    """Same seed: the same DAG (structure and CPTs) and the same losses; the last logged loss
    is the reported final loss (not the KL column beside it)."""
    a = toy_lm.train_toy_lm(_TINY_TOY, seed=4, progress=False)
    b = toy_lm.train_toy_lm(_TINY_TOY, seed=4, progress=False)
    assert a.dag.parents == b.dag.parents
    for x, y in zip(a.dag.cpts, b.dag.cpts, strict=True):
        np.testing.assert_array_equal(x, y)
    assert a.history["loss"].tolist() == b.history["loss"].tolist()
    assert a.final_loss == a.history["loss"].iloc[-1]
    assert a.final_loss != a.history["kl_to_exact"].iloc[-1]
