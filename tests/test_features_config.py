"""Cross-field checks of the `features` section (features.checks), at their limits."""

import pytest

from concept_geometry.errors import ConfigError
from concept_geometry.features.checks import check_features_config


def _config(**features):
    f = {
        "chunk_size": 63,
        "max_length": 64,
        "corpus": {"source": "bundled"},
        "sae": {"source": "local", "path": "saes/x"},
    }
    f.update(features)
    return {"features": f, "galaxy": {"sae": None}}


def test_limits_are_accepted():
    check_features_config(_config())  # chunk_size = max_length − 1 (BOS)
    check_features_config(
        _config(
            corpus={"source": "local", "path": "c.jsonl"},
            sae={"source": "pretrained", "release": "r", "sae_id": "i"},
        )
    )
    check_features_config({})  # no features section: nothing to check
    check_features_config({"features": {}})


@pytest.mark.parametrize(
    "features, galaxy_sae, needle",
    [
        (
            {"chunk_size": 64},
            None,
            "`features.chunk_size` = 64 exceeds the `features.max_length` = 64 tokens",
        ),
        (
            {"corpus": {"source": "local"}},
            None,
            "`features.corpus.source: local` needs `features.corpus.path`",
        ),
        (
            {"sae": {"source": "pretrained", "release": "r"}},
            None,
            "`features.sae.source: pretrained` needs `features.sae.release` and "
            "`features.sae.sae_id`",
        ),
        (
            {"sae": {"source": "pretrained", "sae_id": "i"}},
            None,
            "`features.sae.source: pretrained` needs",
        ),
        (
            {"sae": {"source": "local"}},
            None,
            "`features.sae.source: local` needs `features.sae.path`",
        ),
        ({}, {"source": "local"}, "`galaxy.sae.source: local` needs `galaxy.sae.path`"),
    ],
)
def test_each_conflict_is_refused_naming_the_keys(features, galaxy_sae, needle):
    cfg = _config(**features)
    cfg["galaxy"]["sae"] = galaxy_sae
    with pytest.raises(ConfigError) as err:
        check_features_config(cfg)
    msg = str(err.value)
    assert msg.startswith("Invalid config: ") and needle in msg
    assert msg.endswith("every key is documented in config/README.md.")
