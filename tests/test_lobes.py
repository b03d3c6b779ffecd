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
from concept_geometry.lobes.significance import (
    ami_permutation_test,
    probe_balanced_accuracy,
    probe_test,
)
from concept_geometry.lobes.specialization import category_histogram, chunk_winners, find_code_lobe

# --- a hand-computed example ---------------------------------------------------------------
# T = 10 chunks; c = (4, 5, 2, 0); c01 = 3, c02 = 0, c12 = 2; feature 3 never fires.
T = 10
OCC = np.array([4, 5, 2, 0])
COUNTS = np.array([[4, 3, 0, 0], [3, 5, 2, 0], [0, 2, 2, 0], [0, 0, 0, 0]])
# Expected off-diagonal values for pairs (0,1), (0,2), (1,2), worked out by hand:
#   n00(0,1) = 10-4-5+3 = 4, n00(0,2) = 4, n00(1,2) = 5.
HAND = {
    "jaccard": {(0, 1): 3 / 6, (0, 2): 0.0, (1, 2): 2 / 5},
    "simple_matching": {(0, 1): 7 / 10, (0, 2): 4 / 10, (1, 2): 7 / 10},
    "dice": {(0, 1): 6 / 9, (0, 2): 0.0, (1, 2): 4 / 7},
    "overlap": {(0, 1): 3 / 4, (0, 2): 0.0, (1, 2): 2 / 2},
    # (n11 n00 - n10 n01) / sqrt(c_i (T-c_i) c_j (T-c_j))
    "phi": {
        (0, 1): (3 * 4 - 1 * 2) / np.sqrt(4 * 6 * 5 * 5),
        (0, 2): (0 * 4 - 4 * 2) / np.sqrt(4 * 6 * 2 * 8),
        (1, 2): (2 * 5 - 3 * 0) / np.sqrt(5 * 5 * 2 * 8),
    },
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
    blocks = np.vstack(
        [
            b
            for _, b in A.affinity_blocks(
                "dice",
                counts=counts,
                occurrences=occ,
                n_chunks=50,
                shift_phi=True,
                official_int64=False,
                block=4,
            )
        ]
    )
    np.testing.assert_allclose(blocks, full)


def test_geometric_affinity_is_one_minus_angle_over_pi():
    dec = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0], [1.0, 1.0]])
    aff = A.geometric_affinity(dec)
    np.testing.assert_allclose(np.diag(aff), 1.0, atol=1e-7)
    assert aff[0, 1] == pytest.approx(0.5)  # 90 degrees
    assert aff[0, 2] == pytest.approx(0.0, abs=1e-7)  # 180 degrees
    assert aff[0, 3] == pytest.approx(0.75)  # 45 degrees


def test_knn_sparsify_keeps_largest_neighbours_symmetrically():
    aff = np.array(
        [[1.0, 0.9, 0.1, 0.2], [0.9, 1.0, 0.3, 0.1], [0.1, 0.3, 1.0, 0.8], [0.2, 0.1, 0.8, 1.0]]
    )
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
    p = (
        np.where(topic[:, None] == lobe[None, :], 0.3, 0.02)
        if structured
        else np.full((n_chunks, n_feat), 0.12)
    )
    fire = (gen.random((n_chunks, n_feat)) < p).astype(np.int64)
    return lobe, decoder, fire, topic


@pytest.mark.parametrize("method", ["dense", "sparse"])
@pytest.mark.parametrize("measure", A.MEASURES)
def test_planted_lobes_are_recovered(measure, method):
    lobe, decoder, fire, _ = planted()
    res = cluster_measure(
        measure,
        [3],
        0,
        method=method,
        n_neighbors=15,
        counts=fire.T @ fire,
        occurrences=fire.sum(0),
        n_chunks=fire.shape[0],
    )
    assert res.method == method
    assert adjusted_mutual_info_score(lobe, res.labels[3]) > 0.95


def test_planted_lobes_match_geometry_with_large_z():
    lobe, decoder, fire, _ = planted(n_feat=150, seed=3)
    lobes = cluster_measure(
        "phi", [3], 0, counts=fire.T @ fire, occurrences=fire.sum(0), n_chunks=fire.shape[0]
    ).labels[3]
    geo = cluster_measure("geometric", [3], 0, decoder=decoder).labels[3]
    assert adjusted_mutual_info_score(lobe, geo) > 0.95
    ami = ami_permutation_test(lobes, geo, 200, seed=1, ddof=1)
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
        lobes = cluster_measure(
            "phi", [2], seed, counts=fire.T @ fire, occurrences=fire.sum(0), n_chunks=fire.shape[0]
        ).labels[2]
        geo = cluster_measure("geometric", [2], seed, decoder=decoder).labels[2]
        ami_z.append(ami_permutation_test(lobes, geo, 200, seed=seed, ddof=1).z)
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
    fire = sp.csr_matrix(
        np.array(
            [
                [1, 1, 0, 0, 1, 0, 0],  # lobe0 2/4, lobe1 1/2 -> tie, lowest index wins: 0
                [1, 0, 0, 0, 1, 0, 1],  # lobe0 1/4, lobe1 1/2 -> 1
                [0, 0, 0, 0, 0, 0, 1],  # only an excluded feature fired -> -1
                [1, 1, 1, 0, 1, 0, 0],  # 3/4 vs 1/2 -> 0
            ]
        )
    )
    winners = chunk_winners(fire, lobes, 2)
    np.testing.assert_array_equal(winners, [0, 1, -1, 0])
    hist = category_histogram(winners, np.array(["code", "prose", "prose", "code"]), 2)
    frac = hist.set_index(["category", "lobe"])["fraction"]
    assert frac[("code", 0)] == 1.0 and frac[("code", 1)] == 0.0
    assert frac[("prose", 1)] == 1.0  # the unscored chunk is left out
    found = find_code_lobe(winners, np.array(["code", "prose", "prose", "code"]), ["code"], None, 2)
    assert found.found and found.code_lobe == 0 and found.other_lobe == 1


def test_pipeline_specialization_uses_histogram_then_heldout_chunks():
    """Item 8 of issue 12: the lobes are fitted on the histogram documents' co-occurrences;
    the corrected specialisation scores them on held-out documents only, the faithful one on
    the histogram documents (in-sample, as the official notebook)."""
    from concept_geometry.lobes.pipeline import specialization

    labels = pd.concat(
        [
            pd.DataFrame(
                {
                    "variant": v,
                    "clustering": "dense",
                    "measure": "phi",
                    "k": 2,
                    "feature": [0, 1],
                    "lobe": [0, 1],
                }
            )
            for v in ("faithful", "corrected")
        ],
        ignore_index=True,
    )
    # histogram chunks: code fires feature 0; held-out chunks: code fires feature 1
    fire = sp.csr_matrix(np.array([[1, 0], [0, 1], [0, 1], [1, 0]]))
    category = np.array(["code", "prose", "code", "prose"])
    split = np.array(["histogram", "histogram", "heldout", "heldout"])
    doc_id = np.arange(4)
    cfg = {
        "measures": ["phi"],
        "ks": [2],
        "specialization": {
            "code_categories": ["code"],
            "other_categories": None,
            "max_documents": None,
        },
    }
    spec, verdicts = specialization(
        labels,
        fire,
        category,
        split,
        cfg,
        "x.npz",
        doc_id=doc_id,
        histogram_documents=np.array([0, 1]),
    )
    assert verdicts["phi"]["faithful"]["code_lobe"] == 0
    assert verdicts["phi"]["corrected"]["code_lobe"] == 1
    assert set(spec["variant"]) == {"faithful", "corrected"}
    assert spec.index.tolist() == list(range(len(spec)))  # one table, rows numbered afresh
    with pytest.raises(
        InputDataError,
        match="No `heldout` chunks in the firings x.npz: the "
        "corrected specialisation needs them. The features "
        "stage splits documents into histogram and held-out "
        "ones; give it more documents or a non-zero held-out "
        "fraction, then re-run.",
    ):
        specialization(
            labels,
            fire,
            category,
            np.array(["histogram"] * 4),
            cfg,
            "x.npz",
            doc_id=doc_id,
            histogram_documents=doc_id,
        )


