"""The registry of headline quantities (concept_geometry/registry.py): the one builder of
results/summary/<stage>.tsv, the README index, the paper values it must cover, and that a new
quantity needs only its stage module."""

import math

import pandas as pd
import pytest
from conftest import ROOT

from concept_geometry import io, registry
from concept_geometry.errors import InputDataError
from concept_geometry.registry import Quantity, Stage, Table, Unit


def _as_rows(frame):
    return [
        tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in r)
        for r in frame.itertuples(index=False)
    ]


def test_every_paper_value_names_a_registered_quantity():
    paper = pd.read_csv(
        ROOT / "config/paper_values.tsv", sep="\t", dtype=str, keep_default_na=False
    )
    known = {(s.name, q.id) for s in registry.stages() for q in s.quantities}
    unknown = sorted(set(zip(paper["stage"], paper["quantity"], strict=False)) - known)
    assert len(paper) > 0 and unknown == []


def test_readme_index_is_generated_from_the_registry():
    text = (ROOT / "README.md").read_text()
    start = text.index(registry.README_BEGIN)
    end = text.index(registry.README_END) + len(registry.README_END)
    assert text[start:end] == registry.readme_block(), (
        "README.md's index of quantities is stale: run "
        "`PYTHONPATH=workflow python -m concept_geometry.registry --readme`"
    )
    # one row per registered quantity, e.g. the galaxy slope with its column and paper figure
    rows = [line for line in registry.readme_table().splitlines()[2:]]
    assert len(rows) == sum(len(s.quantities) for s in registry.stages()) == 77
    assert (
        "| galaxy | `powerlaw_slope` | layer | `galaxy_gather` (`galaxy/<model>/galaxy.tsv`) "
        "| `slope` | `concept_geometry.galaxy.spectrum.powerlaw_slope` | "
        "Li et al. 2024 galaxy scale, Fig. 7 |"
    ) in rows


def test_rewrite_readme_replaces_only_the_marked_block():
    text = f"intro\n{registry.README_BEGIN}\nold table\n{registry.README_END}\noutro\n"
    out = registry.rewrite_readme(text)
    assert out.startswith("intro\n") and out.endswith("\noutro\n") and "old table" not in out
    assert registry.readme_table() in out
    with pytest.raises(InputDataError, match="registry block"):
        registry.rewrite_readme("no markers here")


def test_every_registered_function_exists():
    for stage in registry.stages():
        for q in stage.quantities:
            assert callable(registry.resolve_function(q.function)), (stage.name, q.id)


def test_builder_order_settings_and_absent_values_on_a_planted_stage():
    """Two units; table `a` grouped by `g` (per group: q1 then q2), table `b` ungrouped
    (quantity-major). A record lacking q2's column gives no q2 row; None gives an empty
    value; an empty setting value leaves its key out."""
    tables = (Table("a", "rule_a", "a.tsv", by=("g",)), Table("b", "rule_b", "b.tsv"))
    quantities = (
        Quantity("q1", "a", "x", ("g", "h"), "f", "", "real", "d"),
        Quantity("q2", "a", "y", ("g",), "f", "", "count", "d"),
        Quantity("r1", "b", "u", (), "f", "", "real", "d"),
        Quantity("r2", "b", "v", ("k",), "f", "", "real", "d"),
    )
    stage = Stage("planted", tables, quantities, load=None)
    units = [
        Unit(
            "m1",
            {
                "a": [
                    {"g": 1, "h": "p", "x": 0.5, "y": 3},
                    {"g": 1, "h": "", "x": 1.5, "y": None},
                    {"g": 2, "h": "q", "x": 2.5},
                ],
                "b": [{"u": 7, "v": 8, "k": "s"}, {"u": 9, "v": 10, "k": "t"}],
            },
        ),
        Unit("m2", {"b": [{"u": 1}]}),
    ]
    rows = _as_rows(registry.summary_rows(stage, units))
    assert rows == [
        ("planted", "q1", "g=1,h=p", "m1", 0.5),
        ("planted", "q1", "g=1", "m1", 1.5),
        ("planted", "q2", "g=1", "m1", 3.0),
        ("planted", "q2", "g=1", "m1", "nan"),
        ("planted", "q1", "g=2,h=q", "m1", 2.5),
        ("planted", "r1", "", "m1", 7.0),
        ("planted", "r1", "", "m1", 9.0),
        ("planted", "r2", "k=s", "m1", 8.0),
        ("planted", "r2", "k=t", "m1", 10.0),
        ("planted", "r1", "", "m2", 1.0),
    ]


