"""Formatting of the report's tables: TSV cells by each quantity's kind, the summary and
glossary HTML pages and the headline table in reStructuredText."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .tables import CROSS_MODEL, INTEGER_KINDS, NOT_COMPUTED, SAME_MODEL


def _kinds(summary: pd.DataFrame, glossary: pd.DataFrame | None) -> list[str]:
    if glossary is None:
        return ["real"] * len(summary)
    kind = dict(
        zip(
            zip(glossary["stage"], glossary["quantity"], strict=False),
            glossary["kind"],
            strict=False,
        )
    )
    return [
        kind.get((s, q), "real")
        for s, q in zip(summary["stage"], summary["quantity"], strict=False)
    ]


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
    out["value"] = [
        format_value(v, k) for v, k in zip(out["value"], _kinds(out, glossary), strict=False)
    ]
    return out


def _value_cell(value, model, kind) -> tuple[str, str]:
    """(text, css class) of a value in the report: 3 significant figures; an empty value
    says whether the run did not compute it or computed no finite number."""
    if pd.isna(value):
        if str(model) == "":
            return "not computed", "missing"
        return "undefined", "missing"
    return format_value(value, kind, digits=3), ""


def summary_html(summary: pd.DataFrame, title: str, glossary: pd.DataFrame | None = None) -> str:
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
    defs = (
        {}
        if glossary is None
        else dict(
            zip(
                zip(glossary["stage"], glossary["quantity"], strict=False),
                glossary["definition"],
                strict=False,
            )
        )
    )
    columns = [
        "stage",
        "quantity",
        "setting",
        "value",
        "paper_value",
        "comparison",
        "source",
        "model",
        "paper_model",
    ]
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
                cells.append(
                    f'<td title="{_esc(tip)}"><a href="#q-{_esc(row["stage"])}-'
                    f'{_esc(row["quantity"])}">{_esc(row["quantity"])}</a></td>'
                )
            else:
                cells.append(f"<td>{_esc(row[c])}</td>")
        body.append(f'<tr class="{" ".join(classes)}">{"".join(cells)}</tr>')
    head = "".join(f"<th>{c}</th>" for c in columns)
    n_paper = int(has_paper.sum())
    n_done = int(summary["value"].notna().sum())
    n_same = int(
        ((summary["model"] == summary["paper_model"]) & has_paper & (summary["model"] != "")).sum()
    )
    gloss = (
        ""
        if glossary is None
        else '<h3 id="glossary">Glossary of quantities</h3>\n' + _glossary_table(glossary)
    )
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
        f"<td>{_esc(r.definition)}</td></tr>"
        for r in glossary.itertuples()
    )
    return (
        "<table><thead><tr><th>stage</th><th>quantity</th><th>kind</th>"
        f"<th>definition</th></tr></thead><tbody>\n{rows}\n</tbody></table>"
    )


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
the registry of headline quantities \
(<code>workflow/concept_geometry/&lt;stage&gt;/quantities.py</code>).</p>
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
        cells = [
            _rst(r.stage),
            f"``{r.quantity}``" if r.quantity else "\\ ",
            f"``{r.setting}``" if r.setting else "\\ ",
            _rst(value),
            _rst(r.paper_value),
            _rst(r.comparison),
        ]
        lines.append("   * - " + "\n     - ".join(cells))
    return "\n".join(lines) + "\n"


def _esc(value) -> str:
    import html

    return html.escape("" if value is None else str(value))
