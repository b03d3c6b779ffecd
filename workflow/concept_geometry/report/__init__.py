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

from ..errors import ConfigError
from .render import format_for_tsv, format_value, glossary_html, headline_rst, summary_html  # noqa: F401
from .tables import (  # noqa: F401
    CROSS_MODEL,
    GLOSSARY_COLUMNS,
    HEADLINE_COLUMNS,
    INTEGER_KINDS,
    KINDS,
    NOT_COMPUTED,
    PAPER_COLUMNS,
    SAME_MODEL,
    STAGE_COLUMNS,
    STAGES,
    SUMMARY_COLUMNS,
    assemble_summary,
    check_glossary,
    check_glossary_covers,
    check_paper_table,
    check_stage_table,
    headline_table,
    parse_setting,
    setting_matches,
)

REPORT_COMMAND = "snakemake --report results/report.html"

__all__ = [
    "STAGE_COLUMNS",
    "PAPER_COLUMNS",
    "SUMMARY_COLUMNS",
    "GLOSSARY_COLUMNS",
    "HEADLINE_COLUMNS",
    "KINDS",
    "REPORT_COMMAND",
    "parse_setting",
    "setting_matches",
    "check_stage_table",
    "check_paper_table",
    "check_glossary",
    "check_glossary_covers",
    "assemble_summary",
    "headline_table",
    "format_value",
    "format_for_tsv",
    "summary_html",
    "headline_rst",
    "glossary_html",
    "next_steps_message",
    "check_report_config",
]


def next_steps_message(report_enabled: bool) -> str:
    """What the run made and what to do next (printed by the Snakefile's ``onsuccess``)."""
    lines = ["", "concept-geometry: the run finished. What to look at next:"]
    if report_enabled:
        lines += [
            "  results/headline.tsv   the rows that compare with the papers; column `comparison`",
            "                         says same model, cross-model (a stand-in) or not computed",
            "  results/summary.tsv    every reproduced quantity (definitions: "
            "results/report/glossary.html)",
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
            f"documented in config/README.md."
        )