def test_features_summary_from_hand_written_meta_files(tmp_path):
    """Two layers' meta.json -> nine rows per layer, in registry order, with the model of
    each file; a statistic missing from a meta.json is an empty value."""
    keys = [
        "n_chunks_histogram",
        "n_chunks_heldout",
        "n_features",
        "features_ever_fired",
        "sae_mean_firing_per_chunk",
        "sae_firing_per_token",
        "sae_l0_per_token",
        "sae_explained_variance",
        "sae_n_tokens",
    ]
    paths = []
    for layer, base in ((1, 10), (3, 20)):
        meta = {
            "model": "mini",
            "layer": layer,
            **{k: base + i for i, k in enumerate(keys)},
            "threshold": 1.0,
        }
        if layer == 3:
            del meta["sae_l0_per_token"]
        paths.append(tmp_path / f"layer_{layer}.json")
        io.write_json(paths[-1], meta)
    out = tmp_path / "features.tsv"
    io.write_tsv(
        out,
        registry.build_stage_summary("features", {"meta": [str(p) for p in paths]}, {}, str(out)),
    )
    names = [
        "n_chunks_histogram",
        "n_chunks_heldout",
        "n_features",
        "features_ever_fired",
        "mean_firing_per_chunk",
        "sae_firing_per_token",
        "sae_l0_per_token",
        "sae_explained_variance",
        "sae_n_tokens",
    ]
    expected = ["stage\tquantity\tsetting\tmodel\tvalue"]
    for layer, base in ((1, 10), (3, 20)):
        for i, name in enumerate(names):
            value = "" if (layer, name) == (3, "sae_l0_per_token") else f"{base + i:.1f}"
            expected.append(f"features\t{name}\tlayer={layer}\tmini\t{value}")
    assert out.read_text().splitlines() == expected


def _galaxy_tsv(path):
    g = pd.DataFrame(
        {
            "layer": [3, 1],
            "slope": [-0.5, -0.2],
            "slope_ci_low": [-0.6, -0.3],
            "slope_ci_high": [-0.4, -0.1],
            "null_slope": [-0.03, -0.02],
            "n_points": [4096, 2048],
            "log_volume": 1.0,
            "clustering_faithful": [369.0, 360.0],
            "null_clustering_faithful": 350.0,
            "excess_clustering_faithful": [19.0, 10.0],
            "clustering_corrected": [2.0, 1.0],
            "null_clustering_corrected": 0.5,
            "excess_clustering_corrected": [1.5, 0.5],
            "excess_clustering_corrected_ci_low": 0.0,
            "excess_clustering_corrected_ci_high": 3.0,
            "pca_dim": 100,
            "corrected_pca_dim": 100,
        }
    )
    io.write_tsv(path, g)