def test_config_check_requires_k2_and_known_layers():
    base = {
        "features": {"layers": [1, 2]},
        "lobes": {
            "ks": [2, 3],
            "layers": None,
            "figures": {"k": 2},
            "specialization": {"code_categories": ["code"], "other_categories": None},
        },
    }
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
    assert np.isnan(_null_test(0.9, np.full(5, 0.5), 1).z)


def test_specialization_streamed_in_blocks_equals_whole_matrix(tmp_path):
    """The workflow streams firings.npz block by block; the histograms and verdicts are those
    of the whole matrix."""
    from concept_geometry import io
    from concept_geometry.lobes.pipeline import specialization

    rng = np.random.default_rng(0)
    n_chunks, n_feat = 230, 30
    fire = sp.csr_matrix((rng.random((n_chunks, n_feat)) < 0.15).astype(np.uint8))
    labels = pd.concat(
        [
            pd.DataFrame(
                {
                    "variant": v,
                    "clustering": "dense",
                    "measure": m,
                    "k": k,
                    "feature": np.arange(n_feat),
                    "lobe": rng.integers(-1 if v == "corrected" else 0, k, n_feat),
                }
            )
            for v in ("faithful", "corrected")
            for m in ("phi", "jaccard")
            for k in (2, 3)
        ],
        ignore_index=True,
    )
    category = rng.choice(["code", "prose", "web"], n_chunks)
    split = rng.choice(["histogram", "heldout"], n_chunks)
    doc_id = np.arange(n_chunks) // 2
    cfg = {
        "measures": ["phi", "jaccard"],
        "ks": [2, 3],
        "specialization": {
            "code_categories": ["code"],
            "other_categories": None,
            "max_documents": 40,
        },
    }
    kw = dict(doc_id=doc_id, histogram_documents=np.unique(doc_id[split == "histogram"]))
    whole, verdicts = specialization(labels, fire, category, split, cfg, "f.npz", **kw)
    io.write_npz(tmp_path / "f.npz", firings=fire)
    blocks = io.iter_sparse_rows(tmp_path / "f.npz", "firings", block_rows=17)
    streamed, verdicts_streamed = specialization(
        labels, blocks, category, split, cfg, "f.npz", **kw
    )
    pd.testing.assert_frame_equal(whole, streamed)
    assert verdicts == verdicts_streamed


# --- faithful = the official code's numbers (issue 12, items 3-5) -------------------------------


def _official_affinity(histogram: np.ndarray, n_chunks: int, measure: str) -> np.ndarray:
    """The official affinities, re-derived from feature-geometry
    ``brain/experiments/all-occurrences0/cluster.py`` (``load_matrix``: Jaccard =
    histogram / (diag_i + diag_j - histogram), NaN -> 0), ``cluster_phi.py`` (``get_phi`` on
    int64 counts, NaN and inf -> 0, then ``phi + 1`` in ``main``) and ``cluster_smc.py``
    (``(c00 + c11) / T``, no guard). ``histogram`` is the co-occurrence matrix whose diagonal
    holds the occurrences, as the official npz."""
    h = histogram.astype(np.int64)
    ni = np.diag(h)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if measure == "jaccard":
            out = h / (ni[:, None] + ni[None, :] - h)
            out[np.isnan(out)] = 0
            return out
        if measure == "simple_matching":
            return ((n_chunks - ni[:, None] - ni[None, :] + h) + h) / n_chunks
        n11, n10 = h, ni[:, None] - h
        n00, n01 = n_chunks - ni[:, None] - ni[None, :] + h, (ni[:, None] - h).T
        out = (n11 * n00 - n10 * n01) / np.sqrt(
            (n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00)
        )
        out[np.isnan(out) | np.isinf(out)] = 0
        return out + 1


def _lobes_cfg(**clustering):
    return {
        "ks": [2, 3],
        "measures": ["jaccard", "simple_matching", "phi"],
        "shift_phi": True,
        "clustering": {
            "method": "auto",
            "dense_max_features": 4096,
            "n_neighbors": 8,
            "n_init": 10,
            **clustering,
        },
    }


def test_faithful_lobes_are_the_official_dense_call_on_every_feature():
    """Issue 12 items 3-4. The faithful labels equal sklearn
    ``SpectralClustering(n_clusters=k, affinity="precomputed", assign_labels="kmeans",
    random_state=...)`` with every other argument at its default (feature-geometry
    ``brain/experiments/all-occurrences0/cluster.py``, ``cluster_phi.py``,
    ``cluster_smc.py``: ``perform_spectral_clustering``), on the official affinity of ALL
    features, never-firing ones included -- even when the corrected variant, above
    ``dense_max_features``, takes the kNN-sparse route and drops them. Tolerance: identical
    labels (same input, same seed)."""
    from sklearn.cluster import SpectralClustering

    from concept_geometry.lobes.pipeline import active_features, cluster_all
    from concept_geometry.seeding import derive_seed

    lobe, decoder, fire, _ = planted(n_feat=45, n_chunks=200, seed=4)
    fire[:, [3, 17, 30]] = 0  # three features that never fire
    counts, occ = fire.T @ fire, fire.sum(0)
    active = active_features(occ, 1)
    labels = cluster_all(
        counts,
        occ,
        fire.shape[0],
        decoder,
        active,
        _lobes_cfg(dense_max_features=20),
        seed=7,
        layer=5,
    )
    faithful = labels[labels.variant == "faithful"]
    corrected = labels[labels.variant == "corrected"]
    assert set(faithful.clustering) == {"dense"} and set(corrected.clustering) == {"sparse"}
    assert (faithful.lobe >= 0).all()
    assert set(corrected[corrected.lobe < 0].feature) == {3, 17, 30}
    for measure in ("jaccard", "simple_matching", "phi"):
        aff = _official_affinity(counts, fire.shape[0], measure)
        if measure == "phi":  # a dead feature has phi + 1 = 1 to everything; Jaccard 0
            np.testing.assert_array_equal(aff[3], 1.0)
        if measure == "jaccard":
            np.testing.assert_array_equal(aff[3], 0.0)
        for k in (2, 3):
            official = SpectralClustering(
                n_clusters=k,
                affinity="precomputed",
                assign_labels="kmeans",
                random_state=derive_seed(7, "lobes", "cluster", 5, measure),
            ).fit_predict(aff)
            ours = faithful[(faithful.measure == measure) & (faithful.k == k)]
            np.testing.assert_array_equal(
                ours.sort_values("feature").lobe.to_numpy(), official, err_msg=f"{measure}, k={k}"
            )


