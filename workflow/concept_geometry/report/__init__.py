"""The report stage: one table of every reproduced quantity next to the papers' numbers.

Each stage writes ``results/summary/<stage>.tsv`` with columns exactly
``stage, quantity, setting, model, value`` (``setting``: ``key=value`` pairs joined by ``,``,
empty when none). The papers' numbers live in ``config/paper_values.tsv`` with columns
``stage, quantity, setting, paper_value, paper_model, source``. :func:`assemble_summary`
joins the two on ``(stage, quantity, setting)``:

- a setting matches when it has the same keys and values in any order; a paper value of
  ``*`` matches any value of that key (e.g. the isotropic-null slope ``layer=*``, or the lobe
  test run at whichever layer the config picks); an exact match wins over a wildcard one;
- a reproduced row without a paper number keeps an empty ``paper_value``/``source``;
- a paper row that no reproduced row matches is **listed** (empty ``value``) when its stage
  is among the reported stages, so the reader sees which paper claims this run did not
  compute (e.g. Gemma layers 8-24 when the offline model has 6 layers); paper rows of stages
  not reported are dropped.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError, InputDataError
from ..settings import STAGES as ALL_STAGES

STAGE_COLUMNS = ["stage", "quantity", "setting", "model", "value"]
PAPER_COLUMNS = ["stage", "quantity", "setting", "paper_value", "paper_model", "source"]
# The six columns of a summary row first, then which model each number is for.
SUMMARY_COLUMNS = ["stage", "quantity", "setting", "value", "paper_value", "source", "model",
                   "paper_model"]
STAGES = [s for s in ALL_STAGES if s != "report"]  # the stages with a summary table

GLOSSARY_COLUMNS = ["stage", "quantity", "kind", "definition"]
# A quantity's kind says how it prints: counts, booleans (1/0) and layer numbers as integers.
KINDS = ("real", "count", "boolean", "layer")
INTEGER_KINDS = ("count", "boolean", "layer")
# results/headline.tsv: the summary rows that carry a paper number, with whether the run's
# model is the paper's model (``same_model`` 1/0) and a label saying what kind of comparison
# the row is (``comparison``).
HEADLINE_COLUMNS = ["stage", "quantity", "setting", "value", "paper_value", "comparison",
                    "same_model", "model", "paper_model", "source"]
SAME_MODEL, CROSS_MODEL, NOT_COMPUTED = "same model", "cross-model", "not computed"
REPORT_COMMAND = "snakemake --report results/report.html"

__all__ = ["STAGE_COLUMNS", "PAPER_COLUMNS", "SUMMARY_COLUMNS", "GLOSSARY_COLUMNS",
           "HEADLINE_COLUMNS", "KINDS", "REPORT_COMMAND", "parse_setting",
           "setting_matches", "check_stage_table", "check_paper_table", "check_glossary",
           "check_glossary_covers", "assemble_summary", "headline_table", "format_value",
           "format_for_tsv", "summary_html", "headline_rst", "glossary_html",
           "next_steps_message", "check_report_config"]


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
                f"by ','. Write it as e.g. 'layer=12,measure=phi' (empty when there is none).")
        out[key] = value
    return out


def setting_matches(paper: Mapping[str, str], actual: Mapping[str, str]) -> bool:
    """Same keys, and each paper value equals the actual one or is the wildcard ``*``."""
    return paper.keys() == actual.keys() and all(
        v == "*" or v == actual[k] for k, v in paper.items())


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
    fix = (f"It is made by the {stage} stage's summary rule; re-run it "
           f"(`snakemake --cores all --forcerun {path}`) or fix that rule.")
    if missing:
        raise InputDataError(f"Summary table {path} lacks columns {missing} (needs exactly "
                             f"{', '.join(STAGE_COLUMNS)}). {fix}")
    if frame.empty:
        raise InputDataError(f"Summary table {path} has no rows; every reported stage must "
                             f"contribute at least one quantity. {fix}")
    out = _read_as_text(frame, STAGE_COLUMNS)
    wrong = sorted(set(out["stage"]) - {stage})
    if wrong:
        raise InputDataError(f"Summary table {path} has rows for stage(s) {wrong}, expected "
                             f"only `{stage}`. {fix}")
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


# Per stage, the headline quantities that are a number whenever the stage worked (others,
# e.g. a correlation with a constant covariate, may be undefined on a small run), and the
# config keys that most often leave them without one.
HEADLINE_QUANTITIES = {
    "simulation": (["steering_cos_mean"],
                   "`simulation.lr` (training diverged: lower it) or `simulation.steps`"),
    "crystals": (["silhouette", "ari"],
                 "`crystals.relations` / `crystals.min_pairs_per_relation` (too few usable pairs)"),
    "lobes": (["ami"], "`features.threshold` (too few features fire to co-occur: lower it) or "
                       "`lobes.min_occurrences`"),
    "galaxy": (["powerlaw_slope"], "`galaxy.fit_range` or `galaxy.sae`"),
}


def check_headline_numbers(frame: pd.DataFrame, path: str) -> None:
    """Refuse a stage summary in which a headline quantity (``HEADLINE_QUANTITIES``) is NaN or
    infinite at every setting: a table of NaNs where the report expects a number. One NaN
    setting stays (an undefined value at one setting is a result)."""
    stage = str(frame["stage"].iloc[0]) if len(frame) else ""
    names, keys = HEADLINE_QUANTITIES.get(stage, ([], ""))
    values = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=float)
    finite = pd.Series(np.isfinite(values)).groupby(frame["quantity"].to_numpy()).any()
    empty = [q for q in names if q in finite.index and not finite[q]]
    if empty:
        raise InputDataError(
            f"The {stage} stage computed no number for {empty}: every setting is NaN, so "
            f"{path} was not written. Check the stage's logs (logs/{stage}/) and the config: "
            f"most often {keys}."
        )


def check_paper_table(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    """Validate ``config/paper_values.tsv``; return it with every column as str."""
    missing = [c for c in PAPER_COLUMNS if c not in frame.columns]
    fix = ("Edit that file (columns: " + ", ".join(PAPER_COLUMNS) + "; one row per paper "
           "number) or point `report.paper_values` at a valid one.")
    if missing:
        raise InputDataError(f"Paper values table {path} lacks columns {missing}. {fix}")
    out = _read_as_text(frame, PAPER_COLUMNS)
    unknown = sorted(set(out["stage"]) - set(STAGES))
    if unknown:
        raise InputDataError(f"Paper values table {path} names unknown stage(s) {unknown}; "
                             f"stages are {STAGES}. {fix}")
    if (out["source"] == "").any() or (out["paper_value"] == "").any():
        row = out.loc[(out["source"] == "") | (out["paper_value"] == "")].iloc[0]
        raise InputDataError(f"Paper values table {path}: row {row['stage']}/{row['quantity']}"
                             f" has no paper_value or no source; every paper number needs "
                             f"both. {fix}")
    for s in out["setting"]:
        parse_setting(s, where=path)
    dup = out.duplicated(["stage", "quantity", "setting"])
    if dup.any():
        first = out.loc[dup, ["stage", "quantity", "setting"]].iloc[0].tolist()
        raise InputDataError(f"Paper values table {path} repeats {first}. {fix}")
    return out


def assemble_summary(stage_tables: Mapping[str, pd.DataFrame], paper: pd.DataFrame
                     ) -> pd.DataFrame:
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
            (idx, parse_setting(row["setting"])))
    used: set = set()
    blocks = []
    for stage, table in stage_tables.items():
        rows = []
        for rec in table.itertuples(index=False):
            actual = parse_setting(rec.setting)
            hits = [(idx, p) for idx, p in by_key.get((stage, rec.quantity), [])
                    if setting_matches(p, actual)]
            exact = [h for h in hits if "*" not in h[1].values()]
            hit = (exact or hits or [None])[0]
            out = {"stage": stage, "quantity": rec.quantity, "setting": rec.setting,
                   "value": rec.value, "model": rec.model,
                   "paper_value": "", "paper_model": "", "source": ""}
            if hit is not None:
                used.add(hit[0])
                p = paper.loc[hit[0]]
                out.update(paper_value=p["paper_value"], paper_model=p["paper_model"],
                           source=p["source"])
            rows.append(out)
        unmatched = paper[(paper["stage"] == stage) & ~paper.index.isin(used)]
        for _, p in unmatched.iterrows():
            rows.append({"stage": stage, "quantity": p["quantity"], "setting": p["setting"],
                         "value": np.nan, "model": "", "paper_value": p["paper_value"],
                         "paper_model": p["paper_model"], "source": p["source"]})
        blocks.append(pd.DataFrame(rows, columns=SUMMARY_COLUMNS))
    if not blocks:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    return pd.concat(blocks, ignore_index=True)


def check_glossary(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    """Validate the glossary of quantities (``config/glossary.tsv``); return it as str."""
    fix = ("Edit that file: one row per (stage, quantity) with columns "
           + ", ".join(GLOSSARY_COLUMNS) + f"; kind is one of {list(KINDS)}.")
    missing = [c for c in GLOSSARY_COLUMNS if c not in frame.columns]
    if missing:
        raise InputDataError(f"Glossary {path} lacks columns {missing}. {fix}")
    out = _read_as_text(frame, GLOSSARY_COLUMNS)
    bad = out.loc[~out["kind"].isin(KINDS), ["stage", "quantity", "kind"]]
    if len(bad):
        raise InputDataError(f"Glossary {path}: unknown kind {bad.iloc[0].tolist()}. {fix}")
    empty = out.loc[out["definition"].str.strip() == "", ["stage", "quantity"]]
    if len(empty):
        raise InputDataError(f"Glossary {path}: {empty.iloc[0].tolist()} has no definition. "
                             f"{fix}")
    dup = out.duplicated(["stage", "quantity"])
    if dup.any():
        raise InputDataError(f"Glossary {path} repeats "
                             f"{out.loc[dup, ['stage', 'quantity']].iloc[0].tolist()}. {fix}")
    return out


def check_glossary_covers(summary: pd.DataFrame, glossary: pd.DataFrame, path: str) -> None:
    """Refuse a summary with a (stage, quantity) that the glossary does not define."""
    known = set(zip(glossary["stage"], glossary["quantity"]))
    missing = sorted({(s, q) for s, q in zip(summary["stage"], summary["quantity"])} - known)
    if missing:
        raise InputDataError(
            f"Glossary {path} defines no row for {len(missing)} quantit"
            f"{'y' if len(missing) == 1 else 'ies'} of the summary: {missing[:8]}. Every "
            f"quantity in results/summary.tsv needs one (columns "
            f"{', '.join(GLOSSARY_COLUMNS)}): add it there, with its kind "
            f"({', '.join(KINDS)}) and a one-sentence definition.")


def _kinds(summary: pd.DataFrame, glossary: pd.DataFrame | None) -> list[str]:
    if glossary is None:
        return ["real"] * len(summary)
    kind = dict(zip(zip(glossary["stage"], glossary["quantity"]), glossary["kind"]))
    return [kind.get((s, q), "real") for s, q in zip(summary["stage"], summary["quantity"])]


def format_value(value, kind: str = "real", digits: int | None = None) -> str:
    """One value as text: ``""`` for NaN; counts, booleans and layers as integers; reals in
    full (round-trip) precision, or rounded to ``digits`` significant figures (plain
    notation between 1e-4 and 1e7)."""
    if value is None or (isinstance(value, str) and value == ""):
        return ""
    v = float(value)
    if np.isnan(v):
        return ""
    if kind in INTEGER_KINDS and v.is_integer():
        return str(int(v))
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    if digits is None:
        return repr(v)
    text = f"{v:.{digits}g}"
    if "e" in text and 1e-4 <= abs(v) < 1e7:
        text = np.format_float_positional(float(text), trim="-")
    return text


def format_for_tsv(table: pd.DataFrame, glossary: pd.DataFrame | None) -> pd.DataFrame:
    """The table with ``value`` as text: counts and booleans as integers, reals in full
    precision, NaN empty (for results/summary.tsv and results/headline.tsv)."""
    out = table.copy()
    out["value"] = [format_value(v, k) for v, k in zip(out["value"], _kinds(out, glossary))]
    return out


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
    rows["comparison"] = np.where(~computed, NOT_COMPUTED, np.where(same, SAME_MODEL,
                                                                   CROSS_MODEL))
    rows["same_model"] = [(1 if s else 0) if c else "" for s, c in zip(same, computed)]
    order = {SAME_MODEL: 0, CROSS_MODEL: 1, NOT_COMPUTED: 2}
    rows["_order"] = rows["comparison"].map(order)
    rows = rows.sort_values("_order", kind="stable").drop(columns="_order")
    return rows.loc[:, HEADLINE_COLUMNS].reset_index(drop=True)


def _value_cell(value, model, kind) -> tuple[str, str]:
    """(text, css class) of a value in the report: 3 significant figures; an empty value
    says whether the run did not compute it or computed no finite number."""
    if pd.isna(value):
        if str(model) == "":
            return "not computed", "missing"
        return "undefined", "missing"
    return format_value(value, kind, digits=3), ""


def summary_html(summary: pd.DataFrame, title: str, glossary: pd.DataFrame | None = None
                 ) -> str:
    """A self-contained HTML page showing the summary table (for the Snakemake report).

    Rows that carry a paper number come first (in stage order), then the others. Values are
    rounded to 3 significant figures (counts and booleans as integers; the TSV keeps full
    precision). Grey rows have no reproduced value; a paper number for another model is
    flagged (italic, and the ``comparison`` column). With a glossary, each quantity carries
    its definition (hover) and the glossary follows the table.
    """
    kinds = _kinds(summary, glossary)
    has_paper = summary["paper_value"].astype(str) != ""
    order = list(np.flatnonzero(has_paper.to_numpy())) + list(np.flatnonzero(~has_paper.to_numpy()))
    defs = ({} if glossary is None else
            dict(zip(zip(glossary["stage"], glossary["quantity"]), glossary["definition"])))
    columns = ["stage", "quantity", "setting", "value", "paper_value", "comparison", "source",
               "model", "paper_model"]
    body = []
    for i in order:
        row = summary.iloc[i]
        text, cls = _value_cell(row["value"], row["model"], kinds[i])
        classes = [cls] if cls else []
        comparison = ""
        if row["paper_value"] != "":
            if row["model"] == "":
                comparison = NOT_COMPUTED
            elif row["paper_model"] == row["model"]:
                comparison = SAME_MODEL
            else:
                comparison = CROSS_MODEL
                classes.append("othermodel")
        cells = []
        for c in columns:
            if c == "value":
                cells.append(f"<td>{_esc(text)}</td>")
            elif c == "comparison":
                cells.append(f"<td>{_esc(comparison)}</td>")
            elif c == "quantity":
                tip = defs.get((row["stage"], row["quantity"]), "")
                cells.append(f'<td title="{_esc(tip)}"><a href="#q-{_esc(row["stage"])}-'
                             f'{_esc(row["quantity"])}">{_esc(row["quantity"])}</a></td>')
            else:
                cells.append(f"<td>{_esc(row[c])}</td>")
        body.append(f'<tr class="{" ".join(classes)}">{"".join(cells)}</tr>')
    head = "".join(f"<th>{c}</th>" for c in columns)
    n_paper = int(has_paper.sum())
    n_done = int(summary["value"].notna().sum())
    n_same = int(((summary["model"] == summary["paper_model"]) & has_paper
                  & (summary["model"] != "")).sum())
    gloss = "" if glossary is None else "<h3 id=\"glossary\">Glossary of quantities</h3>\n" + \
        _glossary_table(glossary)
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{_esc(title)}</title>
<style>
body {{ font-family: sans-serif; font-size: 13px; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }}
th {{ background: #eee; position: sticky; top: 0; }}
tr.missing td {{ color: #999; }}
tr.othermodel td:nth-child(5) {{ font-style: italic; }}
td a {{ color: inherit; }}
</style></head><body>
<h3>{_esc(title)}</h3>
<p>{n_done} reproduced values; {n_paper} rows carry a paper number and come first, of which
{n_same} are for the model this run used (<code>comparison</code>: <i>same model</i>); the
others compare a stand-in with the paper's model (<i>cross-model</i>, paper value in italics)
or were not computed. Values are rounded to 3 significant figures (counts and booleans as
integers); <code>results/summary.tsv</code> keeps full precision.</p>
<p>Grey rows have no reproduced value: <i>not computed</i> means the paper gives a number
for a setting this run did not compute (e.g. a layer the offline model does not have);
<i>undefined</i> means the run computed the quantity but it has no finite value (e.g. a
z-score whose null has zero spread; each quantity's glossary entry says when it is empty).
Hover over a quantity for its definition, or click it for the glossary
{"below" if glossary is not None else ""}.</p>
<table><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(body)}
</tbody></table>
{gloss}
</body></html>
"""