def test_a_new_quantity_needs_only_its_stage_module(tmp_path, monkeypatch):
    """README's worked example: register `slope_excess` (computed in the stage's tables())
    and `n_decoder_points` (a galaxy.tsv column as it is), and nothing else; both appear in
    the built summary, the glossary and the README index."""
    from concept_geometry.galaxy import quantities

    original = quantities.tables

    def tables(galaxy):  # the newcomer's one-line edit of galaxy/quantities.py tables()
        out = original(galaxy)
        out["layers"] = [dict(r, slope_excess=r["slope"] - r["null_slope"]) for r in out["layers"]]
        return out

    new = (
        Quantity(
            "slope_excess",
            "layers",
            "slope_excess",
            ("layer",),
            "concept_geometry.galaxy.quantities.tables",
            "",
            "real",
            "powerlaw_slope − null_slope.",
        ),
        Quantity(
            "n_decoder_points",
            "layers",
            "n_points",
            ("layer",),
            "concept_geometry.galaxy.analysis.analyse_layer",
            "",
            "count",
            "Decoder points analysed.",
        ),
    )
    monkeypatch.setattr(quantities, "tables", tables)
    monkeypatch.setattr(quantities, "QUANTITIES", quantities.QUANTITIES + new)
    _galaxy_tsv(tmp_path / "galaxy.tsv")
    rows = registry.build_stage_summary(
        "galaxy", {"galaxy": str(tmp_path / "galaxy.tsv")}, {"model": "m"}
    )
    got = rows[rows["quantity"].isin(["slope_excess", "n_decoder_points"])]
    assert _as_rows(got) == [
        ("galaxy", "slope_excess", "layer=1", "m", pytest.approx(-0.18)),
        ("galaxy", "slope_excess", "layer=3", "m", pytest.approx(-0.47)),
        ("galaxy", "n_decoder_points", "layer=1", "m", 2048.0),
        ("galaxy", "n_decoder_points", "layer=3", "m", 4096.0),
    ]
    glossary = registry.glossary()
    assert glossary.loc[glossary.quantity == "n_decoder_points", "kind"].tolist() == ["count"]
    assert "| galaxy | `slope_excess` | layer |" in registry.readme_table()


def test_galaxy_summary_from_a_hand_written_table(tmp_path):
    """Layers sorted; the headline dimension's excess carries role=headline; the peak layers
    are the argmin slope and argmax clusterings."""
    _galaxy_tsv(tmp_path / "galaxy.tsv")
    rows = registry.build_stage_summary(
        "galaxy", {"galaxy": str(tmp_path / "galaxy.tsv")}, {"model": "m"}
    )
    one = rows.set_index(["quantity", "setting"])["value"]
    assert rows["setting"].tolist()[:2] == ["layer=1", "layer=3"]
    assert one[("powerlaw_slope", "layer=3")] == -0.5
    assert one[("excess_clustering_corrected", "layer=1,pca_dim=100,role=headline")] == 0.5
    assert one[("excess_clustering_corrected_ci_high", "layer=3,pca_dim=100")] == 3.0
    assert one[("steepest_slope_layer", "")] == 3
    assert one[("peak_clustering_layer_faithful", "")] == 3
    assert len(rows) == 2 * 13 + 3


def test_required_quantity_all_nan_is_refused(tmp_path):
    _galaxy_tsv(tmp_path / "galaxy.tsv")
    g = io.read_tsv(tmp_path / "galaxy.tsv").assign(slope=float("nan"))
    io.write_tsv(tmp_path / "nan.tsv", g)
    with pytest.raises(InputDataError, match=r"powerlaw_slope.*galaxy.fit_range"):
        registry.build_stage_summary(
            "galaxy",
            {"galaxy": str(tmp_path / "nan.tsv")},
            {"model": "m"},
            "results/summary/galaxy.tsv",
        )


def test_malformed_declarations_and_unknown_stage_are_refused():
    bad = Stage(
        "planted",
        (Table("a", "r", "a.tsv"),),
        (
            Quantity("q", "a", "x", (), "f", "", "real", "d"),
            Quantity("q", "b", "x", (), "f", "", "number", ""),
        ),
        load=None,
    )
    with pytest.raises(InputDataError) as err:
        registry.check_stage(bad)
    msg = str(err.value)
    assert "`q` is declared more than once" in msg and "names table `b`" in msg
    assert "kind `number`" in msg and "no definition" in msg
    with pytest.raises(InputDataError, match="No stage `galaxies`"):
        registry.load_stage("galaxies")


def test_every_stage_of_the_workflow_but_the_report_declares_quantities_in_its_package():
    """settings.STAGES is the one list of stages: each one but the report has a
    ``<stage>/quantities.py`` that declares quantities, in the report's order."""
    from concept_geometry import report

    names = [stage.name for stage in registry.stages()]
    assert names == ["simulation", "alignment", "features", "crystals", "lobes", "galaxy"]
    assert names == report.STAGES
    for name in names:
        assert registry.load_stage(name).quantities, name