@pytest.mark.parametrize("n_init", [None, 3])
def test_dense_route_is_one_official_call_per_k_bit_for_bit(n_init):
    """``spectral_lobes_dense`` computes the Laplacian and the shift-invert LU once for all
    ks; its labels must still be, bit for bit, those of one official call per k
    (feature-geometry ``brain/experiments/all-occurrences0/cluster.py``,
    ``perform_spectral_clustering``: ``SpectralClustering(n_clusters=k,
    affinity="precomputed", assign_labels="kmeans", random_state=...)``, defaults
    elsewhere). Affinities: uniform noise (nearly degenerate spectrum: any change in the
    ARPACK operator or start vector shows), planted blocks, and one with isolated features
    (a disconnected graph, as never-firing features make under Jaccard)."""
    import warnings

    from sklearn.cluster import SpectralClustering

    from concept_geometry.lobes.clustering import spectral_lobes_dense

    gen = np.random.default_rng(21)
    n = 160
    noise = gen.random((n, n))
    noise = (noise + noise.T) / 2
    block = np.repeat(np.arange(4), n // 4)
    planted_aff = np.where(block[:, None] == block[None, :], 0.8, 0.1) + 0.05 * noise
    isolated = planted_aff.copy()
    isolated[:6] = 0.0
    isolated[:, :6] = 0.0
    ks = [2, 3, 4, 8, 16]
    for name, aff in (("noise", noise), ("planted", planted_aff), ("isolated", isolated)):
        ours = spectral_lobes_dense(aff, ks, seed=13, n_init=n_init)
        assert sorted(ours) == ks
        for k in ks:
            extra = {} if n_init is None else {"n_init": n_init}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                official = SpectralClustering(
                    n_clusters=k,
                    affinity="precomputed",
                    assign_labels="kmeans",
                    random_state=13,
                    **extra,
                ).fit_predict(aff)
            np.testing.assert_array_equal(ours[k], official, err_msg=f"{name}, k={k}")
        if name == "planted":  # and it finds the planted blocks at k = 4
            from sklearn.metrics import adjusted_rand_score

            assert adjusted_rand_score(block, ours[4]) == 1.0


def test_faithful_phi_multiplies_the_margins_in_int64_as_the_official_code():
    """Issue 12 item 4 (official affinities). feature-geometry
    ``brain/experiments/all-occurrences0/cluster_phi.py`` (``load_matrix`` casts the counts
    to int64, ``get_phi`` multiplies the four margins in int64): at the paper's ~10^5 chunks
    the product wraps past 2^63 for frequent features. The faithful affinity reproduces it
    (re-derived by ``_official_affinity``); the float64 phi does not. Tolerance 1e-12."""
    gen = np.random.default_rng(6)
    n_chunks, n = 150_000, 12
    occ = gen.integers(1_000, 120_000, n)
    occ[0] = 0  # never fires
    c = np.minimum(occ[:, None], occ[None, :]) * gen.uniform(0.2, 0.9, (n, n))
    c = np.maximum(np.triu(c, 1), np.triu(c, 1).T).astype(np.int64)  # symmetric
    c = np.maximum(c, occ[:, None] + occ[None, :] - n_chunks)  # n00 >= 0
    np.fill_diagonal(c, occ)
    official = _official_affinity(c, n_chunks, "phi")
    ours = A.affinity_rows(c, occ, occ, n_chunks, "phi", shift_phi=True, official_int64=True)
    np.testing.assert_allclose(ours, official, rtol=0, atol=1e-12)
    plain = A.cooccurrence_affinity(c, occ, n_chunks, "phi", shift_phi=True)
    assert np.abs(plain - official).max() > 0.1  # some products wrapped: the test has power


def test_null_spread_is_population_std_faithful_and_sample_std_corrected():
    """Issue 12 item 5. The official notebook's z-scores use ``np.std`` (ddof 0) of the null
    (feature-geometry ``brain/notebooks/clusters3 (comparison).ipynb``, cells 17 and 19);
    the corrected variant uses ddof 1. Tolerance 1e-12."""
    from concept_geometry.lobes.significance import NULL_DDOF, _null_test

    faithful = _null_test(3.0, [0.0, 1.0, 2.0], NULL_DDOF["faithful"])
    corrected = _null_test(3.0, [0.0, 1.0, 2.0], NULL_DDOF["corrected"])
    assert faithful.null_std == pytest.approx(np.sqrt(2 / 3), abs=1e-12)
    assert faithful.z == pytest.approx(2 / np.sqrt(2 / 3), abs=1e-12)  # 3.67
    assert corrected.null_std == pytest.approx(1.0, abs=1e-12) and corrected.z == pytest.approx(2.0)
    # the AMI permutation null, re-derived (permuting either labelling is the same null)
    gen = np.random.default_rng(3)
    lobes, geo = gen.integers(0, 3, 80), gen.integers(0, 3, 80)
    perm = np.random.default_rng(11)
    null = [adjusted_mutual_info_score(geo, perm.permutation(lobes)) for _ in range(30)]
    res = ami_permutation_test(lobes, geo, 30, seed=11, ddof=NULL_DDOF["faithful"])
    assert res.null_std == pytest.approx(np.std(null), abs=1e-12)
    assert res.z == pytest.approx(
        (adjusted_mutual_info_score(geo, lobes) - np.mean(null)) / np.std(null), abs=1e-9
    )


def test_tests_table_uses_each_variants_null_spread_for_ami_and_probe(monkeypatch):
    """Issue 12 item 5, end to end: the spread behind every z of tests.tsv is the variant's
    (faithful: np.std, ddof 0; corrected: ddof 1), for the AMI test and the probe test alike.
    AMI and probe accuracy are replaced by a script: observed 3, null 0, 1, 2, so the null
    mean is 1 and by hand faithful std sqrt(2/3) = 0.816, z = 2 / 0.816 = 3.67; corrected
    std 1, z 2."""
    import sklearn.metrics

    from concept_geometry.lobes import significance
    from concept_geometry.lobes.pipeline import LABEL_COLUMNS, run_tests

    def script():
        values = iter([3.0, 0.0, 1.0, 2.0] * 8)
        return lambda *args, **kwargs: next(values)

    # ami_permutation_test imports the score at call time; probe_test looks it up in its module
    monkeypatch.setattr(sklearn.metrics, "adjusted_mutual_info_score", script())
    monkeypatch.setattr(significance, "probe_balanced_accuracy", script())
    lobe = np.array([0, 1, 0, 1, 0, 1])
    labels = pd.DataFrame(
        [
            (v, "dense", m, 2, f, lobe[f])
            for v in ("faithful", "corrected")
            for m in ("phi", A.GEOMETRIC)
            for f in range(6)
        ],
        columns=LABEL_COLUMNS,
    )
    cfg = {
        "measures": ["phi"],
        "ks": [2],
        "ami": {"n_permutations": 3},
        "probe": {
            "ks": None,
            "n_null": 3,
            "faithful_train_fraction": 0.8,
            "n_splits": 2,
            "C": 1.0,
            "max_iter": 10,
        },
    }
    decoder = np.random.default_rng(0).standard_normal((6, 4))
    table = run_tests(labels, decoder, cfg, seed=0, layer=1).set_index("variant")
    expected = {"faithful": (np.sqrt(2 / 3), 2 / np.sqrt(2 / 3)), "corrected": (1.0, 2.0)}
    for variant, (std, z) in expected.items():
        row = table.loc[variant]
        for test in ("ami", "acc"):
            assert row[f"{test}_null_mean"] == pytest.approx(1.0, abs=1e-12), (variant, test)
            assert row[f"{test}_null_std"] == pytest.approx(std, abs=1e-12), (variant, test)
            assert row[f"{test}_z"] == pytest.approx(z, abs=1e-12), (variant, test)
            # one-sided empirical p: no null value >= 3, so (1 + 0) / (1 + 3)
            assert row[f"{test}_p"] == pytest.approx(0.25, abs=1e-12), (variant, test)
        assert row["k"] == 2 and row["measure"] == "phi"
    assert (
        table.loc["faithful", "ami"] == 3.0 and table.loc["corrected", "balanced_accuracy"] == 3.0
    )


def test_faithful_probe_is_the_official_fit_model():
    """Issue 12 item 5. Re-derives ``fit_model`` of feature-geometry
    ``brain/notebooks/clusters3 (comparison).ipynb``, cell 13: the first
    ``int(len(labels) * 0.8)`` features (floor, not round) train an unweighted
    ``LogisticRegression(max_iter=1000)`` on the decoder rows as given, balanced accuracy on
    the rest. n = 87: floor 69 vs round 70 train features. Tolerance 1e-12."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score

    def fit_model(X, labels, split=0.8):
        n = int(len(labels) * split)
        clf = LogisticRegression(max_iter=1000).fit(X[:n], labels[:n])
        return balanced_accuracy_score(labels[n:], clf.predict(X[n:]))

    gen = np.random.default_rng(8)
    y = gen.integers(0, 2, 87)
    X = (gen.standard_normal((87, 6)) + 0.6 * y[:, None]) * gen.uniform(0.2, 5.0, (87, 1))
    official = fit_model(X, y)
    ours = probe_test(X, y, "faithful", n_null=2, seed=0, C=1.0, max_iter=1000).observed
    assert ours == pytest.approx(official, abs=1e-12)
    with_round = balanced_accuracy_score(
        y[70:], LogisticRegression(max_iter=1000).fit(X[:70], y[:70]).predict(X[70:])
    )
    assert abs(with_round - official) > 1e-3  # the test tells floor from round


def _official_specialization(lobes, chunk_sets, chunk_types, k):
    """The official loop of feature-geometry ``brain/notebooks/clusters4 (lobe
    functions).ipynb``, cell 16 (scores |lobe ∩ chunk| / |lobe| over every feature, winner
    ``max(dict, key=dict.get)``), and cell 23's per-type fractions (Counter / total)."""
    from collections import Counter, defaultdict

    members = {lo: set(np.flatnonzero(lobes == lo)) for lo in range(k)}
    won = defaultdict(list)
    for fired, doc_type in zip(chunk_sets, chunk_types, strict=False):
        props = {lo: len(members[lo] & fired) / len(members[lo]) for lo in range(k)}
        won[doc_type].append(max(props, key=props.get))
    return {t: {lo: c / len(w) for lo, c in Counter(w).items()} for t, w in won.items()}


def test_faithful_specialization_is_the_official_loop_on_the_first_documents():
    """Issue 12 items 5 and 8. Faithful: the official loop (see ``_official_specialization``)
    over the chunks of the first ``max_documents`` histogram documents in corpus order
    (chunkless documents count, as ``islice(dataset, 10000)`` counts documents), a chunk
    where nothing fired won by lobe 0; corrected: held-out chunks only, such chunks left
    out. Tolerance 1e-12 on every fraction."""
    from concept_geometry.lobes.pipeline import specialization

    gen = np.random.default_rng(2)
    n_feat, k = 24, 3
    lobes = gen.permutation(np.arange(n_feat) % k)
    doc_of_chunk = np.repeat(np.arange(30), gen.integers(0, 4, 30))  # some docs: no chunk
    n_chunks = doc_of_chunk.size
    doc_split = np.where(np.arange(30) % 5 == 4, "heldout", "histogram")
    fire = (gen.random((n_chunks, n_feat)) < 0.08).astype(np.uint8)
    fire[::4] = 0  # chunks where no feature fired
    category = gen.choice(["code", "prose"], n_chunks)
    split = doc_split[doc_of_chunk]
    labels = pd.concat(
        [
            pd.DataFrame(
                {
                    "variant": v,
                    "clustering": "dense",
                    "measure": "phi",
                    "k": k,
                    "feature": np.arange(n_feat),
                    "lobe": lobes,
                }
            )
            for v in ("faithful", "corrected")
        ],
        ignore_index=True,
    )
    cfg = {
        "measures": ["phi"],
        "ks": [k],
        "specialization": {
            "code_categories": ["code"],
            "other_categories": None,
            "max_documents": 10,
        },
    }
    histogram_docs = np.flatnonzero(doc_split == "histogram")
    spec, _ = specialization(
        labels,
        sp.csr_matrix(fire),
        category,
        split,
        cfg,
        "firings.npz",
        doc_id=doc_of_chunk,
        histogram_documents=histogram_docs,
    )
    first10 = histogram_docs[:10]  # ids 0..12 without 4 and 9, chunked or not
    rows = np.flatnonzero(np.isin(doc_of_chunk, first10))
    official = _official_specialization(
        lobes, [set(np.flatnonzero(fire[r])) for r in rows], category[rows], k
    )
    faithful = spec[spec.variant == "faithful"]
    for cat, fractions in official.items():
        got = faithful[faithful.category == cat].set_index("lobe")["fraction"]
        for lo in range(k):
            assert got[lo] == pytest.approx(fractions.get(lo, 0.0), abs=1e-12), (cat, lo)
    assert faithful.groupby("category")["n_chunks"].first().sum() == rows.size
    # corrected: held-out chunks with at least one firing feature
    corrected = spec[spec.variant == "corrected"]
    scored = (split == "heldout") & (fire.sum(1) > 0)
    assert corrected.groupby("category")["n_chunks"].first().sum() == scored.sum()


def test_align_lobe_ids_undoes_a_planted_relabelling():
    """Feature-cloud colours: a panel whose lobes are the reference's under other ids (and a
    few features moved) gets the reference's ids back; excluded features (-1) stay."""
    from concept_geometry.lobes.plots import align_lobe_ids

    rng = np.random.default_rng(0)
    reference = rng.integers(0, 4, size=200)
    permutation = np.array([2, 0, 3, 1])  # reference lobe i is called permutation[i]
    panel = permutation[reference]
    moved = rng.choice(200, size=15, replace=False)  # some disagreement between the panels
    panel[moved] = rng.integers(0, 4, size=15)
    panel[:5] = -1
    out = align_lobe_ids(reference, panel)
    assert (out[:5] == -1).all()
    keep = np.setdiff1d(np.arange(5, 200), moved)
    assert (out[keep] == reference[keep]).all()
    # the mapping is one-to-one: four lobes in, four distinct ids out
    assert sorted(set(out[out >= 0].tolist())) == [0, 1, 2, 3]


def test_geometric_affinity_of_antipodal_and_parallel_rows_is_exact():
    """[1, 1, 1]/√3 has a rounded self inner product of 1 + 2⁻⁵²: the cosines are clipped, so
    the row and its opposite get exactly 1 and 0, not NaN."""
    g = A.geometric_affinity(np.array([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0], [1.0, 0.0, 0.0]]))
    assert g[0, 0] == 1.0 and g[0, 1] == 0.0 and g[1, 0] == 0.0
    assert g[0, 2] == pytest.approx(1 - np.arccos(1 / np.sqrt(3)) / np.pi)


