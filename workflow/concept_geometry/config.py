"""Config validation: JSON schema (with defaults filled in) plus cross-field checks.

Called by ``workflow/rules/common.smk`` at start-up, before any job is scheduled, so an
invalid config stops the run with one paragraph naming the offending key.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import best_match
from referencing import Registry, Resource  # noqa: F401
from referencing.jsonschema import DRAFT202012

from .errors import CONFIG_HINT as _HINT
from .errors import ConfigError

__all__ = ["ConfigError", "validate_config", "load_schema"]


def _with_defaults(cls):
    """A validator class that fills in `default` values while it validates."""
    validate_properties = cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    # JSON Schema counts 3.0 as an integer, but `range(3.0)`, `seed_1.0` paths and numpy
    # sizes do not: a whole number written with a decimal point is refused up front.
    strict_ints = cls.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    )
    return validators.extend(cls, {"properties": set_defaults}, type_checker=strict_ints)


def load_schema(schema_path: str | Path) -> tuple[dict, Registry]:
    """Load the top-level schema and a registry resolving its relative ``$ref`` files."""
    schema_path = Path(schema_path).resolve()
    root = schema_path.parent

    def retrieve(uri: str):
        name = uri.split("/")[-1]
        path = root / name
        contents = yaml.safe_load(path.read_text())
        # Without `$schema`, jsonschema's evolve() keeps our default-filling validator class
        # for the referenced section (with it, it would switch to the plain Draft 2020-12 class
        # and the section's defaults would silently not be filled in).
        contents.pop("$schema", None)
        return DRAFT202012.create_resource(contents)

    schema = yaml.safe_load(schema_path.read_text())
    return schema, Registry(retrieve=retrieve)


def _key(path) -> str:
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else "<top level>"


def _format(error) -> str:
    key = _key(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        return (
            f"Invalid config: {error.message} under `{key}`. "
            f"Allowed keys there: {', '.join(allowed) or '(none)'}. {_HINT}"
        )
    fix = ""
    if (
        error.validator == "type"
        and isinstance(error.instance, float)
        and error.instance.is_integer()
    ):
        fix = f" Write it without the decimal point: {int(error.instance)}."
    return f"Invalid config: key `{key}` = {error.instance!r}: {error.message}.{fix} {_HINT}"


def _check_finite(value, path=()) -> None:
    """NaN and infinity make no sense for any key (JSON-schema bounds let NaN through, since
    every comparison with NaN is false): refuse them, naming the key."""
    if isinstance(value, dict):
        for name, sub in value.items():
            _check_finite(sub, (*path, name))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            _check_finite(sub, (*path, i))
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(
            f"Invalid config: key `{_key(path)}` = {value!r}: not a finite number (NaN and "
            f"infinity are never valid settings). Give a finite value. {_HINT}"
        )


def validate_config(config: dict[str, Any], schema_path: str | Path) -> dict[str, Any]:
    """Validate ``config`` in place against the schema, fill defaults, run cross-checks.

    Raises ConfigError with one paragraph naming the key and the fix.
    """
    _check_finite(config)
    schema, registry = load_schema(schema_path)
    cls = _with_defaults(Draft202012Validator)
    validator = cls(schema, registry=registry)
    errors = list(validator.iter_errors(config))
    if errors:
        raise ConfigError(_format(best_match(errors)))
    for check in CROSS_CHECKS:
        check(config)
    return config


def _check_stages(config):
    """Stages that need the features stage's outputs must enable it."""
    stages = set(config.get("stages", []))
    needs = {"lobes", "galaxy"} & stages
    if needs and "features" not in stages:
        raise ConfigError(
            f"Invalid config: key `stages` enables {sorted(needs)} but not `features`, "
            f"whose SAE features they read. Add `features` to `stages`. {_HINT}"
        )


def _model_config(spec: str) -> dict | None:
    """A local/packaged model's config.json (its text part), or None (hub id, no file)."""
    import json

    from .errors import MissingResourceError
    from .models.loading import resolve_model_path
    from .settings import resolve_model_spec

    root = Path(__file__).resolve().parents[2]  # the repository root
    try:
        folder = Path(resolve_model_path(resolve_model_spec(spec, root)))
    except MissingResourceError:
        return None  # reported, with the fix, when a job loads the model
    cfg = folder / "config.json"
    if not cfg.exists():
        return None
    data = json.loads(cfg.read_text())
    return data.get("text_config", data)


def _model_depth(spec: str) -> int | None:
    """Number of blocks from a local/packaged model's config.json (None for a hub id)."""
    data = _model_config(spec) or {}
    for key in ("num_hidden_layers", "n_layer", "num_layers"):
        if isinstance(data.get(key), int):
            return data[key]
    return None


def _check_max_length(config):
    """features.max_length within the features model's position embeddings (local models)."""
    if "features" not in set(config["stages"]):
        return
    model = config["features"]["model"]["path"]
    limit = (_model_config(model) or {}).get("max_position_embeddings")
    asked = config["features"]["max_length"]
    if isinstance(limit, int) and asked > limit:
        raise ConfigError(
            f"Invalid config: key `features.max_length` = {asked} exceeds the {limit} positions "
            f"of the model `{model}` (features.model.path, `max_position_embeddings` in its "
            f"config.json). Set `features.max_length` to at most {limit}. {_HINT}"
        )


def _check_layers_in_model(config):
    """Layers beyond the features model's depth stop the run at start-up (local models)."""
    model = config["features"]["model"]["path"]
    n = _model_depth(model)
    if n is None:
        return
    stages = set(config["stages"])
    keys = [
        (f"{s}.layers", config[s].get("layers"))
        for s in ("features", "lobes", "galaxy")
        if s in stages
    ]
    if "crystals" in stages and not (config["crystals"].get("model") or {}).get("path"):
        from .crystals.config import check_crystal_layers

        # its own convention: hidden_states indices run to n (the last block's normed output)
        check_crystal_layers(
            config["crystals"].get("layers") or [],
            n,
            config["crystals"].get("layer_convention", "block_output"),
            model=f"the model `{model}` (features.model.path)",
        )
    for key, layers in keys:
        bad = [layer for layer in layers or [] if layer != "embed" and not 0 <= layer < n]
        if bad:
            raise ConfigError(
                f"Invalid config: key `{key}` asks for layer(s) {bad}, but the model "
                f"`{model}` (features.model.path) has {n} blocks (valid layers: 0..{n - 1}). "
                f"Fix `{key}`. {_HINT}"
            )


# Every stage's cross-field checks, run after the schema (each raises ConfigError).
from .alignment.checks import check_alignment_config  # noqa: E402
from .crystals.config import check_crystals_config  # noqa: E402
from .features.checks import check_features_config  # noqa: E402
from .galaxy import check_galaxy_config  # noqa: E402
from .lobes.config import check_lobes_config  # noqa: E402
from .report import check_report_config  # noqa: E402
from .simulation.checks import check_simulation_config  # noqa: E402

CROSS_CHECKS = [
    _check_stages,
    check_simulation_config,
    check_alignment_config,
    check_features_config,
    _check_layers_in_model,
    _check_max_length,
    check_crystals_config,
    check_lobes_config,
    check_galaxy_config,
    check_report_config,
]
