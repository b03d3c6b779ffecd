"""Lobes stage (Li et al. 2024 Sec. 4): affinities against hand-computed values, planted
lobes recovered, structureless data gives noise-like z-scores, faithful vs corrected splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.metrics import adjusted_mutual_info_score

from concept_geometry.errors import ConfigError, InputDataError
from concept_geometry.lobes import affinity as A
from concept_geometry.lobes.clustering import cluster_measure, knn_sparsify_blocks
from concept_geometry.lobes.config import check_lobes_config
from concept_geometry.lobes.significance import (ami_permutation_test,
                                                 probe_balanced_accuracy, probe_test)
from concept_geometry.lobes.specialization import (category_histogram, chunk_winners,
                                                   find_code_lobe)

# --- a hand-computed example ---------------------------------------------------------------
# T = 10 chunks; c = (4, 5, 2, 0); c01 = 3, c02 = 0, c12 = 2; feature 3 never fires.
T = 10
OCC = np.array([4, 5, 2, 0])
COUNTS = np.array([[4, 3, 0, 0],
                   [3, 5, 2, 0],
                   [0, 2, 2, 0],
                   [0, 0, 0, 0]])
# Expected off-diagonal values for pairs (0,1), (0,2), (1,2), worked out by hand:
#   n00(0,1) = 10-4-5+3 = 4, n00(0,2) = 4, n00(1,2) = 5.
HAND = {
    "jaccard": {(0, 1): 3 / 6, (0, 2): 0.0, (1, 2): 2 / 5},
    "simple_matching": {(0, 1): 7 / 10, (0, 2): 4 / 10, (1, 2): 7 / 10},
    "dice": {(0, 1): 6 / 9, (0, 2): 0.0, (1, 2): 4 / 7},
    "overlap": {(0, 1): 3 / 4, (0, 2): 0.0, (1, 2): 2 / 2},
    # (n11 n00 - n10 n01) / sqrt(c_i (T-c_i) c_j (T-c_j))
    "phi": {(0, 1): (3 * 4 - 1 * 2) / np.sqrt(4 * 6 * 5 * 5),
            (0, 2): (0 * 4 - 4 * 2) / np.sqrt(4 * 6 * 2 * 8),
            (1, 2): (2 * 5 - 3 * 0) / np.sqrt(5 * 5 * 2 * 8)},
}


@pytest.mark.parametrize("measure", A.MEASURES)
def test_affinity_matches_hand_computed_example(measure):
    aff = A.cooccurrence_affinity(COUNTS, OCC, T, measure, shift_phi=False)
    assert aff.shape == (4, 4)
    np.testing.assert_allclose(aff, aff.T)
    for (i, j), value in HAND[measure].items():
        assert aff[i, j] == pytest.approx(value, abs=1e-12), (measure, i, j)
    # a feature that never fires: undefined (0/0) entries are 0, never NaN
    assert np.all(np.isfinite(aff))
    if measure != "simple_matching":  # SMC(i, dead) = n00 / T is defined
        np.testing.assert_array_equal(aff[3], 0.0)
    else:
        assert aff[3, 0] == pytest.approx((T - 4) / T)


def test_phi_shift_is_plus_one_as_in_the_paper_code():
    raw = A.cooccurrence_affinity(COUNTS, OCC, T, "phi", shift_phi=False)
    shifted = A.cooccurrence_affinity(COUNTS, OCC, T, "phi", shift_phi=True)
    np.testing.assert_allclose(shifted, raw + 1.0)
    assert shifted.min() >= 0.0


def test_phi_is_the_pearson_correlation_of_binary_firings():
    gen = np.random.default_rng(0)
    fire = (gen.random((300, 12)) < gen.uniform(0.05, 0.6, 12)).astype(np.int64)
    counts, occ = fire.T @ fire, fire.sum(0)
    phi = A.cooccurrence_affinity(counts, occ, fire.shape[0], "phi", shift_phi=False)
    np.testing.assert_allclose(phi, np.corrcoef(fire.T), atol=1e-12)


def test_blockwise_affinity_equals_full_matrix():
    gen = np.random.default_rng(1)
    fire = (gen.random((50, 9)) < 0.3).astype(np.int64)
    counts, occ = fire.T @ fire, fire.sum(0)
    full = A.cooccurrence_affinity(counts, occ, 50, "dice")
    blocks = np.vstack([b for _, b in A.affinity_blocks("dice", counts=counts, occurrences=occ,
                                                        n_chunks=50, block=4)])
    np.testing.assert_allclose(blocks, full)


def test_geometric_affinity_is_one_minus_angle_over_pi():
    dec = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0], [1.0, 1.0]])
    aff = A.geometric_affinity(dec)
    np.testing.assert_allclose(np.diag(aff), 1.0, atol=1e-7)
    assert aff[0, 1] == pytest.approx(0.5)  # 90 degrees
    assert aff[0, 2] == pytest.approx(0.0, abs=1e-7)  # 180 degrees
    assert aff[0, 3] == pytest.approx(0.75)  # 45 degrees


def test_knn_sparsify_keeps_largest_neighbours_symmetrically():
    aff = np.array([[1.0, 0.9, 0.1, 0.2],
                    [0.9, 1.0, 0.3, 0.1],
                    [0.1, 0.3, 1.0, 0.8],
                    [0.2, 0.1, 0.8, 1.0]])
    graph = knn_sparsify_blocks([(slice(0, 4), aff)], 4, n_neighbors=1).toarray()
    expected = np.zeros((4, 4))
    expected[0, 1] = expected[1, 0] = 0.9
    expected[2, 3] = expected[3, 2] = 0.8
    np.testing.assert_allclose(graph, expected)


# --- planted structure -----------------------------------------------------------------------

def planted(n_feat=90, n_lobes=3, d=24, n_chunks=300, seed=0, structured=True):
    """Features in planted lobes: co-occurrence blocks (chunks about one topic fire that
    topic's features) that match decoder clusters (directions near the topic's centre)."""
    gen = np.random.default_rng(seed)
    lobe = gen.permutation(np.repeat(np.arange(n_lobes), n_feat // n_lobes))
    centres = gen.standard_normal((n_lobes, d)) * 3.0
    decoder = gen.standard_normal((n_feat, d)) + (centres[lobe] if structured else 0.0)
    topic = gen.integers(0, n_lobes, n_chunks)
    p = (np.where(topic[:, None] == lobe[None, :], 0.3, 0.02) if structured
         else np.full((n_chunks, n_feat), 0.12))
    fire = (gen.random((n_chunks, n_feat)) < p).astype(np.int64)
    return lobe, decoder, fire, topic


@pytest.mark.parametrize("method", ["dense", "sparse"])
@pytest.mark.parametrize("measure", A.MEASURES)
def test_planted_lobes_are_recovered(measure, method):
    lobe, decoder, fire, _ = planted()
    res = cluster_measure(measure, [3], 0, method=method, n_neighbors=15,
                          counts=fire.T @ fire, occurrences=fire.sum(0), n_chunks=fire.shape[0])
    assert res.method == method
    assert adjusted_mutual_info_score(lobe, res.labels[3]) > 0.95


def test_planted_lobes_match_geometry_with_large_z():
    lobe, decoder, fire, _ = planted(n_feat=150, seed=3)
    lobes = cluster_measure("phi", [3], 0, counts=fire.T @ fire, occurrences=fire.sum(0),
                            n_chunks=fire.shape[0]).labels[3]
    geo = cluster_measure("geometric", [3], 0, decoder=decoder).labels[3]
    assert adjusted_mutual_info_score(lobe, geo) > 0.95
    ami = ami_permutation_test(lobes, geo, 200, seed=1)
    assert ami.observed > 0.9 and ami.z > 20 and ami.p == pytest.approx(1 / 201)
    for variant in ("faithful", "corrected"):
        acc = probe_test(decoder, lobes, variant, n_null=10, seed=2)
        assert acc.observed > 0.95
        assert acc.null_mean == pytest.approx(1 / 3, abs=0.12)  # chance for 3 balanced lobes
        assert acc.z > 4  # 30 held-out features in the faithful split: a wide null


def test_structureless_data_gives_noise_like_z_scores():
    ami_z, acc_z = [], []
    for seed in range(6):
        _, decoder, fire, _ = planted(n_feat=60, seed=100 + seed, structured=False)
        lobes = cluster_measure("phi", [2], seed, counts=fire.T @ fire,
                                occurrences=fire.sum(0), n_chunks=fire.shape[0]).labels[2]
        geo = cluster_measure("geometric", [2], seed, decoder=decoder).labels[2]
        ami_z.append(ami_permutation_test(lobes, geo, 200, seed=seed).z)
        acc_z.append(probe_test(decoder, lobes, "corrected", n_null=10, seed=seed, n_splits=3).z)
    assert np.max(np.abs(ami_z)) < 4.0 and abs(np.mean(ami_z)) < 2.0
    assert np.max(np.abs(acc_z)) < 4.5 and abs(np.mean(acc_z)) < 2.5


def test_faithful_split_is_by_feature_index_corrected_is_stratified():
    gen = np.random.default_rng(0)
    y = np.r_[np.zeros(80, int), np.ones(20, int)]
    X = gen.standard_normal((100, 5)) + 4.0 * y[:, None]  # perfectly separable classes
    # faithful: the first 80 features (all lobe 0) train, the last 20 (all lobe 1) test,
    # so the probe never sees lobe 1 and gets every test feature wrong.
    assert probe_balanced_accuracy(X, y, "faithful", 0, train_fraction=0.8) == 0.0
    assert probe_balanced_accuracy(X, y, "corrected", 0, n_splits=5) == pytest.approx(1.0)


# --- specialisation ----------------------------------------------------------------------------

def test_chunk_winner_is_lobe_with_largest_fraction_firing():
    lobes = np.array([0, 0, 0, 0, 1, 1, -1])  # lobe 0 has 4 features, lobe 1 has 2
    fire = sp.csr_matrix(np.array([
        [1, 1, 0, 0, 1, 0, 0],  # lobe0 2/4, lobe1 1/2 -> tie, lowest index wins: 0
        [1, 0, 0, 0, 1, 0, 1],  # lobe0 1/4, lobe1 1/2 -> 1
        [0, 0, 0, 0, 0, 0, 1],  # only an excluded feature fired -> -1
        [1, 1, 1, 0, 1, 0, 0],  # 3/4 vs 1/2 -> 0
    ]))
    winners = chunk_winners(fire, lobes, 2)
    np.testing.assert_array_equal(winners, [0, 1, -1, 0])
    hist = category_histogram(winners, np.array(["code", "prose", "prose", "code"]), 2)
    frac = hist.set_index(["category", "lobe"])["fraction"]
    assert frac[("code", 0)] == 1.0 and frac[("code", 1)] == 0.0
    assert frac[("prose", 1)] == 1.0  # the unscored chunk is left out
    found = find_code_lobe(winners, np.array(["code", "prose", "prose", "code"]), ["code"], None, 2)
    assert found.found and found.code_lobe == 0 and found.other_lobe == 1


def test_pipeline_specialization_uses_histogram_then_heldout_chunks():
    from concept_geometry.lobes.pipeline import specialization

    labels = pd.DataFrame({"measure": "phi", "k": 2, "feature": [0, 1], "lobe": [0, 1]})
    # histogram chunks: code fires feature 0; held-out chunks: code fires feature 1
    fire = sp.csr_matrix(np.array([[1, 0], [0, 1], [0, 1], [1, 0]]))
    category = np.array(["code", "prose", "code", "prose"])
    split = np.array(["histogram", "histogram", "heldout", "heldout"])
    cfg = {"measures": ["phi"], "ks": [2],
           "specialization": {"code_categories": ["code"], "other_categories": None}}
    spec, verdicts = specialization(labels, fire, category, split, cfg)
    assert verdicts["phi"]["faithful"]["code_lobe"] == 0
    assert verdicts["phi"]["corrected"]["code_lobe"] == 1
    assert set(spec["variant"]) == {"faithful", "corrected"}
    with pytest.raises(InputDataError):
        specialization(labels, fire, category, np.array(["histogram"] * 4), cfg)


def test_config_check_requires_k2_and_known_layers():
    base = {"features": {"layers": [1, 2]},
            "lobes": {"ks": [2, 3], "layers": None, "figures": {"k": 2},
                      "specialization": {"code_categories": ["code"], "other_categories": None}}}
    check_lobes_config(base)
    with pytest.raises(ConfigError, match="lobes.ks"):
        check_lobes_config({**base, "lobes": {**base["lobes"], "ks": [3, 4]}})
    with pytest.raises(ConfigError, match="lobes.layers"):
        check_lobes_config({**base, "lobes": {**base["lobes"], "layers": [5]}})


def test_corrected_null_keeps_spread_with_unbalanced_lobes():
    # 90/10 lobes on uninformative directions: the corrected (class-weighted) probe's null
    # must vary, so z is defined; a zero-spread null gives NaN, never an invented z.
    from concept_geometry.lobes.significance import _null_test

    gen = np.random.default_rng(5)
    y = np.r_[np.zeros(180, int), np.ones(20, int)]
    res = probe_test(gen.standard_normal((200, 8)), y, "corrected", n_null=8, seed=0, n_splits=3)
    assert res.null_std > 0 and np.isfinite(res.z)
    assert np.isnan(_null_test(0.9, np.full(5, 0.5)).z)


def test_specialization_streamed_in_blocks_equals_whole_matrix(tmp_path):
    """The workflow streams firings.npz block by block; the histograms and verdicts are those
    of the whole matrix."""
    from concept_geometry import io
    from concept_geometry.lobes.pipeline import specialization

    rng = np.random.default_rng(0)
    n_chunks, n_feat = 230, 30
    fire = sp.csr_matrix((rng.random((n_chunks, n_feat)) < 0.15).astype(np.uint8))
    labels = pd.concat([pd.DataFrame({"measure": m, "k": k, "feature": np.arange(n_feat),
                                      "lobe": rng.integers(-1, k, n_feat)})
                        for m in ("phi", "jaccard") for k in (2, 3)], ignore_index=True)
    category = rng.choice(["code", "prose", "web"], n_chunks)
    split = rng.choice(["histogram", "heldout"], n_chunks)
    cfg = {"measures": ["phi", "jaccard"], "ks": [2, 3],
           "specialization": {"code_categories": ["code"], "other_categories": None}}
    whole, verdicts = specialization(labels, fire, category, split, cfg)
    io.write_npz(tmp_path / "f.npz", firings=fire)
    blocks = io.iter_sparse_rows(tmp_path / "f.npz", "firings", block_rows=17)
    streamed, verdicts_streamed = specialization(labels, blocks, category, split, cfg)
    pd.testing.assert_frame_equal(whole, streamed)
    assert verdicts == verdicts_streamed