def test_phi_is_shifted_by_one_by_default():
    """Two features over 4 chunks, firing in chunks {0, 1} and {1, 2}: n11 = 1, n10 = n01 =
    n00 = 1, so phi = (1·1 − 1·1)/√(2·2·2·2) = 0; the default adds 1 (the official code)."""
    counts = np.array([[2, 1], [1, 2]])
    occ = np.array([2, 2])
    assert A.cooccurrence_affinity(counts, occ, 4, "phi")[0, 1] == 1.0
    assert A.cooccurrence_affinity(counts, occ, 4, "phi", shift_phi=False)[0, 1] == 0.0


@pytest.mark.parametrize(
    "lobes, needle",
    [
        ({"probe": {"ks": [3]}}, "key `lobes.probe.ks` = [3] lacks 2"),
        (
            {
                "specialization": {
                    "code_categories": ["py", "c"],
                    "other_categories": ["c", "prose"],
                }
            },
            "`lobes.specialization.other_categories` share categories ['c']",
        ),
        ({"figures": {"k": 5}}, "key `lobes.figures.k` = 5 is not in `lobes.ks` = [2, 3]"),
    ],
)
def test_lobes_cross_checks_name_the_key(lobes, needle):
    cfg = {"features": {"layers": [1]}, "lobes": {"ks": [2, 3], **lobes}}
    with pytest.raises(ConfigError) as err:
        check_lobes_config(cfg)
    assert str(err.value).startswith("Invalid config: key") and needle in str(err.value)