def test_alignment_tables_and_load_from_a_hand_made_summary(tmp_path):
    """Every row and column of the alignment stage's tables, from a hand-written summary.json
    (one untied model with a verdict, one tied model without null or verdict)."""
    from concept_geometry.alignment import quantities

    orth = {
        "embedding": {
            "euclidean": 0.1,
            "causal": 0.2,
            "causal_dual": 0.3,
            "random_park": 0.4,
            "random_gaussian": 0.5,
        },
        "unembedding": {
            "euclidean": 0.6,
            "causal": 0.7,
            "random_park": 0.8,
            "random_gaussian": 0.9,
        },
    }
    untied = {
        "n_pairs_kept": 17,
        "tied": False,
        "diag_mean_abs": 0.61,
        "diag_mean": 0.52,
        "diag_row_max": 4,
        "offdiag_mean_abs": 0.07,
        "random_pairs_mean_abs": 0.03,
        "diag_null": {"z": 5.5, "p": 0.01, "draws": 99},
        "diag_verdict": "stands out",
        "orth_mean_abs": orth,
        "orth_median_abs": {s: {ip: v / 2 for ip, v in d.items()} for s, d in orth.items()},
        "toy_kl_to_exact": 0.02,
        "toy_final_loss": 1.5,
    }
    tied = dict(
        untied,
        tied=True,
        diag_null=None,
        diag_verdict=None,
        toy_kl_to_exact=None,
        toy_final_loss=None,
    )
    io.write_json(tmp_path / "a.json", untied)
    io.write_json(tmp_path / "b.json", tied)
    units = quantities.load(
        {"summaries": [str(tmp_path / "a.json"), str(tmp_path / "b.json")]},
        {"names": ["m-a", "m-b"]},
    )
    assert [u.model for u in units] == ["m-a", "m-b"]
    a, b = units[0].tables, units[1].tables
    assert a["diagonal"] == [
        {
            "n_pairs_kept": 17,
            "diag_mean_abs": 0.61,
            "diag_mean": 0.52,
            "diag_row_max": 4,
            "offdiag_mean_abs": 0.07,
            "random_pairs_mean_abs": 0.03,
            "tied": 0,
            "diag_null_z": 5.5,
            "diag_null_p": 0.01,
            "diag_stands_out": 1,
        }
    ]
    assert a["orthogonality"] == [
        {
            "space": "embedding",
            "inner_product": "euclidean",
            "orth_mean_abs": 0.1,
            "orth_median_abs": 0.05,
        },
        {
            "space": "embedding",
            "inner_product": "causal",
            "orth_mean_abs": 0.2,
            "orth_median_abs": 0.1,
        },
        {
            "space": "embedding",
            "inner_product": "causal_dual",
            "orth_mean_abs": 0.3,
            "orth_median_abs": 0.15,
        },
        {
            "space": "embedding",
            "inner_product": "random_park",
            "orth_mean_abs": 0.4,
            "orth_median_abs": 0.2,
        },
        {
            "space": "embedding",
            "inner_product": "random_gaussian",
            "orth_mean_abs": 0.5,
            "orth_median_abs": 0.25,
        },
        {
            "space": "unembedding",
            "inner_product": "euclidean",
            "orth_mean_abs": 0.6,
            "orth_median_abs": 0.3,
        },
        {
            "space": "unembedding",
            "inner_product": "causal",
            "orth_mean_abs": 0.7,
            "orth_median_abs": 0.35,
        },
        {
            "space": "unembedding",
            "inner_product": "random_park",
            "orth_mean_abs": 0.8,
            "orth_median_abs": 0.4,
        },
        {
            "space": "unembedding",
            "inner_product": "random_gaussian",
            "orth_mean_abs": 0.9,
            "orth_median_abs": 0.45,
        },
    ]
    assert a["toy"] == [{"toy_kl_to_exact": 0.02, "toy_final_loss": 1.5}]
    assert b["diagonal"][0] == dict(
        a["diagonal"][0], tied=1, diag_null_z=None, diag_null_p=None, diag_stands_out=None
    )
    assert b["orthogonality"] == a["orthogonality"] and b["toy"] == []
    not_out = quantities.tables(dict(untied, diag_verdict="does not stand out"))
    assert not_out["diagonal"][0]["diag_stands_out"] == 0


