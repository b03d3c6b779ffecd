"""Co-occurrence counts equal the paper's per-chunk outer products (brute force, hand cases)."""

import numpy as np
import pytest
import scipy.sparse as sp

from concept_geometry.features.cooccurrence import (
    CooccurrenceAccumulator,
    cooccurrence_counts,
    cooccurrence_reference,
)


def brute_force(firings):
    """Independent check: c_ij = number of chunks in which both i and j fire (pair by pair)."""
    x = np.asarray(firings).astype(bool)
    f = x.shape[1]
    out = np.zeros((f, f), dtype=np.int64)
    for i in range(f):
        for j in range(f):
            out[i, j] = np.sum(x[:, i] & x[:, j])
    return out


def test_hand_computed_case():
    # chunk 1 fires {0, 2}; chunk 2 fires {2}; chunk 3 fires {0, 1, 2}
    x = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 1]], dtype=np.uint8)
    counts, occ, t = cooccurrence_counts(sp.csr_matrix(x), batch_size=2)
    assert t == 3
    assert occ.tolist() == [2, 1, 3]
    assert counts.tolist() == [[2, 1, 2], [1, 1, 1], [2, 1, 3]]


@pytest.mark.parametrize("mode", ["dense", "sparse", "auto"])
@pytest.mark.parametrize("density", [0.002, 0.05, 0.4])
@pytest.mark.parametrize("batch", [1, 7, 64, 1000])
def test_equals_brute_force_on_random_data(mode, density, batch):
    rng = np.random.default_rng(int(density * 1000) + batch)
    x = (rng.random((131, 37)) < density).astype(np.uint8)
    counts, occ, t = cooccurrence_counts(sp.csr_matrix(x), batch_size=batch, mode=mode)
    expected = brute_force(x)
    assert counts.dtype == np.int64 and occ.dtype == np.int64
    np.testing.assert_array_equal(counts, expected)
    np.testing.assert_array_equal(occ, np.diag(expected))
    assert t == 131


def test_matches_paper_reference_and_dense_input():
    rng = np.random.default_rng(3)
    x = rng.random((90, 50)) < 0.3
    ref_counts, ref_occ, ref_t = cooccurrence_reference(x)
    counts, occ, t = cooccurrence_counts(x, batch_size=16)
    np.testing.assert_array_equal(counts, ref_counts)
    np.testing.assert_array_equal(occ, ref_occ)
    assert t == ref_t == 90
    np.testing.assert_array_equal(counts, counts.T)


def test_streaming_accumulator_mixed_batches_and_empty():
    rng = np.random.default_rng(4)
    x = (rng.random((40, 12)) < 0.5).astype(np.uint8)
    acc = CooccurrenceAccumulator(12)
    acc.add(sp.csr_matrix(x[:0]))
    acc.add(sp.csr_matrix(x[:10]))
    acc.add(x[10:25])  # dense batch
    acc.add(sp.csr_matrix(x[25:]))
    counts, occ, t = acc.result()
    np.testing.assert_array_equal(counts, brute_force(x))
    assert t == 40


def test_counts_exact_beyond_float32_mantissa_via_int64_accumulation():
    """Counts past 2^24 stay exact: float32 cannot hold the odd integer 17,100,057, so an
    accumulator that was not flushed into int64 before 2^24 chunks would round it."""
    x = np.ones((300_001, 3), dtype=np.uint8)
    x[::2, 2] = 0  # feature 2 fires in the 150,000 odd-numbered chunks of each batch
    acc = CooccurrenceAccumulator(3, mode="dense")
    for _ in range(57):
        acc.add(x)
    counts, occ, t = acc.result()
    big, small = 57 * 300_001, 57 * 150_000
    assert big == 17_100_057 and big > 2**24 and float(np.float32(big)) != big
    assert t == big
    np.testing.assert_array_equal(
        counts, [[big, big, small], [big, big, small], [small, small, small]]
    )
    np.testing.assert_array_equal(occ, [big, big, small])