def test_lobes_cross_checks_accept_consistent_settings():
    check_lobes_config(
        {
            "features": {"layers": [1]},
            "lobes": {
                "ks": [2, 3],
                "layers": [1],
                "probe": {"ks": [2]},
                "figures": {"k": 3},
                "specialization": {"code_categories": ["py"], "other_categories": ["prose"]},
            },
        }
    )
    check_lobes_config({"lobes": {"ks": [2], "probe": {"ks": None}, "figures": {"k": None}}})
    check_lobes_config({})


# --- issue 15: mutation-testing gaps ------------------------------------------------------


def test_feature_data_checks_name_the_problem():
    from concept_geometry.lobes.pipeline import check_inputs

    counts, occ, dec = np.zeros((3, 3)), np.zeros(3), np.zeros((3, 2))
    check_inputs(counts, occ, 5, dec, "layer 1")
    with pytest.raises(InputDataError, match=r"decoder \(2, 2\); all must have the same number"):
        check_inputs(counts, occ, 5, np.zeros((2, 2)), "layer 1")
    with pytest.raises(
        InputDataError,
        match=r"layer 1 count no histogram chunks \(n_chunks=0\).*"
        r"Enlarge `features.corpus` or lower the chunk size, "
        r"then re-run\.$",
    ):
        check_inputs(counts, occ, 0, dec, "layer 1")


def test_summary_rows_name_variant_route_and_code_lobe_by_hand():
    from concept_geometry import registry
    from concept_geometry.lobes import quantities

    def summary_rows(tests, verdicts, layer, model):
        return registry.stage_rows("lobes", model, quantities.tables(tests, verdicts, layer))

    tests = pd.DataFrame(
        {
            "measure": ["phi", "phi"],
            "k": [2, 2],
            "variant": ["faithful", "corrected"],
            "ami": [0.5, 0.4],
            "ami_z": [3.0, 2.0],
            "balanced_accuracy": [0.9, 0.8],
            "acc_z": [4.0, 5.0],
            "ami_p": [0.01, 0.02],
            "acc_p": [0.03, 0.04],
            "clustering": ["dense", "sparse"],
            "n_excluded": [0, 7],
        }
    )
    verdicts = {"phi": {"faithful": {"found": True}, "corrected": None}}
    table = summary_rows(tests, verdicts, 3, "m")
    assert table.columns.tolist() == ["stage", "quantity", "setting", "model", "value"]
    assert set(table["stage"]) == {"lobes"} and set(table["model"]) == {"m"}
    rows = table.set_index(["quantity", "setting"])["value"]
    assert rows[("ami_z", "layer=3,measure=phi,k=2,variant=faithful")] == 3.0
    assert rows[("acc_p", "layer=3,measure=phi,k=2,variant=corrected,clustering=sparse")] == 0.04
    assert rows[("n_excluded", "layer=3,variant=corrected")] == 7
    assert rows[("code_lobe_found", "layer=3,measure=phi,k=2,variant=faithful")] == 1.0
    assert np.isnan(
        rows[("code_lobe_found", "layer=3,measure=phi,k=2,variant=corrected,clustering=sparse")]
    )
    assert len(rows) == 2 * 6 + 1 + 2


def test_tests_table_counts_excluded_features_and_draws_per_measure():
    """Corrected lobes with 3 of 20 features excluded (-1): 17 tested, 3 excluded; faithful
    keeps all 20. Two measures with identical lobes get their own probe null draws."""
    from concept_geometry.lobes.pipeline import LABEL_COLUMNS, run_tests

    rng = np.random.default_rng(1)
    lobe = np.tile([0, 1], 10)
    corrected = lobe.copy()
    corrected[[0, 5, 9]] = -1
    labels = pd.DataFrame(
        [
            (v, "dense", m, 2, f, (lobe if v == "faithful" else corrected)[f])
            for v in ("faithful", "corrected")
            for m in ("phi", "jaccard", A.GEOMETRIC)
            for f in range(20)
        ],
        columns=LABEL_COLUMNS,
    )
    cfg = {
        "measures": ["phi", "jaccard"],
        "ks": [2],
        "ami": {"n_permutations": 5},
        "probe": {
            "ks": None,
            "n_null": 4,
            "faithful_train_fraction": 0.5,
            "n_splits": 2,
            "C": 1.0,
            "max_iter": 50,
        },
    }
    table = run_tests(labels, rng.standard_normal((20, 3)), cfg, seed=0, layer=1)
    by = table.set_index(["measure", "variant"])
    assert (
        by.loc[("phi", "corrected"), "n_features"] == 17
        and by.loc[("phi", "corrected"), "n_excluded"] == 3
    )
    assert (
        by.loc[("phi", "faithful"), "n_features"] == 20
        and by.loc[("phi", "faithful"), "n_excluded"] == 0
    )
    for variant in ("faithful", "corrected"):
        assert by.loc[("phi", variant), "ami"] == by.loc[("jaccard", variant), "ami"]
    assert (
        by.loc[("phi", "corrected"), "acc_null_mean"]
        != by.loc[("jaccard", "corrected"), "acc_null_mean"]
        or by.loc[("phi", "faithful"), "acc_null_mean"]
        != by.loc[("jaccard", "faithful"), "acc_null_mean"]
    )


def test_cluster_measure_passes_the_official_int64_phi_on(monkeypatch):
    """Two features firing together in exactly half of T = 2^22 chunks: phi = 1, affinity
    phi + 1 = 2; in int64 the margin product (2^21 · 2^21)^2 = 2^84 wraps to 0, the ratio is
    undefined, set to 0, so the official affinity is 1 everywhere."""
    from concept_geometry.lobes import clustering

    seen = {}

    def capture(affinity, ks, seed, n_init=None):
        seen["affinity"] = affinity.copy()
        return {k: np.zeros(affinity.shape[0], dtype=np.int64) for k in ks}

    monkeypatch.setattr(clustering, "spectral_lobes_dense", capture)
    t = 2**22
    counts, occ = np.full((2, 2), t // 2), np.full(2, t // 2)
    clustering.cluster_measure(
        "phi",
        [2],
        0,
        method="dense",
        counts=counts,
        occurrences=occ,
        n_chunks=t,
        official_int64=True,
    )
    np.testing.assert_array_equal(seen["affinity"], np.ones((2, 2)))
    clustering.cluster_measure(
        "phi", [2], 0, method="dense", counts=counts, occurrences=occ, n_chunks=t
    )
    np.testing.assert_allclose(seen["affinity"], np.full((2, 2), 2.0))


def test_a_lobe_without_features_never_wins():
    """k = 3 but lobe 2 has no feature: its score is 0 (no 0/0), so it never wins; the
    division raises no floating-point warning."""
    import warnings

    lobes = np.array([0, 0, 1, 1])
    fire = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 1, 1], [1, 1, 1, 0]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(chunk_winners(fire, lobes, 3), [0, 1, 0])


