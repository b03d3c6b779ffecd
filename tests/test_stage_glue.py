"""Logic moved out of the scripts into the package (issue 16): alignment's candidate tokens,
galaxy's decoder-vs-settings check and the scripts' named seed streams. Hand-computed small
cases. (The features stage's per-layer statistics and meta.json are tested in
test_features_stage.py, where the features mutation run sees them.)"""

from types import SimpleNamespace

import numpy as np
import pytest

from concept_geometry import seeding
from concept_geometry.alignment.matrices import candidate_tokens
from concept_geometry.errors import ConfigError, InputDataError
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
