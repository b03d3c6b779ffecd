"""Config validation: schema defaults, unknown keys and bad values stop the run (issue 2/9)."""

import copy

import pytest
import yaml
from conftest import ROOT, run_snakemake

from concept_geometry.config import ConfigError, validate_config

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def default_config():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_default_and_paper_configs_are_valid():
    validate_config(default_config(), SCHEMA)
    from snakemake.utils import update_config

    cfg = default_config()  # merged recursively, as Snakemake merges --configfile over it
    update_config(cfg, yaml.safe_load((ROOT / "config" / "paper.yaml").read_text()))
    cfg = validate_config(cfg, SCHEMA)
    assert cfg["features"]["sae"]["source"] == "pretrained"
    assert cfg["features"]["model"]["path"] == "google/gemma-2-2b"


def test_defaults_are_filled_in():
    cfg = validate_config({}, SCHEMA)
    assert cfg["seed"] == 0
    assert set(cfg["stages"]) >= {"simulation", "features", "report"}
    for section in ["simulation", "alignment", "features", "crystals", "lobes", "galaxy", "report"]:
        assert isinstance(cfg[section], dict)


@pytest.mark.parametrize(
    "patch, needle",
    [
        ({"bogus_key": 1}, "'bogus_key' was unexpected"),
        ({"seed": "zero"}, "key `seed`"),
        ({"seed": -1}, "key `seed`"),
        ({"stages": ["simulation", "nope"]}, "key `stages.1`"),
        ({"stages": ["lobes"]}, "`features`"),
        # issue 13: NaN/infinity pass JSON-schema bounds; 3.0 passes `type: integer`
        ({"simulation": {"lr": float("inf")}}, "key `simulation.lr` = inf: not a finite"),
        ({"features": {"threshold": float("nan")}}, "key `features.threshold` = nan"),
        ({"simulation": {"m": 3.0}}, "key `simulation.m` = 3.0"),
        ({"seed": 1.0}, "without the decimal point: 1"),
        ({"simulation": {"seeds": [0.0]}}, "key `simulation.seeds.0` = 0.0"),
        ({"features": {"layers": [1.0]}}, "key `features.layers.0` = 1.0"),
        (
            {
                "stages": ["crystals"],
                "crystals": {"relations": ["country-capital", "no-such-relation"]},
            },
            "key `crystals.relations` lists ['no-such-relation']",
        ),
        (
            {"stages": ["features"], "features": {"max_length": 600}},
            "`features.max_length` = 600 exceeds the 512 positions",
        ),
    ],
)
def test_bad_config_is_refused_with_key(patch, needle):
    cfg = copy.deepcopy(default_config())
    cfg.update(patch)
    with pytest.raises(ConfigError) as err:
        validate_config(cfg, SCHEMA)
    assert needle in str(err.value)
    assert "config/README.md" in str(err.value)


def test_snakemake_stops_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages: [simulation]\nsimulation_typo: {}\n")
    proc = run_snakemake(tmp_path, bad, "-n", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "simulation_typo" in out and "Invalid config" in out
    assert "Traceback" not in out
    assert not (tmp_path / "results").exists()


def test_schema_defaults_equal_the_default_preset():
    """config/config.yaml spells out the schema's defaults, so the two can never disagree."""
    assert validate_config({}, SCHEMA) == validate_config(default_config(), SCHEMA)