def test_code_lobe_against_named_other_categories():
    """Code chunks won by lobe 0; prose by lobe 1; web by lobe 0. Against prose only, the
    code lobe (0) differs from the other lobe (1); against every non-code chunk (prose + web:
    lobe 0 wins 2 of 3) it does not."""
    winners = np.array([0, 0, 1, 0, 0])
    category = np.array(["code", "code", "prose", "web", "web"])
    named = find_code_lobe(winners, category, ["code"], ["prose"], 2)
    assert (named.code_lobe, named.other_lobe, named.found) == (0, 1, True)
    assert named.code_share == 1.0 and named.other_share_in_code_lobe == 0.0
    rest = find_code_lobe(winners, category, ["code"], None, 2)
    assert (rest.code_lobe, rest.other_lobe, rest.found) == (0, 0, False)
    assert rest.other_share_in_code_lobe == pytest.approx(2 / 3)


def test_sparse_spectral_embedding_is_reproducible_and_scaled_by_inverse_root_degree():
    """A connected graph with unequal degrees: the top eigenvector of D^-1/2 A D^-1/2 is
    proportional to sqrt(degree), so after the D^-1/2 row scaling the first column is
    constant (sklearn's ``spectral_embedding`` convention). The seeded ARPACK start vector
    makes two calls identical to the bit."""
    from concept_geometry.lobes.clustering import spectral_embedding_sparse

    rng = np.random.default_rng(0)
    n = 40
    dense = np.triu(rng.random((n, n)) < 0.3, 1) * rng.uniform(0.5, 3.0, (n, n))
    dense = dense + dense.T
    dense[0, 1:] = dense[1:, 0] = 2.0  # a hub: connected, degrees far apart
    graph = sp.csr_matrix(dense)
    degree = dense.sum(1)
    assert degree.max() / degree.min() > 3
    emb = spectral_embedding_sparse(graph, 3, seed=5)
    assert emb.shape == (n, 3)
    first = emb[:, 0] / emb[0, 0]
    np.testing.assert_allclose(first, 1.0, atol=1e-6)
    # every column solves the generalised problem A v = lambda D v (lambda: 1 first)
    lam = [(v @ dense @ v) / (v @ (degree * v)) for v in emb.T]
    assert lam[0] == pytest.approx(1.0, abs=1e-8) and lam[0] > lam[1] > lam[2]
    for v, lam_v in zip(emb.T, lam, strict=False):
        np.testing.assert_allclose(
            dense @ v, lam_v * degree * v, atol=1e-6 * np.abs(degree * v).max()
        )
    np.testing.assert_array_equal(spectral_embedding_sparse(graph, 3, seed=5), emb)


def test_sparse_route_uses_the_seed_and_needs_n_init(monkeypatch):
    """The sparse route hands its seed and n_init to the embedding and k-means."""
    from concept_geometry.lobes import clustering

    seen = []
    monkeypatch.setattr(
        clustering,
        "_kmeans_labels",
        lambda maps, k, seed, n_init: (
            seen.append((seed, n_init)) or np.zeros(maps.shape[0], dtype=np.int64)
        ),
    )
    lobe, decoder, fire, _ = planted(n_feat=30)
    kw = dict(
        method="sparse",
        n_neighbors=5,
        counts=fire.T @ fire,
        occurrences=fire.sum(0),
        n_chunks=fire.shape[0],
    )
    res = clustering.cluster_measure("jaccard", [2, 3], 123, n_init=4, **kw)
    assert res.method == "sparse" and sorted(res.labels) == [2, 3]
    assert seen == [(123, 4), (123, 4)]


def test_probe_null_uses_the_same_probe_settings():
    """Faithful probe with train_fraction 0.5 on labels 0 x 50 then 1 x 50: the training half
    holds lobe 0 only, so every prediction is 0 and the balanced accuracy on the all-1 test
    half is exactly 0, for the decoder and for every null draw alike (null mean 0, spread 0,
    z undefined). With the default 0.8 the null draws would see both lobes."""
    gen = np.random.default_rng(4)
    y = np.r_[np.zeros(50, int), np.ones(50, int)]
    res = probe_test(
        gen.standard_normal((100, 6)), y, "faithful", n_null=4, seed=0, train_fraction=0.5
    )
    assert res.observed == 0.0 and res.null_mean == 0.0 and res.null_std == 0.0
    assert np.isnan(res.z) and res.p == 1.0
    with pytest.raises(
        ValueError,
        match=r"unknown variant 'both'; expected one of "
        r"\('faithful', 'corrected'\)",
    ):
        probe_balanced_accuracy(gen.standard_normal((10, 2)), y[:10], "both", 0)


def test_tests_table_names_each_variants_route_and_skips_probe_ks(monkeypatch):
    """Faithful lobes dense, corrected lobes sparse with dense geometric clusters: the
    clustering column says so per variant. With lobes.probe.ks = [2] and ks = [2, 3], the
    probe runs at k = 2 only (NaN at k = 3), the AMI test at both."""
    from concept_geometry.lobes import significance
    from concept_geometry.lobes.pipeline import LABEL_COLUMNS, run_tests

    settings = []
    monkeypatch.setattr(
        significance, "probe_balanced_accuracy", lambda *a, **kw: settings.append(kw) or 0.5
    )
    route = {
        ("faithful", "phi"): "dense",
        ("faithful", A.GEOMETRIC): "dense",
        ("corrected", "phi"): "sparse",
        ("corrected", A.GEOMETRIC): "dense",
    }
    labels = pd.DataFrame(
        [(v, route[(v, m)], m, k, f, f % 2) for v, m in route for k in (2, 3) for f in range(8)],
        columns=LABEL_COLUMNS,
    )
    cfg = {
        "measures": ["phi"],
        "ks": [2, 3],
        "ami": {"n_permutations": 3},
        "probe": {
            "ks": [2],
            "n_null": 2,
            "faithful_train_fraction": 0.5,
            "n_splits": 2,
            "C": 1.0,
            "max_iter": 10,
        },
    }
    table = run_tests(labels, np.ones((8, 2)), cfg, seed=0, layer=1)
    by = table.set_index(["k", "variant"])
    assert by.loc[(2, "faithful"), "clustering"] == "dense"
    assert by.loc[(2, "corrected"), "clustering"] == "dense+sparse"
    assert by.loc[(2, "corrected"), "balanced_accuracy"] == 0.5
    assert np.isnan(by.loc[(3, "corrected"), "balanced_accuracy"])
    assert np.isnan(by.loc[(3, "faithful"), "acc_z"])
    assert by.loc[(3, "faithful"), "ami"] == pytest.approx(1.0)  # lobes = clusters
    # every probe, observed and null, runs with the configured settings
    assert len(settings) == 2 * (1 + 2) and all(
        kw == dict(train_fraction=0.5, n_splits=2, C=1.0, max_iter=10) for kw in settings
    )


def test_knn_sparsify_accepts_integer_affinities():
    """Integer affinity blocks (counts) give the same graph as their float64 copy."""
    aff = np.array([[9, 7, 1, 2], [7, 9, 3, 1], [1, 3, 9, 8], [2, 1, 8, 9]])
    as_int = knn_sparsify_blocks([(slice(0, 2), aff[:2]), (slice(2, 4), aff[2:])], 4, 1)
    as_float = knn_sparsify_blocks([(slice(0, 4), aff.astype(float))], 4, 1)
    expected = np.zeros((4, 4))
    expected[0, 1] = expected[1, 0] = 7
    expected[2, 3] = expected[3, 2] = 8
    np.testing.assert_array_equal(as_int.toarray(), expected)
    np.testing.assert_array_equal(as_float.toarray(), expected)


# --- issue 15, fresh sample (seed 4): the survivors' gaps ----------------------------------


