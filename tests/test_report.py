"""Report stage: the summary join on hand-made tables, the paper-values file, and an end-to-end
`snakemake --report` on a tiny config."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from concept_geometry.errors import ConfigError, InputDataError
from concept_geometry.report import (
    GLOSSARY_COLUMNS,
    HEADLINE_COLUMNS,
    PAPER_COLUMNS,
    REPORT_COMMAND,
    STAGES,
    SUMMARY_COLUMNS,
    assemble_summary,
    check_glossary,
    check_glossary_covers,
    check_paper_table,
    check_report_config,
    check_stage_table,
    format_for_tsv,
    format_value,
    headline_rst,
    headline_table,
    next_steps_message,
    parse_setting,
    setting_matches,
    summary_html,
)

ROOT = Path(__file__).resolve().parents[1]


def stage_table(rows):
    return pd.DataFrame(rows, columns=["stage", "quantity", "setting", "model", "value"])


def paper_table(rows):
    return check_paper_table(pd.DataFrame(rows, columns=PAPER_COLUMNS), "paper.tsv")


# --- settings ----------------------------------------------------------------------------


def test_parse_setting():
    assert parse_setting("") == {}
    assert parse_setting(float("nan")) == {}
    assert parse_setting("layer=12, k=2") == {"layer": "12", "k": "2"}
    for bad in ["layer", "layer=1,layer=2", "=3"]:
        with pytest.raises(InputDataError, match="key=value"):
            parse_setting(bad)


def test_setting_matches_order_and_wildcard():
    a = parse_setting("layer=12,measure=phi")
    assert setting_matches(parse_setting("measure=phi,layer=12"), a)
    assert setting_matches(parse_setting("layer=*,measure=phi"), a)
    assert not setting_matches(parse_setting("layer=13,measure=phi"), a)
    assert not setting_matches(parse_setting("layer=*"), a)  # keys must agree
    assert not setting_matches(parse_setting("layer=*,measure=phi,k=2"), a)
    assert setting_matches({}, {})


# --- the join ----------------------------------------------------------------------------


def test_assemble_summary_hand_made():
    galaxy = check_stage_table(
        stage_table(
            [
                ("galaxy", "powerlaw_slope", "layer=0", "m", -0.2),
                ("galaxy", "powerlaw_slope", "layer=1", "m", -0.3),
                ("galaxy", "null_slope", "layer=0", "m", -0.01),
                ("galaxy", "steepest_slope_layer", "", "m", 1.0),
            ]
        ),
        "galaxy",
        "g.tsv",
    )
    lobes = check_stage_table(
        stage_table(
            [
                (
                    "lobes",
                    "ami",
                    "k=2,layer=3,measure=phi",
                    "m",
                    0.1,
                ),  # key order differs from paper
            ]
        ),
        "lobes",
        "l.tsv",
    )
    paper = paper_table(
        [
            ("galaxy", "powerlaw_slope", "layer=0", "-0.238", "gemma", "Li"),
            ("galaxy", "powerlaw_slope", "layer=24", "-0.254", "gemma", "Li"),  # not computed
            ("galaxy", "null_slope", "layer=*", "-0.03", "null", "Li null"),
            ("galaxy", "steepest_slope_layer", "", "13", "gemma", "Li steep"),
            ("lobes", "ami", "layer=*,measure=phi,k=2", "0.06", "gemma", "Li lobes"),
            ("lobes", "acc_z", "layer=*,measure=phi,k=2", "74", "gemma", "Li acc"),  # not computed
            ("crystals", "silhouette", "", "0.5", "gemma", "made up"),  # stage not reported
        ]
    )
    out = assemble_summary({"galaxy": galaxy, "lobes": lobes}, paper)
    assert list(out.columns) == SUMMARY_COLUMNS
    assert SUMMARY_COLUMNS[:6] == [
        "stage",
        "quantity",
        "setting",
        "value",
        "paper_value",
        "source",
    ]  # the contract's columns, in its order
    # reproduced rows first, in the stage's order, then the paper rows nobody matched
    assert out["quantity"].tolist() == [
        "powerlaw_slope",
        "powerlaw_slope",
        "null_slope",
        "steepest_slope_layer",
        "powerlaw_slope",
        "ami",
        "acc_z",
    ]
    key = out.set_index(["stage", "quantity", "setting"])
    assert key.loc[("galaxy", "powerlaw_slope", "layer=0"), "paper_value"] == "-0.238"
    assert key.loc[("galaxy", "powerlaw_slope", "layer=0"), "value"] == -0.2
    assert key.loc[("galaxy", "powerlaw_slope", "layer=1"), "paper_value"] == ""  # none given
    assert key.loc[("galaxy", "powerlaw_slope", "layer=1"), "source"] == ""
    assert key.loc[("galaxy", "null_slope", "layer=0"), "paper_value"] == "-0.03"  # wildcard
    assert key.loc[("galaxy", "steepest_slope_layer", ""), "source"] == "Li steep"
    assert key.loc[("lobes", "ami", "k=2,layer=3,measure=phi"), "paper_model"] == "gemma"
    missing = key.loc[("galaxy", "powerlaw_slope", "layer=24")]
    assert math.isnan(missing["value"]) and missing["paper_value"] == "-0.254"
    assert math.isnan(key.loc[("lobes", "acc_z", "layer=*,measure=phi,k=2"), "value"])
    assert "crystals" not in set(out["stage"])  # paper rows of unreported stages dropped
    assert out["value"].notna().sum() == 5


def test_exact_setting_wins_over_wildcard():
    t = check_stage_table(
        stage_table([("galaxy", "null_slope", "layer=4", "m", -0.02)]), "galaxy", "g.tsv"
    )
    paper = paper_table(
        [
            ("galaxy", "null_slope", "layer=*", "-0.03", "x", "any"),
            ("galaxy", "null_slope", "layer=4", "-0.05", "x", "layer 4"),
        ]
    )
    out = assemble_summary({"galaxy": t}, paper)
    assert out.loc[0, "paper_value"] == "-0.05" and out.loc[0, "source"] == "layer 4"
    # the wildcard row matched nothing else; it is listed as not computed
    assert len(out) == 2 and math.isnan(out.loc[1, "value"]) and out.loc[1, "setting"] == "layer=*"


def test_stage_table_contract_errors():
    good = stage_table([("lobes", "ami", "", "m", 0.1)])
    with pytest.raises(InputDataError, match="lacks columns"):
        check_stage_table(good.drop(columns="model"), "lobes", "l.tsv")
    with pytest.raises(InputDataError, match="no rows"):
        check_stage_table(good.iloc[:0], "lobes", "l.tsv")
    with pytest.raises(InputDataError, match="expected only `galaxy`"):
        check_stage_table(good, "galaxy", "g.tsv")
    with pytest.raises(InputDataError, match="non-numeric"):
        check_stage_table(stage_table([("lobes", "ami", "", "m", "high")]), "lobes", "l.tsv")
    with pytest.raises(InputDataError, match="repeats"):
        check_stage_table(pd.concat([good, good]), "lobes", "l.tsv")


def test_all_nan_headline_quantity_is_refused_naming_the_key():
    """Issue 13 §5: a diverged run wrote a table of NaNs with exit 0."""
    from concept_geometry import registry

    def check_headline_numbers(rows, path):
        registry.check_required(registry.load_stage("simulation"), rows, path)

    nan = float("nan")
    q = "steering_cos_mean"
    rows = pd.DataFrame(
        {
            "stage": "simulation",
            "quantity": ["other", "other", q, q],
            "setting": ["s=1", "s=2", "s=1", "s=2"],
            "model": "",
            "value": [nan, nan, nan, nan],
        }
    )
    with pytest.raises(InputDataError) as err:
        check_headline_numbers(rows, "results/summary/simulation.tsv")
    msg = str(err.value)
    assert f"['{q}']" in msg and "simulation.lr" in msg and "was not written" in msg
    rows.loc[3, "value"] = float("inf")  # an infinite value is no number either
    with pytest.raises(InputDataError, match=q):
        check_headline_numbers(rows, "x.tsv")
    rows.loc[3, "value"] = 0.1
    check_headline_numbers(rows, "x.tsv")  # one NaN setting is a result; `other` may be NaN


def test_paper_table_errors():
    with pytest.raises(InputDataError, match="unknown stage"):
        paper_table([("galaxies", "x", "", "1", "m", "s")])
    with pytest.raises(InputDataError, match="no paper_value or no source"):
        paper_table([("galaxy", "x", "", "1", "m", "")])


def test_html_greys_missing_rows():
    t = check_stage_table(
        stage_table([("galaxy", "powerlaw_slope", "layer=0", "m", -0.2)]), "galaxy", "g.tsv"
    )
    paper = paper_table([("galaxy", "powerlaw_slope", "layer=24", "-0.254", "gemma", "Li <x>")])
    page = summary_html(assemble_summary({"galaxy": t}, paper), "T")
    assert page.count("<tr class=") == 2 and 'class="missing"' in page
    assert "Li &lt;x&gt;" in page and "not computed" in page


def glossary_table(rows):
    return check_glossary(pd.DataFrame(rows, columns=GLOSSARY_COLUMNS), "glossary.tsv")


def test_headline_labels_same_model_cross_model_and_not_computed():
    sim = check_stage_table(
        stage_table(
            [
                ("simulation", "steering_cos_mean", "experiment=full", "latent", 0.97),
                (
                    "simulation",
                    "final_loss_mean",
                    "experiment=full",
                    "latent",
                    1.5,
                ),  # no paper value
            ]
        ),
        "simulation",
        "s.tsv",
    )
    galaxy = check_stage_table(
        stage_table(
            [
                ("galaxy", "powerlaw_slope", "layer=0", "minilm", -0.7),
            ]
        ),
        "galaxy",
        "g.tsv",
    )
    paper = paper_table(
        [
            ("simulation", "steering_cos_mean", "experiment=full", ">=0.9", "latent", "Jiang"),
            ("galaxy", "powerlaw_slope", "layer=0", "-0.238", "gemma", "Li"),
            ("galaxy", "powerlaw_slope", "layer=24", "-0.254", "gemma", "Li"),  # not computed
        ]
    )
    summary = assemble_summary({"simulation": sim, "galaxy": galaxy}, paper)
    head = headline_table(summary)
    assert list(head.columns) == HEADLINE_COLUMNS
    # only the three paper-valued rows; same model first, then cross-model, then not computed
    assert head[["quantity", "setting", "comparison", "same_model"]].values.tolist() == [
        ["steering_cos_mean", "experiment=full", "same model", 1],
        ["powerlaw_slope", "layer=0", "cross-model", 0],
        ["powerlaw_slope", "layer=24", "not computed", ""],
    ]
    text = headline_rst(head)
    assert text.startswith(".. list-table::") and text.count("   * - ") == 4  # header + 3 rows
    assert "cross-model" in text and "-0.7" in text


def test_values_print_as_integers_and_three_significant_figures():
    assert format_value(641.0, "count") == "641"
    assert format_value(1.0, "boolean") == "1" and format_value(13.0, "layer") == "13"
    assert format_value(0.123456789, "real") == "0.123456789"  # full precision
    assert format_value(0.123456789, "real", 3) == "0.123"
    assert format_value(366.24, "real", 3) == "366"
    assert format_value(1234.5, "real", 3) == "1230"  # not 1.23e+03
    assert format_value(float("nan"), "count") == ""
    assert format_value(2.5, "count") == "2.5"  # a fractional "count" is shown, not hidden
    glossary = glossary_table(
        [("lobes", "n_excluded", "count", "d"), ("lobes", "ami", "real", "d")]
    )
    table = pd.DataFrame(
        {
            "stage": ["lobes", "lobes"],
            "quantity": ["n_excluded", "ami"],
            "value": [12.0, 0.0123456789012],
        }
    )
    assert format_for_tsv(table, glossary)["value"].tolist() == ["12", "0.0123456789012"]


def test_summary_page_puts_paper_rows_first_and_explains_empty_values():
    t = check_stage_table(
        stage_table(
            [
                (
                    "lobes",
                    "acc_z",
                    "k=2,variant=faithful",
                    "m",
                    float("nan"),
                ),  # undefined, no paper
                ("lobes", "ami", "k=2,variant=faithful", "m", 0.0123456),
            ]
        ),
        "lobes",
        "l.tsv",
    )
    paper = paper_table(
        [
            ("lobes", "ami", "k=2,variant=faithful", "0.06", "gemma", "Li"),
            ("lobes", "ami_z", "k=2,variant=faithful", "954", "gemma", "Li"),
        ]
    )
    glossary = glossary_table(
        [
            ("lobes", "acc_z", "real", "z; empty when the null is flat"),
            ("lobes", "ami", "real", "AMI"),
            ("lobes", "ami_z", "real", "z"),
        ]
    )
    page = summary_html(assemble_summary({"lobes": t}, paper), "T", glossary)
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("</tr>")
    assert ">ami<" in rows[0] and "0.0123<" in rows[0] and "cross-model" in rows[0]
    assert ">ami_z<" in rows[1] and "not computed" in rows[1] and 'class="missing"' in rows[1]
    assert ">acc_z<" in rows[2] and "undefined" in rows[2] and 'class="missing"' in rows[2]
    assert 'title="z; empty when the null is flat"' in rows[2]
    assert 'id="glossary"' in page and 'id="q-lobes-acc_z"' in page


def test_glossary_checks():
    with pytest.raises(InputDataError, match="unknown kind"):
        glossary_table([("lobes", "ami", "number", "d")])
    with pytest.raises(InputDataError, match="no definition"):
        glossary_table([("lobes", "ami", "real", " ")])
    with pytest.raises(InputDataError, match="repeats"):
        glossary_table([("lobes", "ami", "real", "d"), ("lobes", "ami", "real", "e")])
    summary = pd.DataFrame({"stage": ["lobes", "galaxy"], "quantity": ["ami", "ami"]})
    with pytest.raises(InputDataError, match=r"\('galaxy', 'ami'\)"):
        check_glossary_covers(summary, glossary_table([("lobes", "ami", "real", "d")]), "g.tsv")


def test_registry_glossary_is_valid_and_defines_every_paper_quantity():
    from concept_geometry import registry

    glossary = check_glossary(registry.glossary(), registry.WHERE)
    paper = pd.read_csv(
        ROOT / "config/paper_values.tsv", sep="\t", dtype=str, keep_default_na=False
    )
    check_glossary_covers(paper, glossary, registry.WHERE)
    kinds = dict(
        zip(zip(glossary.stage, glossary.quantity, strict=False), glossary.kind, strict=False)
    )
    # counts and booleans the issue names print as integers
    assert kinds[("alignment", "n_pairs_kept")] == "count"
    assert kinds[("lobes", "code_lobe_found")] == "boolean"
    assert kinds[("features", "sae_l0_per_token")] == "real"


def test_next_steps_message_names_the_outputs_and_the_report_command():
    text = next_steps_message(True)
    for name in (
        "results/summary.tsv",
        "results/headline.tsv",
        "results/figures/",
        "logs/",
        REPORT_COMMAND,
    ):
        assert name in text, name
    assert "results/headline.tsv" not in next_steps_message(False)
    assert REPORT_COMMAND == "snakemake --report results/report.html"
    smk = (ROOT / "workflow/rules/common.smk").read_text()
    assert "onsuccess:" in smk and "next_steps_message(" in smk.split("onsuccess:")[1][:400]


def test_check_report_config():
    check_report_config({"stages": ["galaxy", "report"], "report": {"stages": None}})
    check_report_config({"stages": ["galaxy"], "report": {"stages": ["lobes"]}})  # no report
    with pytest.raises(ConfigError, match="report.stages"):
        check_report_config({"stages": ["galaxy", "report"], "report": {"stages": ["lobes"]}})


# --- the shipped paper values ----------------------------------------------------------------


def test_paper_values_file_holds_the_papers_numbers():
    raw = pd.read_csv(ROOT / "config/paper_values.tsv", sep="\t", dtype=str, keep_default_na=False)
    paper = check_paper_table(raw, "config/paper_values.tsv")
    key = paper.set_index(["stage", "quantity", "setting"])["paper_value"]
    # Li et al.'s galaxy slopes (spec B), Jiang/Park's Llama-2 numbers (spec A)
    expected = {0: -0.238, 4: -0.316, 8: -0.351, 12: -0.468, 16: -0.362, 20: -0.282, 24: -0.254}
    for layer, v in expected.items():
        assert float(key[("galaxy", "powerlaw_slope", f"layer={layer}")]) == v
    assert key[("lobes", "ami_z", "layer=*,measure=phi,k=2,variant=faithful")] == "954"
    assert key[("lobes", "balanced_accuracy", "layer=*,measure=phi,k=2,variant=faithful")] == "0.85"
    assert key[("alignment", "n_pairs_kept", "")] == "641"
    assert key[("alignment", "orth_mean_abs", "space=unembedding,inner_product=causal")] == "0.0458"
    assert key[("simulation", "steering_cos_mean", "experiment=full")] == ">=0.9"
    assert set(paper["stage"]) <= set(STAGES)


# --- end to end -------------------------------------------------------------------------------


@pytest.mark.workflow
def test_report_end_to_end(tmp_path, snakemake_runner):
    """Tiny config: the simulation stage + the report; then `snakemake --report` (html, zip)."""
    cfg = yaml.safe_load((ROOT / "tests/slurm/config.yaml").read_text())
    cfgfile = tmp_path / "config.yaml"
    cfgfile.write_text(yaml.safe_dump(cfg))
    work = tmp_path / "run"
    work.mkdir()
    proc = snakemake_runner(work, cfgfile)
    # the run ends by saying where the results are and how to build the report
    assert REPORT_COMMAND in proc.stderr + proc.stdout
    assert "results/headline.tsv" in proc.stderr + proc.stdout
    summary = pd.read_csv(work / "results/summary.tsv", sep="\t", keep_default_na=False)
    assert list(summary.columns) == SUMMARY_COLUMNS
    # the headline table: the paper-valued rows, with the model-agreement column
    headline = pd.read_csv(work / "results/headline.tsv", sep="\t", keep_default_na=False)
    assert list(headline.columns) == HEADLINE_COLUMNS
    assert len(headline) == (summary["paper_value"] != "").sum() > 0
    steer = headline[
        (headline.quantity == "steering_cos_mean") & (headline.setting == "experiment=full")
    ]
    # the simulation is the paper's own model (the latent-concept model)
    assert steer[["comparison", "same_model"]].values.tolist() == [["same model", 1]]
    text_values = pd.read_csv(
        work / "results/summary.tsv", sep="\t", dtype=str, keep_default_na=False
    )
    counts = text_values[text_values.quantity.str.endswith("_n_concepts")]["value"]
    assert len(counts) and all(v.isdigit() for v in counts)  # counts print as integers
    reported = [
        s
        for s in ["simulation", "alignment", "features", "crystals", "lobes", "galaxy"]
        if s in cfg["stages"]
    ]
    assert reported and set(summary["stage"]) == set(reported)
    for stage in reported:  # a reproduced (numeric) row for every reported stage
        values = pd.to_numeric(summary.loc[summary.stage == stage, "value"], errors="coerce")
        assert values.notna().any(), stage
    if "simulation" in reported:
        row = summary[
            (summary.quantity == "steering_cos_mean") & (summary.setting == "experiment=full")
        ]
        assert len(row) == 1 and row["paper_value"].iloc[0] == ">=0.9"

    html = work / "results/report.html"
    snakemake_runner(work, cfgfile, "--report", str(html))
    text = html.read_text()
    assert "summary.html" in text
    # the first page holds the headline table and links the glossary
    assert "Headline: reproduced vs paper values" in text and "glossary.html" in text
    # every figure the stage declares in the report is embedded (no broken image)
    figures = sorted(p.name for p in (work / "results").rglob("*.png"))
    for name in figures:
        assert name in text, name
    zpath = work / "results/report.zip"
    snakemake_runner(work, cfgfile, "--report", str(zpath))
    with zipfile.ZipFile(zpath) as zf:
        names = zf.namelist()
    assert any(n.endswith("summary.html") for n in names)
    for name in figures:
        assert any(n.endswith(name) for n in names), name
