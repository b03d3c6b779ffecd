"""The report's tables: each stage's summary and the papers' values checked, joined on
(stage, quantity, setting), and the headline rows that carry a paper number."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import InputDataError
from ..settings import STAGES as ALL_STAGES

STAGE_COLUMNS = ["stage", "quantity", "setting", "model", "value"]
PAPER_COLUMNS = ["stage", "quantity", "setting", "paper_value", "paper_model", "source"]
# The six columns of a summary row first, then which model each number is for.
SUMMARY_COLUMNS = [
    "stage",
    "quantity",
    "setting",
    "value",
    "paper_value",
    "source",
    "model",
    "paper_model",
]
STAGES = [s for s in ALL_STAGES if s != "report"]  # the stages with a summary table

GLOSSARY_COLUMNS = ["stage", "quantity", "kind", "definition"]
# A quantity's kind says how it prints: counts, booleans (1/0) and layer numbers as integers.
KINDS = ("real", "count", "boolean", "layer")
INTEGER_KINDS = ("count", "boolean", "layer")
# results/headline.tsv: the summary rows that carry a paper number, with whether the run's
# model is the paper's model (``same_model`` 1/0) and a label saying what kind of comparison
# the row is (``comparison``).
HEADLINE_COLUMNS = [
    "stage",
    "quantity",
    "setting",
    "value",
    "paper_value",
    "comparison",
    "same_model",
    "model",
    "paper_model",
    "source",
]
SAME_MODEL, CROSS_MODEL, NOT_COMPUTED = "same model", "cross-model", "not computed"


def parse_setting(setting, where: str = "setting") -> dict[str, str]:
    """``"layer=12,k=2"`` -> ``{"layer": "12", "k": "2"}``; empty/NaN -> ``{}``.

    Raises InputDataError (naming ``where``) on a pair without ``=`` or a repeated key.
    """
    if setting is None or (isinstance(setting, float) and np.isnan(setting)):
        return {}
    text = str(setting).strip()
    if not text:
        return {}
    out: dict[str, str] = {}
    for pair in text.split(","):
        key, sep, value = pair.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or key in out:
            raise InputDataError(
                f"{where}: setting {text!r} is not a list of distinct key=value pairs joined "
                f"by ','. Write it as e.g. 'layer=12,measure=phi' (empty when there is none)."
            )
        out[key] = value
    return out


def setting_matches(paper: Mapping[str, str], actual: Mapping[str, str]) -> bool:
    """Same keys, and each paper value equals the actual one or is the wildcard ``*``."""
    return paper.keys() == actual.keys() and all(
        v == "*" or v == actual[k] for k, v in paper.items()
    )


def _read_as_text(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    out = frame.loc[:, list(columns)].copy()
    for col in columns:
        if col != "value":
            out[col] = out[col].fillna("").astype(str)
    return out


def check_stage_table(frame: pd.DataFrame, stage: str, path: str) -> pd.DataFrame:
    """Validate one ``results/summary/<stage>.tsv``; return it with text columns as str.

    Raises InputDataError when columns are missing, the table is empty, a row names another
    stage, a setting is malformed, a value is not numeric, or a row is duplicated.
    """
    missing = [c for c in STAGE_COLUMNS if c not in frame.columns]
    fix = (
        f"It is made by the {stage} stage's summary rule; re-run it "
        f"(`snakemake --cores all --forcerun {path}`) or fix that rule."
    )
    if missing:
        raise InputDataError(
            f"Summary table {path} lacks columns {missing} (needs exactly "
            f"{', '.join(STAGE_COLUMNS)}). {fix}"
        )
    if frame.empty:
        raise InputDataError(
            f"Summary table {path} has no rows; every reported stage must "
            f"contribute at least one quantity. {fix}"
        )
    out = _read_as_text(frame, STAGE_COLUMNS)
    wrong = sorted(set(out["stage"]) - {stage})
    if wrong:
        raise InputDataError(
            f"Summary table {path} has rows for stage(s) {wrong}, expected only `{stage}`. {fix}"
        )
    values = pd.to_numeric(out["value"], errors="coerce")
    bad = out.loc[values.isna() & out["value"].notna(), "quantity"].tolist()
    if bad:
        raise InputDataError(f"Summary table {path}: non-numeric value for {bad[:5]}. {fix}")
    out["value"] = values.astype(float)
    for s in out["setting"]:
        parse_setting(s, where=path)
    dup = out.duplicated(["quantity", "setting"])
    if dup.any():
        first = out.loc[dup, ["quantity", "setting"]].iloc[0].tolist()
        raise InputDataError(f"Summary table {path} repeats quantity/setting {first}. {fix}")
    return out


def check_paper_table(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    """Validate ``config/paper_values.tsv``; return it with every column as str."""
    missing = [c for c in PAPER_COLUMNS if c not in frame.columns]
    fix = (
        "Edit that file (columns: " + ", ".join(PAPER_COLUMNS) + "; one row per paper "
        "number) or point `report.paper_values` at a valid one."
    )
    if missing:
        raise InputDataError(f"Paper values table {path} lacks columns {missing}. {fix}")
    out = _read_as_text(frame, PAPER_COLUMNS)
    unknown = sorted(set(out["stage"]) - set(STAGES))
    if unknown:
        raise InputDataError(
            f"Paper values table {path} names unknown stage(s) {unknown}; "
            f"stages are {STAGES}. {fix}"
        )
    if (out["source"] == "").any() or (out["paper_value"] == "").any():
        row = out.loc[(out["source"] == "") | (out["paper_value"] == "")].iloc[0]
        raise InputDataError(
            f"Paper values table {path}: row {row['stage']}/{row['quantity']}"
            f" has no paper_value or no source; every paper number needs "
            f"both. {fix}"
        )
    for s in out["setting"]:
        parse_setting(s, where=path)
    dup = out.duplicated(["stage", "quantity", "setting"])
    if dup.any():
        first = out.loc[dup, ["stage", "quantity", "setting"]].iloc[0].tolist()
        raise InputDataError(f"Paper values table {path} repeats {first}. {fix}")
    return out


def assemble_summary(stage_tables: Mapping[str, pd.DataFrame], paper: pd.DataFrame) -> pd.DataFrame:
    """Join every stage's headline rows with the papers' numbers.

    stage_tables: stage name -> table validated by :func:`check_stage_table`, in report
    order. paper: table validated by :func:`check_paper_table`.
    Returns one row per reproduced quantity (stage order, then the stage's own row order),
    then, per stage, the paper rows no reproduced row matched (empty ``value``); columns
    :data:`SUMMARY_COLUMNS`.
    """
    by_key: dict[tuple[str, str], list[tuple[int, dict[str, str]]]] = {}
    for idx, row in paper.iterrows():
        by_key.setdefault((row["stage"], row["quantity"]), []).append(
            (idx, parse_setting(row["setting"]))
        )
    used: set = set()
    blocks = []
    for stage, table in stage_tables.items():
        rows = []
        for rec in table.itertuples(index=False):
            actual = parse_setting(rec.setting)
            hits = [
                (idx, p)
                for idx, p in by_key.get((stage, rec.quantity), [])
                if setting_matches(p, actual)
            ]
            exact = [h for h in hits if "*" not in h[1].values()]
            hit = (exact or hits or [None])[0]
            out = {
                "stage": stage,
                "quantity": rec.quantity,
                "setting": rec.setting,
                "value": rec.value,
                "model": rec.model,
                "paper_value": "",
                "paper_model": "",
                "source": "",
            }
            if hit is not None:
                used.add(hit[0])
                p = paper.loc[hit[0]]
                out.update(
                    paper_value=p["paper_value"], paper_model=p["paper_model"], source=p["source"]
                )
            rows.append(out)
        unmatched = paper[(paper["stage"] == stage) & ~paper.index.isin(used)]
        for _, p in unmatched.iterrows():
            rows.append(
                {
                    "stage": stage,
                    "quantity": p["quantity"],
                    "setting": p["setting"],
                    "value": np.nan,
                    "model": "",
                    "paper_value": p["paper_value"],
                    "paper_model": p["paper_model"],
                    "source": p["source"],
                }
            )
        blocks.append(pd.DataFrame(rows, columns=SUMMARY_COLUMNS))
    if not blocks:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    return pd.concat(blocks, ignore_index=True)


def check_glossary(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    """Validate the glossary of quantities (``registry.glossary()``); return it as str."""
    fix = (
        "Edit that file: one row per (stage, quantity) with columns "
        + ", ".join(GLOSSARY_COLUMNS)
        + f"; kind is one of {list(KINDS)}."
    )
    missing = [c for c in GLOSSARY_COLUMNS if c not in frame.columns]
    if missing:
        raise InputDataError(f"Glossary {path} lacks columns {missing}. {fix}")
    out = _read_as_text(frame, GLOSSARY_COLUMNS)
    bad = out.loc[~out["kind"].isin(KINDS), ["stage", "quantity", "kind"]]
    if len(bad):
        raise InputDataError(f"Glossary {path}: unknown kind {bad.iloc[0].tolist()}. {fix}")
    empty = out.loc[out["definition"].str.strip() == "", ["stage", "quantity"]]
    if len(empty):
        raise InputDataError(f"Glossary {path}: {empty.iloc[0].tolist()} has no definition. {fix}")
    dup = out.duplicated(["stage", "quantity"])
    if dup.any():
        raise InputDataError(
            f"Glossary {path} repeats {out.loc[dup, ['stage', 'quantity']].iloc[0].tolist()}. {fix}"
        )
    return out


def check_glossary_covers(summary: pd.DataFrame, glossary: pd.DataFrame, path: str) -> None:
    """Refuse a summary with a (stage, quantity) that the glossary does not define."""
    known = set(zip(glossary["stage"], glossary["quantity"], strict=False))
    missing = sorted(
        {(s, q) for s, q in zip(summary["stage"], summary["quantity"], strict=False)} - known
    )
    if missing:
        raise InputDataError(
            f"Glossary {path} defines no row for {len(missing)} quantit"
            f"{'y' if len(missing) == 1 else 'ies'} of the summary: {missing[:8]}. Every "
            f"quantity in results/summary.tsv needs one (columns "
            f"{', '.join(GLOSSARY_COLUMNS)}): add it there, with its kind "
            f"({', '.join(KINDS)}) and a one-sentence definition."
        )


def headline_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary rows that carry a paper number, labelled by comparison.

    ``comparison``: ``same model`` when the run's model is the paper's model,
    ``cross-model`` when it is another one (a stand-in: compare with care),
    ``not computed`` when the run has no value for the paper's setting. ``same_model``:
    1/0, empty when not computed. Rows: same model first, then cross-model, then not
    computed, each in the summary's order. Columns :data:`HEADLINE_COLUMNS`.
    """
    rows = summary[summary["paper_value"].astype(str) != ""].copy()
    computed = rows["model"].astype(str) != ""
    same = rows["model"].astype(str) == rows["paper_model"].astype(str)
    rows["comparison"] = np.where(~computed, NOT_COMPUTED, np.where(same, SAME_MODEL, CROSS_MODEL))
    rows["same_model"] = [
        (1 if s else 0) if c else "" for s, c in zip(same, computed, strict=False)
    ]
    order = {SAME_MODEL: 0, CROSS_MODEL: 1, NOT_COMPUTED: 2}
    rows["_order"] = rows["comparison"].map(order)
    rows = rows.sort_values("_order", kind="stable").drop(columns="_order")
    return rows.loc[:, HEADLINE_COLUMNS].reset_index(drop=True)