def test_cluster_measure_passes_shift_phi_on(monkeypatch):
    """Two features that never fire together, each in 2 of T = 4 chunks: phi = -1 between
    them, 1 on the diagonal. Shifted (phi + 1): 2 on the diagonal, 0 off it; unshifted: 1 and
    -1, and the negative value clipped to 0."""
    from concept_geometry.lobes import clustering

    seen = {}

    def capture(affinity, ks, seed, n_init=None):
        seen["affinity"] = affinity.copy()
        return {k: np.zeros(affinity.shape[0], dtype=np.int64) for k in ks}

    monkeypatch.setattr(clustering, "spectral_lobes_dense", capture)
    kw = dict(method="dense", counts=np.diag([2, 2]), occurrences=np.array([2, 2]), n_chunks=4)
    clustering.cluster_measure("phi", [2], 0, shift_phi=False, **kw)
    np.testing.assert_allclose(seen["affinity"], np.eye(2), atol=1e-12)
    clustering.cluster_measure("phi", [2], 0, shift_phi=True, **kw)
    np.testing.assert_allclose(seen["affinity"], 2 * np.eye(2), atol=1e-12)


def test_cluster_all_routes_each_variant_as_documented(monkeypatch):
    """cluster_all's two routes: faithful clusters every feature by the official dense call
    (sklearn's n_init, phi + 1, int64 margins) whatever the config; corrected clusters the
    active features by the configured route, n_init and shift_phi. Feature 2 never fires."""
    from concept_geometry.lobes import pipeline
    from concept_geometry.lobes.clustering import LobeLabels

    calls = []

    def capture(measure, ks, seed, **kw):
        n = (kw["decoder"] if measure == A.GEOMETRIC else kw["occurrences"]).shape[0]
        calls.append((measure, seed, kw))
        return LobeLabels({k: np.arange(n) % k for k in ks}, kw["method"])

    monkeypatch.setattr(pipeline, "cluster_measure", capture)
    counts = np.array([[3, 1, 0], [1, 2, 0], [0, 0, 0]])
    occ, decoder = np.array([3, 2, 0]), np.arange(6.0).reshape(3, 2)
    cfg = {
        "ks": [2],
        "measures": ["phi"],
        "shift_phi": False,
        "clustering": {
            "method": "sparse",
            "dense_max_features": 7,
            "n_neighbors": 5,
            "n_init": 3,
        },
    }
    labels = pipeline.cluster_all(counts, occ, 9, decoder, np.array([0, 1]), cfg, 11, 4)
    assert len(calls) == 4  # (faithful, corrected) x (phi, geometric)
    faithful = dict(method="dense", n_init=None, shift_phi=True, official_int64=True)
    corrected = dict(
        method="sparse", dense_max_features=7, n_neighbors=5, n_init=3, shift_phi=False
    )
    for (measure, seed, kw), route, n in zip(
        calls,
        [faithful, faithful, corrected, corrected],
        [3, 3, 2, 2],
        strict=True,
    ):
        assert seed == pipeline.derive_seed(11, "lobes", "cluster", 4, measure)
        assert {key: kw[key] for key in route} == route, (measure, kw)
        if measure == A.GEOMETRIC:
            np.testing.assert_array_equal(kw["decoder"], decoder[:n])
        else:
            np.testing.assert_array_equal(kw["counts"], counts[:n, :n])
            np.testing.assert_array_equal(kw["occurrences"], occ[:n])
            assert kw["n_chunks"] == 9
    assert [c[0] for c in calls] == ["phi", A.GEOMETRIC] * 2
    corr = labels[(labels["variant"] == "corrected") & (labels["measure"] == "phi")]
    assert corr["lobe"].tolist() == [0, 1, -1] and set(corr["clustering"]) == {"sparse"}


def test_feature_data_checks_counts_shape_and_accept_one_chunk():
    """A counts matrix of the wrong size is refused on its own (occurrences and decoder
    agree); one histogram chunk is enough."""
    from concept_geometry.lobes.pipeline import check_inputs

    occ, dec = np.zeros(3), np.zeros((3, 2))
    check_inputs(np.zeros((3, 3)), occ, 1, dec, "c.npz")
    with pytest.raises(
        InputDataError,
        match=r"^Feature data c\.npz disagree: cooccurrence counts \(3, 2\), occurrences "
        r"\(3,\), decoder \(3, 2\)",
    ):
        check_inputs(np.zeros((3, 2)), occ, 1, dec, "c.npz")


def test_specialization_table_rows_and_verdicts_by_hand():
    """Two features, lobes 0 and 1. Histogram chunks: code fires feature 0 (lobe 0), prose
    feature 1 (lobe 1); held-out chunks the other way round. Each category has one chunk per
    split, so every fraction is 0 or 1 and every n_chunks 1; columns in the documented
    order (measure, k, variant, category, lobe, fraction, n_chunks)."""
    from concept_geometry.lobes.pipeline import LABEL_COLUMNS, specialization

    labels = pd.DataFrame(
        [(v, "dense", "phi", 2, f, f) for v in ("faithful", "corrected") for f in (0, 1)],
        columns=LABEL_COLUMNS,
    )
    fire = sp.csr_matrix(np.array([[1, 0], [0, 1], [0, 1], [1, 0]]))
    cfg = {
        "measures": ["phi"],
        "ks": [2],
        "specialization": {
            "code_categories": ["code"],
            "other_categories": None,
            "max_documents": None,
        },
    }
    spec, verdicts = specialization(
        labels,
        fire,
        np.array(["code", "prose", "code", "prose"]),
        np.array(["histogram", "histogram", "heldout", "heldout"]),
        cfg,
        "f.npz",
        doc_id=np.array([0, 1, 2, 3]),
        histogram_documents=np.array([0, 1]),
    )
    assert spec.columns.tolist() == [
        "measure",
        "k",
        "variant",
        "category",
        "lobe",
        "fraction",
        "n_chunks",
    ]
    expected = [
        ("phi", 2, "faithful", "code", 0, 1.0, 1),
        ("phi", 2, "faithful", "code", 1, 0.0, 1),
        ("phi", 2, "faithful", "prose", 0, 0.0, 1),
        ("phi", 2, "faithful", "prose", 1, 1.0, 1),
        ("phi", 2, "corrected", "code", 0, 0.0, 1),
        ("phi", 2, "corrected", "code", 1, 1.0, 1),
        ("phi", 2, "corrected", "prose", 0, 1.0, 1),
        ("phi", 2, "corrected", "prose", 1, 0.0, 1),
    ]
    assert [tuple(r) for r in spec.itertuples(index=False)] == expected
    common = dict(code_share=1.0, other_share_in_code_lobe=0.0, found=True, k=2, n_documents=2)
    assert verdicts == {
        "phi": {
            "faithful": dict(code_lobe=0, other_lobe=1, **common),
            "corrected": dict(code_lobe=1, other_lobe=0, **common),
        }
    }