def test_simulation_cosine_quantities_declare_mean_count_and_flag():
    """Each cosine metric declares three quantities of table `cells`, named and kinded as
    README's index shows them; only the steering mean is required and cites the paper."""
    from concept_geometry.simulation import quantities

    by = ("experiment", "optimizer", "context_frac", "concept_frac", "d")
    this = "concept_geometry.simulation.quantities.cells"
    for metric in ("steering_cos", "embedding_cos", "alignment_cos"):
        mean, n, low = quantities._cosine_quantities(metric)
        steering = metric == "steering_cos"
        paper = "Jiang et al. 2024 §5.1 (linearity of steering vectors)" if steering else ""
        assert (mean.id, mean.table, mean.column, mean.settings, mean.kind) == (
            f"{metric}_mean",
            "cells",
            f"{metric}_mean",
            by,
            "real",
        )
        assert mean.function == "concept_geometry.simulation.experiments.linearity_metrics"
        assert (mean.paper, mean.required) == (paper, steering)
        assert (n.id, n.table, n.column, n.settings, n.function, n.paper, n.kind) == (
            f"{metric}_n_concepts",
            "cells",
            f"{metric}_n_concepts",
            by,
            this,
            "",
            "count",
        )
        assert (low.id, low.table, low.column, low.settings, low.function, low.paper) == (
            f"{metric}_low_coverage",
            "cells",
            f"{metric}_low_coverage",
            by,
            this,
            "",
        )
        assert low.kind == "boolean" and not n.required and not low.required
        assert "cosine" in mean.definition.lower() and "averages over" in n.definition
        assert low.definition.startswith(f"1 when {metric}_mean averages over fewer than half")


def _simulation_tables(folder):
    """Hand-made results/simulation tables: two settings of summary.tsv, the orthogonality
    pairs of experiment full (and of its Adam contrast) and four mechanism rows."""
    nan = float("nan")
    summary = pd.DataFrame(
        [
            # experiment, setting, seed, concept, steering, embedding, alignment, final_loss
            ("full", "all", 0, 0, 0.9, 0.8, 0.5, 1.0),
            ("full", "all", 0, 1, 0.7, nan, 0.3, 1.0),
            ("full", "all", 1, 0, 0.8, 0.6, nan, 2.0),
            ("full", "all", 1, 1, nan, 0.4, nan, 2.0),
            ("dimension", "d=2", 0, 0, 0.5, nan, nan, 3.0),
            ("dimension", "d=2", 0, 1, nan, nan, nan, 5.0),
        ],
        columns=[
            "experiment",
            "setting",
            "seed",
            "concept",
            "steering_cos",
            "embedding_cos",
            "alignment_cos",
            "final_loss",
        ],
    )
    orth = pd.DataFrame(
        {
            "experiment": ["full"] * 4 + ["dimension"],
            "setting": ["all", "all", "all", "optimizer=adam", "d=2"],
            "independent": [True, False, False, True, True],
            "cos": [0.2, -0.6, 0.4, 0.9, 0.7],
        }
    )
    mech = pd.DataFrame(
        {
            "quantity": [
                "spearman_logodds_rel_sd_vs_steering_cos",
                "spearman_logodds_var_vs_steering_cos",
                "spearman_logodds_var_vs_steering_cos",
                "logodds_rel_sd_median",
            ],
            "experiment": ["all", "all", "full", "all"],
            "setting": "all",
            "optimizer": "all",
            "value": [-0.7, -0.5, -0.9, 0.3],
            "n": [6, 6, 4, 6],
        }
    )
    paths = {}
    for name, frame in (("summary", summary), ("orthogonality", orth), ("mechanism", mech)):
        paths[name] = str(folder / f"{name}.tsv")
        io.write_tsv(paths[name], frame)
    return paths