def test_flush_counts_the_incoming_batch_before_crossing_two_to_the_24():
    """The flush decision includes the batch about to be added: 2^24 − 1 chunks, then 2 more,
    gives the odd count 2^24 + 1 = 16,777,217, which float32 rounds to 2^24. Had the
    accumulator only looked at what it already held (2^24 − 1 < 2^24), it would have added
    the 2 in float32 and lost the 1. (The test above crosses 2^24 at an even total,
    16,800,056, which float32 holds exactly.)"""
    exact = 2**24 + 1
    assert float(np.float32(exact)) == 2**24  # the rounding this test guards against
    acc = CooccurrenceAccumulator(1, mode="dense")
    acc.add(np.ones((2**24 - 1, 1), dtype=np.uint8))
    acc.add(np.ones((2, 1), dtype=np.uint8))
    counts, occ, t = acc.result()
    assert t == exact
    assert counts.tolist() == [[exact]] and occ.tolist() == [exact]


def test_reference_counts_are_exact_integers():
    counts, occ, t = cooccurrence_reference(np.array([[1, 1, 0], [0, 1, 1]]))
    assert counts.dtype == occ.dtype == np.int64
    assert (
        counts.tolist() == [[1, 1, 0], [1, 2, 1], [0, 1, 1]]
        and occ.tolist() == [1, 2, 1]
        and t == 2
    )


@pytest.mark.parametrize("nnz, path", [(5, "sparse"), (9, "sparse"), (10, "dense"), (500, "dense")])
def test_auto_mode_takes_the_sparse_product_below_one_percent_density(nnz, path):
    """10 chunks × 100 features: 9 firings (0.9 %) go through the sparse product straight
    into the int64 total, 10 (1 %) and more through the dense float32 accumulator; the
    counts are the same either way."""
    from concept_geometry.features.cooccurrence import CooccurrenceAccumulator

    batch = np.zeros((10, 100), dtype=np.uint8)
    batch.flat[np.random.default_rng(nnz).choice(1000, nnz, replace=False)] = 1
    for given in (batch, sp.csr_matrix(batch)):
        acc = CooccurrenceAccumulator(100, mode="auto")
        acc.add(given)
        assert (acc._acc is None) == (path == "sparse")
        counts, occ, n = acc.result()
        ref_counts, ref_occ, _ = cooccurrence_reference(batch)
        np.testing.assert_array_equal(counts, ref_counts)
        assert occ.sum() == nnz and n == 10


@pytest.mark.parametrize("mode", ["AUTO", "Sparse", "", None])
def test_an_unknown_mode_is_refused_not_taken_for_dense(mode):
    """Only auto, dense and sparse exist; anything else (a capital letter too) is an error,
    not a silent dense product."""
    with pytest.raises(
        ValueError, match=r"Unknown co-occurrence mode .*\['auto', 'dense', 'sparse'\]"
    ):
        CooccurrenceAccumulator(3, mode=mode)
    with pytest.raises(ValueError, match="Unknown co-occurrence mode"):
        cooccurrence_counts(np.ones((2, 3)), mode=mode)


def test_default_mode_is_auto_sparse_product_for_sparse_counts(monkeypatch):
    """cooccurrence_counts and the accumulator default to `auto`: a 1-in-100 firing batch
    goes through the sparse product, never the dense float32 accumulator."""
    from concept_geometry.features import cooccurrence

    made = []
    real = cooccurrence.CooccurrenceAccumulator

    class Spy(real):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(cooccurrence, "CooccurrenceAccumulator", Spy)
    x = np.zeros((10, 100), dtype=np.uint8)
    x[3, 7] = 1
    counts, occ, t = cooccurrence.cooccurrence_counts(sp.csr_matrix(x))
    assert made[0].mode == "auto" and made[0]._acc is None
    assert counts[7, 7] == 1 and counts.sum() == 1 and occ.tolist() == [0] * 7 + [1] + [0] * 92
    assert t == 10
    assert real(4).mode == "auto"


def test_a_batch_of_two_to_the_24_chunks_is_refused_as_inexact():
    """float32 holds every integer below 2^24 = 16,777,216 only: a batch of exactly that many
    chunks is refused (before any counting), with the reason."""
    acc = CooccurrenceAccumulator(2, mode="dense")
    with pytest.raises(
        ValueError, match=r"^batch of 16777216 chunks: float32 counts are exact only below 2\^24$"
    ):
        acc.add(sp.csr_matrix((2**24, 2), dtype=np.uint8))
    assert acc.n_chunks == 0 and acc.occurrences.tolist() == [0, 0]
