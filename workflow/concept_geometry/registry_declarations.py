"""The registry's declarations (``concept_geometry.registry``): what a stage's ``quantities``
module declares (:class:`Quantity`, :class:`Table`, :class:`Unit`, :class:`Stage`), the stage
modules, and loading and checking those declarations."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from .errors import InputDataError
from .settings import STAGES

KINDS = ("real", "count", "boolean", "layer")
# Report order (settings.STAGES, the one list of stages); each stage with a summary table
# declares its quantities in its package's ``quantities`` module.
STAGE_MODULES = {
    stage: f"concept_geometry.{stage}.quantities" for stage in STAGES if stage != "report"
}
# Where the definitions live, as error messages name it.
WHERE = "the registry of headline quantities (workflow/concept_geometry/<stage>/quantities.py)"


@dataclass(frozen=True)
class Quantity:
    """One headline quantity of one stage."""

    id: str  # the ``quantity`` column of results/summary/<stage>.tsv
    table: str  # the stage table (a :class:`Table` name) whose records carry it
    column: str  # the column of that table's records (the result file's own column where the
    #              table is that file's rows, e.g. galaxy.tsv's `slope` for powerlaw_slope)
    settings: tuple[str, ...]  # setting keys, in order (record columns of the same names)
    function: str  # dotted path of the package function that computes the column
    paper: str  # paper section or figure ("" when the paper has none: our addition)
    kind: str  # how it prints: one of KINDS
    definition: str  # one sentence or two, for the glossary
    required: bool = False  # a number whenever the stage worked: refuse an all-NaN summary


@dataclass(frozen=True)
class Table:
    """A stage table: records (dicts) built by the stage's ``load`` from a rule's outputs."""

    name: str
    rule: str  # the rule whose output files it is read from
    source: str  # those files, as written in README/index (e.g. ``galaxy/<model>/galaxy.tsv``)
    by: tuple[str, ...] = ()  # group records by these columns before looping over quantities


@dataclass(frozen=True)
class Unit:
    """What a stage's ``load`` returns per model/layer: the model and its tables' records."""

    model: str
    tables: Mapping[str, Sequence[Mapping[str, Any]]]


@dataclass(frozen=True)
class Stage:
    """A stage's declarations, as its ``quantities`` module gives them."""

    name: str
    tables: tuple[Table, ...]
    quantities: tuple[Quantity, ...]
    load: Callable[[Mapping[str, Any], Mapping[str, Any]], list[Unit]] = field(repr=False)
    hint: str = ""  # the config keys that most often leave a required quantity without a number


def load_stage(name: str) -> Stage:
    """The registered :class:`Stage` ``name`` (checked: see :func:`check_stage`)."""
    if name not in STAGE_MODULES:
        raise InputDataError(
            f"No stage `{name}` in the registry of headline quantities; "
            f"stages are {list(STAGE_MODULES)} (STAGE_MODULES in "
            f"concept_geometry/registry_declarations.py). Use one of those names."
        )
    module = importlib.import_module(STAGE_MODULES[name])
    stage = Stage(
        name,
        tuple(module.TABLES),
        tuple(module.QUANTITIES),
        module.load,
        getattr(module, "HINT", ""),
    )
    check_stage(stage)
    return stage


def stages() -> list[Stage]:
    """Every registered stage, in report order."""
    return [load_stage(name) for name in STAGE_MODULES]


def check_stage(stage: Stage) -> None:
    """Refuse a malformed declaration: a repeated id, an unknown table or kind, no definition."""
    where = f"{STAGE_MODULES.get(stage.name, stage.name)} (stage {stage.name})"
    tables = [t.name for t in stage.tables]
    problems = []
    if len(set(tables)) != len(tables):
        problems.append(f"table names repeat: {tables}")
    ids = [q.id for q in stage.quantities]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    problems += [f"quantity `{q}` is declared more than once" for q in repeated]
    for q in stage.quantities:
        if q.table not in tables:
            problems.append(f"quantity `{q.id}` names table `{q.table}`, not one of {tables}")
        if q.kind not in KINDS:
            problems.append(f"quantity `{q.id}` has kind `{q.kind}`, not one of {list(KINDS)}")
        if not q.definition.strip() or not q.function.strip():
            problems.append(f"quantity `{q.id}` has no definition or no function")
    if problems:
        raise InputDataError(
            f"The registry entries in {where} are malformed: "
            f"{'; '.join(problems)}. Fix them there (see the Quantity and Table "
            f"docstrings in concept_geometry/registry_declarations.py)."
        )


def resolve_function(dotted: str) -> Callable:
    """The object a ``Quantity.function`` names (``package.module.name`` or ``...Class.method``)."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(f"cannot import {dotted!r}")
