"""Model and SAE references of the resolved config (``settings``): how a config path or a
model spec resolves against the repository root, and the references built from them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def resolve_path(path, root) -> str:
    """A config path: absolute as given, else relative to the repository root ``root``."""
    p = Path(str(path))
    return str(p if p.is_absolute() else Path(root) / p)


def resolve_model_spec(spec, root) -> str:
    """A model spec as ``from_pretrained`` takes it: ``package:<name>`` as given; a local
    folder (absolute, ``./``, ``~``, or relative to ``root`` and existing) as an absolute
    path; anything else (a hub id) as given."""
    spec = str(spec)
    if spec.startswith("package:"):
        return spec
    path = Path(spec).expanduser()
    local = path if path.is_absolute() else Path(root) / path
    explicit = spec.startswith((".", "~")) or path.is_absolute()
    return str(local) if explicit or local.exists() else spec


@dataclass(frozen=True)
class ModelRef:
    """A stage's model: ``name`` (its results folder), ``spec`` (resolved, see
    ``resolve_model_spec``) and ``key`` (the config key ``spec`` came from)."""

    name: str
    spec: str
    key: str


@dataclass(frozen=True)
class SaeSet:
    """An SAE set (``features`` or ``galaxy``): its config ``spec``, the ``key`` it came
    from, and ``resolved`` (the spec with a local ``path`` made absolute)."""

    name: str
    key: str
    spec: dict
    resolved: dict

    @property
    def source(self) -> str:
        return self.spec["source"]


def _sae_set(name: str, spec: dict, key: str, root) -> SaeSet:
    resolved = dict(spec)
    if resolved.get("path"):
        resolved["path"] = resolve_path(resolved["path"], root)
    return SaeSet(name=name, key=key, spec=spec, resolved=resolved)