def test_simulation_summary_from_hand_written_tables(tmp_path):
    """quantities.load reads the three tables; per setting (sorted: dimension before full)
    the cosine means are over the finite cells only, counted, and flagged below half of the
    cells (exactly half is not flagged); |cos| of experiment full's own pairs; the pooled
    mechanism rows only."""
    inputs = _simulation_tables(tmp_path)
    rows = _as_rows(registry.build_stage_summary("simulation", inputs, {}))
    s, mdl = "simulation", "latent-concept-model"
    dim, full = "experiment=dimension,d=2", "experiment=full"
    expected = [
        (s, "steering_cos_mean", dim, mdl, 0.5),
        (s, "steering_cos_n_concepts", dim, mdl, 1.0),
        (s, "steering_cos_low_coverage", dim, mdl, 0.0),  # 1 of 2 cells: half, not fewer
        (s, "embedding_cos_mean", dim, mdl, "nan"),
        (s, "embedding_cos_n_concepts", dim, mdl, 0.0),
        (s, "embedding_cos_low_coverage", dim, mdl, 1.0),
        (s, "alignment_cos_mean", dim, mdl, "nan"),
        (s, "alignment_cos_n_concepts", dim, mdl, 0.0),
        (s, "alignment_cos_low_coverage", dim, mdl, 1.0),
        (s, "n_concept_cells", dim, mdl, 2.0),
        (s, "final_loss_mean", dim, mdl, 4.0),  # (3 + 5) / 2
        (s, "steering_cos_mean", full, mdl, pytest.approx(0.8)),  # (0.9 + 0.7 + 0.8) / 3
        (s, "steering_cos_n_concepts", full, mdl, 3.0),
        (s, "steering_cos_low_coverage", full, mdl, 0.0),
        (s, "embedding_cos_mean", full, mdl, pytest.approx(0.6)),  # (0.8 + 0.6 + 0.4) / 3
        (s, "embedding_cos_n_concepts", full, mdl, 3.0),
        (s, "embedding_cos_low_coverage", full, mdl, 0.0),
        (s, "alignment_cos_mean", full, mdl, pytest.approx(0.4)),  # (0.5 + 0.3) / 2
        (s, "alignment_cos_n_concepts", full, mdl, 2.0),
        (s, "alignment_cos_low_coverage", full, mdl, 0.0),  # 2 of 4 cells: half
        (s, "n_concept_cells", full, mdl, 4.0),
        (s, "final_loss_mean", full, mdl, 1.5),
        (s, "orth_abs_cos_independent", full, mdl, pytest.approx(0.2)),
        (s, "n_pairs_independent", full, mdl, 1.0),
        (s, "orth_abs_cos_dependent", full, mdl, pytest.approx(0.5)),  # (0.6 + 0.4) / 2
        (s, "n_pairs_dependent", full, mdl, 2.0),
        (s, "spearman_logodds_rel_sd_vs_steering_cos", "experiment=all", mdl, -0.7),
        (s, "spearman_logodds_var_vs_steering_cos", "experiment=all", mdl, -0.5),
    ]
    assert rows == expected


def test_simulation_cells_of_an_unmeasured_metric_warn_nothing():
    """A metric no cell of a setting measured has mean NaN, count 0 and flag 1, without
    numpy's "Mean of empty slice" warning in the job's log; the setting `d=1` is the record's
    key d, setting `all` adds none."""
    import warnings

    from concept_geometry.simulation import quantities

    nan = float("nan")
    summary = pd.DataFrame(
        {
            "experiment": "dimension",
            "setting": "d=1",
            "steering_cos": [nan, nan],
            "embedding_cos": [0.2, 0.4],
            "alignment_cos": [nan, 0.1],
            "final_loss": [1.0, 3.0],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (rec,) = quantities.cells(summary)
    assert rec["experiment"] == "dimension" and rec["label"] == "d=1" and rec["d"] == "1"
    assert math.isnan(rec["steering_cos_mean"]) and rec["steering_cos_n_concepts"] == 0
    assert rec["steering_cos_low_coverage"] == 1.0
    assert rec["embedding_cos_mean"] == pytest.approx(0.3)
    assert (rec["alignment_cos_mean"], rec["alignment_cos_n_concepts"]) == (0.1, 1)
    assert rec["n_concept_cells"] == 2 and rec["final_loss_mean"] == 2.0
    # setting `all` (experiment full) adds no setting key to its record
    (full,) = quantities.cells(summary.assign(experiment="full", setting="all"))
    metrics = ("steering_cos", "embedding_cos", "alignment_cos")
    assert set(full) == {"experiment", "label", "n_concept_cells", "final_loss_mean"} | {
        f"{metric}_{part}" for metric in metrics for part in ("mean", "n_concepts", "low_coverage")
    }
