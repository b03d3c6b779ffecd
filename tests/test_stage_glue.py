"""Logic moved out of the scripts into the package (issue 16): alignment's candidate tokens,
the features stage's per-layer statistics and meta.json, galaxy's decoder-vs-settings check
and the scripts' named seed streams. Hand-computed small cases."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from concept_geometry import seeding
from concept_geometry.alignment.matrices import candidate_tokens
from concept_geometry.errors import ConfigError, InputDataError
from concept_geometry.features.stage import chunk_columns, layer_meta, layer_stats
from concept_geometry.galaxy.checks import check_decoder_fits


class _Tokenizer:
    all_special_ids = [0, 3, 50]

    def __len__(self):
        return 9


def test_candidate_tokens_cover_the_shared_vocabulary_less_special_tokens():
    mats = SimpleNamespace(embedding=np.zeros((10, 2)), unembedding=np.zeros((8, 2)))
    vocab, candidates = candidate_tokens(mats, _Tokenizer())
    assert vocab == 8  # min(10 rows, 8 rows, 9 tokens)
    assert candidates.tolist() == [1, 2, 4, 5, 6, 7]


def test_layer_stats_adds_chunk_counts_and_refuses_empty_layers():
    got = layer_stats(
        3, {"dead_fraction": 0.25}, n_rows=4, nnz=10, chunk_size=32, max_length=66, threshold=0.1
    )
    assert got == {"dead_fraction": 0.25, "n_chunks": 4, "mean_firing_per_chunk": 2.5}
    with pytest.raises(InputDataError, match="features.chunk_size"):
        layer_stats(3, {}, n_rows=0, nnz=0, chunk_size=32, max_length=66, threshold=0.1)
    with pytest.raises(InputDataError, match="layer 3 fires.*features.threshold"):
        layer_stats(3, {}, n_rows=4, nnz=0, chunk_size=32, max_length=66, threshold=0.1)


def test_chunk_columns_and_layer_meta_count_by_hand():
    docs = pd.DataFrame(
        {
            "doc_id": [10, 11, 12],
            "category": ["a", "b", "a"],
            "split": ["histogram", "heldout", "histogram"],
        }
    )
    cols = chunk_columns(docs, np.array([0, 0, 1, 2]))
    assert cols["doc_id"].tolist() == [10, 10, 11, 12]
    assert cols["split"].tolist() == ["histogram", "histogram", "heldout", "histogram"]
    meta = layer_meta(
        model="m",
        model_path="p",
        corpus="c",
        layer=3,
        sae={"w": 1},
        threshold=0.5,
        chunk_size=8,
        max_length=16,
        split=cols["split"],
        doc_id=cols["doc_id"],
        occurrences=np.array([0, 2, 1, 0, 5]),
        n_chunks_histogram=3,
        stats={"n_chunks": 4},
    )
    assert (meta["n_features"], meta["n_chunks_total"], meta["n_chunks_heldout"]) == (5, 4, 1)
    assert (meta["n_documents"], meta["features_ever_fired"]) == (3, 3)
    assert meta["n_chunks_histogram"] == 3 and meta["sae_n_chunks"] == 4 and meta["layer"] == 3


def test_galaxy_settings_are_checked_against_the_decoder():
    cfg = {"entropy": {"n_points": None, "pca_dim": 10}, "corrected": {"pca_dim": 4}}
    assert check_decoder_fits(cfg, n_features=50, d_model=16, layer=1) == 50
    with pytest.raises(ConfigError, match="galaxy.entropy.pca_dim.*= 8 for layer 1"):
        check_decoder_fits(cfg, n_features=50, d_model=8, layer=1)
    with pytest.raises(InputDataError, match="n_points"):
        check_decoder_fits({**cfg, "entropy": {"n_points": 60, "pca_dim": 10}}, 50, 16, 1)


def test_named_seed_streams_keep_their_tags_and_differ():
    """The tags are those the scripts and rules used before the move (same results)."""
    d = seeding.derive_seed
    assert seeding.corpus_split_seed(7) == d(7, "features", "split")
    assert seeding.sae_sample_seed(7) == d(7, "features", "sae_sample")
    assert seeding.sae_train_seed(7, "tiny", 3) == d(7, "features", "sae", "tiny", 3)
    assert seeding.crystals_analysis_seed(7) == d(7, "crystals", "analysis")
    assert seeding.alignment_rng(7, "gpt2").random() == seeding.rng(7, "alignment", "gpt2").random()
    assert (
        seeding.crystals_subsample_rng(7).random()
        == seeding.rng(7, "crystals", "subsample").random()
    )
    seeds = {
        seeding.corpus_split_seed(7),
        seeding.sae_sample_seed(7),
        seeding.sae_train_seed(7, "tiny", 3),
        seeding.crystals_analysis_seed(7),
    }
    assert len(seeds) == 4
