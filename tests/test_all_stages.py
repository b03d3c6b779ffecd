"""Every stage at once on a tiny version of the default config (real MiniLM, stdlib corpus,
SAEs trained here, toy Llama trained here): two runs give byte-identical tables for every
stage (issue 9), and `snakemake --report` holds a summary row per stage and every figure,
intact (issue 8)."""

from __future__ import annotations

import base64

import matplotlib.image as mpimg
import pandas as pd
import pytest
from conftest import result_tables, run_snakemake

pytestmark = pytest.mark.workflow

STAGES = ["simulation", "alignment", "features", "crystals", "lobes", "galaxy"]

TINY = """
stages: [simulation, alignment, features, crystals, lobes, galaxy, report]
simulation: {m: 3, d: 3, steps: 150, log_every: 50, seeds: [0], experiments: [full]}
alignment:
  random_pair_draws: 3
  toy: {m: 3, d_model: 16, layers: 1, heads: 2, intermediate: 32, steps: 40, batch_size: 64,
        lr: 0.01, log_every: 10, eval_batch: 256}
features:
  corpus: {name: stdlib, source: stdlib, n_documents: 24, max_chars: 4000, min_chars: 200}
  layers: [3]
  sae: {source: train, width: 192, steps: 60, batch_size: 128, n_train_tokens: 2000}
  max_length: 66
  chunk_size: 32
crystals:
  layers: [embed, 3]
  relations: [country-capital, english-french, present-past, singular-plural]
  max_pairs_per_relation: 30
  lda: {n_components: 2}
  distractors: {n_components: 4, corr_threshold: 0.3}
  silhouette: {n_splits: 3}
  quality: {n_quadruples: 50}
  kmeans_n_init: 2
lobes:
  measures: [jaccard, phi]
  ks: [2, 3]
  ami: {n_permutations: 20}
  probe: {n_null: 2, n_splits: 3, max_iter: 100}
  figures: {k: 2, embedding: pca, max_points: 200, specialization_ks: [2]}
galaxy:
  fit_range: [3, 30]
  slope_ci: {method: bootstrap, replicates: 10, level: 0.9}
  entropy: {n_points: 150, zscore: true, pca_dim: 10}
  faithful: {k: 1, theta: 0.01, bootstrap: 3}
  corrected: {k: 3, subsample_fraction: 0.5, replicates: 5, level: 0.9}
  "null": {replicates: 2}
"""


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    works = []
    for name in ("first", "second"):
        work = tmp_path_factory.mktemp(name)
        (work / "tiny.yaml").write_text(TINY)
        run_snakemake(work, work / "tiny.yaml", timeout=900)
        works.append(work)
    return works


def test_every_stage_gives_byte_identical_tables_twice(two_runs):
    first, second = (result_tables(w) for w in two_runs)
    for stage in STAGES:  # every stage contributes tables, so the comparison covers it
        assert any(k.startswith(stage + "/") or k == f"summary/{stage}.tsv" for k in first), stage
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []


def test_report_has_a_row_per_stage_and_every_figure_intact(two_runs):
    work = two_runs[0]
    summary = pd.read_csv(work / "results/summary.tsv", sep="\t", keep_default_na=False)
    assert list(summary.columns[:6]) == [
        "stage",
        "quantity",
        "setting",
        "value",
        "paper_value",
        "source",
    ]
    for stage in STAGES:
        values = pd.to_numeric(summary.loc[summary.stage == stage, "value"], errors="coerce")
        assert values.notna().any(), f"no reproduced number for {stage}"
    assert (summary["paper_value"] != "").any()
    # every quantity of every stage is defined in the registry of headline quantities
    from concept_geometry import registry

    glossary = registry.glossary()
    undefined = set(zip(summary.stage, summary.quantity, strict=False)) - set(
        zip(glossary.stage, glossary.quantity, strict=False)
    )
    assert undefined == set()
    # the headline table: the paper-valued rows, each saying whether the models agree
    headline = pd.read_csv(work / "results/headline.tsv", sep="\t", keep_default_na=False)
    assert "same_model" in headline.columns and "comparison" in headline.columns
    assert len(headline) == (summary["paper_value"] != "").sum()
    same = headline["model"] == headline["paper_model"]
    computed = headline["model"] != ""
    assert (headline.loc[same & computed, "comparison"] == "same model").all()
    assert (headline.loc[~same & computed, "comparison"] == "cross-model").all()
    assert (headline.loc[~computed, "comparison"] == "not computed").all()
    assert set(headline.loc[computed, "same_model"].astype(str)) <= {"0", "1"}
    lobes_rows = summary[(summary.stage == "lobes") & (summary.quantity == "code_lobe_found")]
    assert len(lobes_rows) and lobes_rows.setting.str.contains("variant=").all()

    html = work / "results/report.html"
    run_snakemake(work, work / "tiny.yaml", "--report", str(html))
    text = html.read_text()
    figures = sorted((work / "results").rglob("*.png"))
    folders = {p.relative_to(work / "results").parts[0] for p in figures}
    assert folders >= {"figures", "alignment", "crystals", "lobes", "galaxy"}
    for png in figures:
        image = mpimg.imread(png)  # decodes: a real, non-empty picture
        assert image.ndim == 3 and min(image.shape[:2]) > 100 and image.std() > 0, png
        # embedded whole (no broken image): the report carries the file's exact bytes
        assert base64.b64encode(png.read_bytes()).decode() in text, png
    assert "summary.html" in text and "glossary.html" in text
    # report sub-folders of per-layer figures sort by depth: embed first
    assert "1. layer embed" in text and "2. layer 3" in text
    # the interactive explorers (issue 18): the features layer's page and the galaxy page
    pages = sorted((work / "results/explorer").rglob("*.html"))
    assert sorted(str(p.relative_to(work / "results/explorer")) for p in pages) == [
        "minilm-l6/crystals_layer_3.html",
        "minilm-l6/crystals_layer_embed.html",
        "minilm-l6/galaxy.html",
        "minilm-l6/stdlib/layer_3.html",
    ]
    # every caption names the config that made its figure or page, with this run's values
    assert text.count("Values in this run") == len(figures) + len(pages)
    assert "[3, 30]" in text and "{{" not in text  # galaxy.fit_range's value in its captions