def _glossary_table(glossary: pd.DataFrame) -> str:
    rows = "\n".join(
        f'<tr id="q-{_esc(r.stage)}-{_esc(r.quantity)}"><td>{_esc(r.stage)}</td>'
        f"<td><code>{_esc(r.quantity)}</code></td><td>{_esc(r.kind)}</td>"
        f"<td>{_esc(r.definition)}</td></tr>" for r in glossary.itertuples())
    return ("<table><thead><tr><th>stage</th><th>quantity</th><th>kind</th>"
            f"<th>definition</th></tr></thead><tbody>\n{rows}\n</tbody></table>")


def glossary_html(glossary: pd.DataFrame, title: str = "Glossary of quantities") -> str:
    """A self-contained HTML page of the glossary (every quantity name, its kind and
    definition), for the Snakemake report."""
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{_esc(title)}</title>
<style>
body {{ font-family: sans-serif; font-size: 13px; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }}
th {{ background: #eee; }}
</style></head><body>
<h3>{_esc(title)}</h3>
<p>Every <code>quantity</code> of <code>results/summary.tsv</code>, per stage. Kind: how it
prints (<i>count</i>, <i>boolean</i> 1/0 and <i>layer</i> as integers, <i>real</i> in full
precision in the TSV, 3 significant figures in the report). Settings (<code>layer=</code>,
<code>measure=</code>, <code>variant=</code>, …) say where a value was measured; faithful
variants are the papers' code, corrected ones the fixed computation. From
<code>config/glossary.tsv</code>.</p>
{_glossary_table(glossary)}
</body></html>
"""


def _rst(text) -> str:
    """Escape text for a reStructuredText table cell."""
    out = "" if text is None else str(text)
    for ch in "\\*`_|":
        out = out.replace(ch, "\\" + ch)
    return out or "\\ "


def headline_rst(headline: pd.DataFrame, glossary: pd.DataFrame | None = None) -> str:
    """The headline table as reStructuredText (a ``list-table``) for the report's first page:
    values to 3 significant figures, one row per paper number (the models of each row are
    in headline.tsv and the summary page; the comparison column says whether they agree)."""
    kinds = _kinds(headline, glossary)
    header = ["stage", "quantity", "setting", "value (this run)", "paper", "comparison"]
    lines = [".. list-table::", "   :header-rows: 1", ""]
    lines.append("   * - " + "\n     - ".join(header))
    for i, r in enumerate(headline.itertuples(index=False)):
        value = "–" if pd.isna(r.value) or r.value == "" else format_value(r.value, kinds[i], 3)
        if value == "–" and r.comparison != NOT_COMPUTED:
            value = "undefined"
        cells = [_rst(r.stage), f"``{r.quantity}``" if r.quantity else "\\ ",
                 f"``{r.setting}``" if r.setting else "\\ ", _rst(value), _rst(r.paper_value),
                 _rst(r.comparison)]
        lines.append("   * - " + "\n     - ".join(cells))
    return "\n".join(lines) + "\n"


def next_steps_message(report_enabled: bool) -> str:
    """What the run made and what to do next (printed by the Snakefile's ``onsuccess``)."""
    lines = ["", "concept-geometry: the run finished. What to look at next:"]
    if report_enabled:
        lines += [
            "  results/headline.tsv   the rows that compare with the papers; column `comparison`",
            "                         says same model, cross-model (a stand-in) or not computed",
            "  results/summary.tsv    every reproduced quantity (definitions: config/glossary.tsv)",
        ]
    lines += [
        "  figures                results/figures/ (simulation) and results/<stage>/.../figures/",
        "                         (alignment, crystals, lobes, galaxy), PNG + PDF",
        "  logs                   logs/<stage>/, one per job (progress bars; `tail -f` one while",
        "                         a run is going)",
        f"  report                 {REPORT_COMMAND}",
        "                         (add the run's --configfile options), then open it in a browser",
    ]
    return "\n".join(lines) + "\n"


def _esc(value) -> str:
    import html

    return html.escape("" if value is None else str(value))


def check_report_config(config: dict) -> None:
    """Cross-field check: report.stages must be enabled stages (when report runs)."""
    section = config.get("report", {})
    stages = config.get("stages", [])
    if "report" not in stages:
        return
    listed = section.get("stages")
    if listed is None:
        return
    off = [s for s in listed if s not in stages]
    if off:
        raise ConfigError(
            f"Invalid config: `report.stages` lists {off}, which are not in `stages` "
            f"{stages}. Enable them in `stages` or remove them from `report.stages` (leave "
            f"`report.stages` unset to report every enabled stage). Every key is "
            f"documented in config/README.md.")