def test_tests_table_seeds_each_test_by_its_own_stream(monkeypatch):
    """Every random test of tests.tsv takes its seed from config['seed'] through the named
    streams of ``derive_seed``: the probe per (layer, measure, k, variant), the AMI permutation
    test per (layer, measure, k), shared by the two variants (they permute the same lobes
    when no feature is excluded)."""
    from concept_geometry.lobes import tests_table
    from concept_geometry.lobes.pipeline import LABEL_COLUMNS
    from concept_geometry.lobes.significance import NullTest
    from concept_geometry.seeding import derive_seed

    probe_seeds, ami_seeds = {}, {}

    def probe(decoder, lobes, variant, n_null, seed, **kw):
        probe_seeds.setdefault(variant, []).append(seed)
        return NullTest(0.5, 0.5, 0.1, 0.0, 1.0)

    def ami(lobes, clusters, n_permutations, seed, ddof):
        ami_seeds.setdefault(ddof, []).append(seed)
        return NullTest(0.0, 0.0, 0.1, 0.0, 1.0)

    monkeypatch.setattr(tests_table, "probe_test", probe)
    monkeypatch.setattr(tests_table, "ami_permutation_test", ami)
    labels = pd.DataFrame(
        [
            (v, "dense", m, k, f, f % k)
            for v in ("faithful", "corrected")
            for m in ("phi", "jaccard", A.GEOMETRIC)
            for k in (2, 3)
            for f in range(6)
        ],
        columns=LABEL_COLUMNS,
    )
    cfg = {
        "measures": ["phi", "jaccard"],
        "ks": [2, 3],
        "ami": {"n_permutations": 3},
        "probe": {
            "ks": None,
            "n_null": 2,
            "faithful_train_fraction": 0.5,
            "n_splits": 2,
            "C": 1.0,
            "max_iter": 10,
        },
    }
    tests_table.run_tests(labels, np.ones((6, 2)), cfg, seed=7, layer=5)
    settings = [(m, k) for m in ("phi", "jaccard") for k in (2, 3)]
    for variant in ("faithful", "corrected"):
        assert probe_seeds[variant] == [
            derive_seed(7, "lobes", "probe", 5, m, k, variant) for m, k in settings
        ]
    for ddof in (0, 1):  # faithful, corrected
        assert ami_seeds[ddof] == [derive_seed(7, "lobes", "ami", 5, m, k) for m, k in settings]
    every = probe_seeds["faithful"] + probe_seeds["corrected"] + ami_seeds[0]
    assert len(set(every)) == 12 and all(isinstance(s, int) for s in every)


def test_tests_table_without_probe_ks_leaves_numeric_nan_columns(monkeypatch):
    """With no k probed (``probe.ks`` = [] at the function level), every probe column of every
    row is NaN, and the table's columns stay numeric (float), so the TSV reads back the same;
    the AMI columns are filled."""
    from concept_geometry.lobes import tests_table
    from concept_geometry.lobes.pipeline import LABEL_COLUMNS

    monkeypatch.setattr(
        tests_table, "probe_test", lambda *a, **kw: pytest.fail("probe ran at a skipped k")
    )
    labels = pd.DataFrame(
        [
            (v, "dense", m, 2, f, f % 2)
            for v in ("faithful", "corrected")
            for m in ("phi", A.GEOMETRIC)
            for f in range(6)
        ],
        columns=LABEL_COLUMNS,
    )
    cfg = {"measures": ["phi"], "ks": [2], "ami": {"n_permutations": 3}, "probe": {"ks": []}}
    table = tests_table.run_tests(labels, np.ones((6, 2)), cfg, seed=0, layer=1)
    assert table.columns.tolist() == tests_table.TEST_COLUMNS and len(table) == 2
    for col in ("balanced_accuracy", "acc_null_mean", "acc_null_std", "acc_z", "acc_p"):
        assert table[col].dtype == np.float64 and table[col].isna().all(), col
    assert (table["ami"] == 1.0).all()  # lobes = clusters


def test_lobes_summary_load_reads_every_layer_by_hand(tmp_path):
    """lobes.quantities.load, rule lobes_summary: one tests.tsv and one code_lobe.json per
    layer, in the order of params layers, become one unit per layer whose summary rows carry
    that layer's values (hand-made files, values chosen by hand)."""
    from concept_geometry import io, registry
    from concept_geometry.lobes import quantities

    paths = {"tests": [], "code_lobe": []}
    for layer, (ami, found) in {3: (0.25, True), 7: (0.75, False)}.items():
        tests = pd.DataFrame(
            {
                "measure": ["phi", "phi"],
                "k": [2, 2],
                "variant": ["faithful", "corrected"],
                "ami": [ami, ami + 0.1],
                "ami_z": [1.0, 2.0],
                "balanced_accuracy": [0.6, 0.7],
                "acc_z": [3.0, 4.0],
                "ami_p": [0.5, 0.25],
                "acc_p": [0.125, 0.0625],
                "clustering": ["dense", "sparse"],
                "n_excluded": [0, layer],
            }
        )
        io.write_tsv(tmp_path / f"tests_{layer}.tsv", tests)
        io.write_json(
            tmp_path / f"code_{layer}.json",
            {"phi": {"faithful": {"found": found}, "corrected": None}},
        )
        paths["tests"].append(str(tmp_path / f"tests_{layer}.tsv"))
        paths["code_lobe"].append(str(tmp_path / f"code_{layer}.json"))
    units = quantities.load(paths, {"layers": [3, 7], "model": "m"})
    assert [u.model for u in units] == ["m", "m"]
    rows = registry.summary_rows(registry.load_stage("lobes"), units)
    value = rows.set_index(["quantity", "setting"])["value"]
    assert len(value) == 2 * (2 * 6 + 1 + 2)
    for layer, ami, found in ((3, 0.25, 1.0), (7, 0.75, 0.0)):
        assert value[("ami", f"layer={layer},measure=phi,k=2,variant=faithful")] == ami
        assert value[
            ("ami", f"layer={layer},measure=phi,k=2,variant=corrected,clustering=sparse")
        ] == pytest.approx(ami + 0.1)
        assert value[("n_excluded", f"layer={layer},variant=corrected")] == layer
        assert (
            value[("code_lobe_found", f"layer={layer},measure=phi,k=2,variant=faithful")] == found
        )
        assert np.isnan(
            value[
                (
                    "code_lobe_found",
                    f"layer={layer},measure=phi,k=2,variant=corrected,clustering=sparse",
                )
            ]
        )


def test_cooccurrence_affinity_computes_phi_in_float64_without_wraparound():
    """Two features firing together in exactly half of T = 2^22 chunks: phi = 1, so phi + 1
    = 2 everywhere. The official int64 margin product (2^21 · 2^21)^2 = 2^84 would wrap to 0
    (affinity 1); the dense helper computes in float64 unless asked otherwise."""
    t = 2**22
    counts, occ = np.full((2, 2), t // 2), np.full(2, t // 2)
    np.testing.assert_allclose(A.cooccurrence_affinity(counts, occ, t, "phi"), np.full((2, 2), 2.0))
    np.testing.assert_allclose(
        A.affinity_rows(counts, occ, occ, t, "phi", True, official_int64=True), np.ones((2, 2))
    )


def test_code_lobe_undecided_when_either_group_has_no_scored_chunk():
    """Code chunks scored but no chunk of the other categories (absent, or unscored: -1), and
    the reverse: the verdict cannot be decided, so None."""
    winners = np.array([0, 0, -1, 1])
    category = np.array(["code", "code", "prose", "web"])
    assert find_code_lobe(winners, category, ["code"], ["prose"], 2) is None
    assert find_code_lobe(winners, category, ["math"], None, 2) is None
    assert find_code_lobe(winners, category, ["code"], ["web"], 2).found


def test_official_int64_phi_and_sparse_embedding_raise_no_floating_point_warning():
    """Feature 3 of the hand example never fires: its phi is 0/0, set to 0 without a
    RuntimeWarning; the other pairs are the hand values. The sparse spectral embedding of a
    graph with an isolated node (degree 0) warns about nothing either."""
    import warnings

    from concept_geometry.lobes.clustering import spectral_embedding_sparse

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        phi = A.phi_coefficient_int64(COUNTS, OCC[:, None], OCC[None, :], T)
        graph = sp.csr_matrix(np.array([[0, 2, 1, 0], [2, 0, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0.0]]))
        emb = spectral_embedding_sparse(graph, 2, seed=0)
    for (i, j), value in HAND["phi"].items():
        assert phi[i, j] == pytest.approx(value, abs=1e-12)
    np.testing.assert_array_equal(phi[3], 0.0)
    assert emb.shape == (4, 2) and np.isfinite(emb).all()
