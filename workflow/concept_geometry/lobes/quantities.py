"""Headline quantities of the lobes stage (Li et al. 2024 brain scale), for the registry
(concept_geometry/registry.py) and results/summary/lobes.tsv.

Every row names its variant; corrected rows also name the clustering route
(``clustering=dense`` or ``sparse``; faithful is always dense, so its rows omit it).
``n_excluded``: features the corrected variant left out as never firing (the faithful
variant keeps them all).
"""

from __future__ import annotations

import math

import pandas as pd

from .. import io
from ..registry import Quantity, Table, Unit

_DIR = "lobes/<model>/<corpus>/layer_<L>/"
TABLES = (
    Table(
        "tests",
        "lobes_tests_gather",
        _DIR + "tests.tsv",
        by=("measure", "k", "variant", "clustering"),
    ),
    Table("excluded", "lobes_tests_gather", _DIR + "tests.tsv"),
    Table("code_lobe", "lobes_specialization", _DIR + "code_lobe.json"),
)
HINT = (
    "`features.threshold` (too few features fire to co-occur: lower it) or `lobes.min_occurrences`"
)
_LI = "Li et al. 2024 brain scale"
_SIG = "concept_geometry.lobes.significance"
_TEST = ("layer", "measure", "k", "variant", "clustering")

QUANTITIES = (
    Quantity(
        "ami",
        "tests",
        "ami",
        _TEST,
        f"{_SIG}.ami_permutation_test",
        f"{_LI} (lobes, AMI)",
        "real",
        "Adjusted mutual information between the co-occurrence lobes (setting "
        "measure=, k=) and the geometric (angular) clusters of the decoder directions at "
        "the same k. 0: unrelated; 1: identical.",
        required=True,
    ),
    Quantity(
        "ami_z",
        "tests",
        "ami_z",
        _TEST,
        f"{_SIG}.ami_permutation_test",
        f"{_LI} (AMI z-score)",
        "real",
        "z-score of ami against the permutation null (labels shuffled): (ami − null mean) / "
        "null sd. Faithful: population sd; corrected: sample sd. Empty (NaN) when the null "
        "has zero spread.",
    ),
    Quantity(
        "balanced_accuracy",
        "tests",
        "balanced_accuracy",
        _TEST,
        f"{_SIG}.probe_test",
        f"{_LI} (probe)",
        "real",
        "Balanced accuracy of a logistic-regression probe predicting a feature's lobe from "
        "its decoder direction, on held-out features (faithful: split by feature index; "
        "corrected: stratified cross-validation, class-weighted). Chance: 1/k.",
    ),
    Quantity(
        "acc_z",
        "tests",
        "acc_z",
        _TEST,
        f"{_SIG}.probe_test",
        f"{_LI} (probe z-score)",
        "real",
        "z-score of balanced_accuracy against the same probe trained on random "
        "unit vectors. Empty (NaN) when that null has zero spread, as for the faithful "
        "unweighted probe with uneven lobes (it always predicts the biggest lobe).",
    ),
    Quantity(
        "ami_p",
        "tests",
        "ami_p",
        _TEST,
        f"{_SIG}.ami_permutation_test",
        "",
        "real",
        "Empirical one-sided p-value of ami against the permutation null, (1 + #null ≥ "
        "observed) / (1 + permutations); its smallest possible value is 1 / (1 + "
        "lobes.ami.n_permutations).",
    ),
    Quantity(
        "acc_p",
        "tests",
        "acc_p",
        _TEST,
        f"{_SIG}.probe_test",
        "",
        "real",
        "Empirical one-sided p-value of balanced_accuracy against the random-vector null, "
        "(1 + #null ≥ observed) / (1 + draws).",
    ),
    Quantity(
        "n_excluded",
        "excluded",
        "n_excluded",
        ("layer", "variant"),
        "concept_geometry.lobes.pipeline.active_features",
        "",
        "count",
        "Features the corrected variant leaves out as never firing in the histogram chunks "
        "(labelled −1; the faithful variant clusters them too).",
    ),
    Quantity(
        "code_lobe_found",
        "code_lobe",
        "found",
        _TEST,
        "concept_geometry.lobes.specialization.find_code_lobe",
        f"{_LI} (code/math lobe)",
        "boolean",
        "1 when, with k = 2 lobes, the lobe that wins most chunks of the "
        "code/math categories (lobes.specialization.code_categories) is not the lobe that "
        "wins most chunks of the other categories, else 0; empty when either group has no "
        "scored chunk. Faithful: in-sample chunks of the histogram documents; corrected: "
        "held-out documents. Every row names its variant (corrected rows also the "
        "clustering route).",
    ),
)


def tables(tests: pd.DataFrame, verdicts: dict, layer) -> dict:
    """One layer's tests.tsv and code_lobe.json verdicts -> the stage tables."""

    def route(variant, clustering):  # faithful is always dense: its settings omit the route
        return None if variant == "faithful" else clustering

    records = [
        dict(r, layer=layer, clustering=route(r["variant"], r["clustering"]))
        for r in tests.to_dict("records")
    ]
    corrected = tests[tests["variant"] == "corrected"]
    excluded = (
        [{"layer": layer, "variant": "corrected", "n_excluded": corrected["n_excluded"].iloc[0]}]
        if len(corrected)
        else []
    )
    methods = {(r.measure, r.variant): r.clustering for r in tests.itertuples()}
    code = [
        {
            "layer": layer,
            "measure": measure,
            "k": 2,
            "variant": variant,
            "clustering": None if variant == "faithful" else methods[(measure, variant)],
            "found": float(v["found"]) if v else math.nan,
        }
        for measure, by_variant in verdicts.items()
        for variant, v in by_variant.items()
    ]
    return {"tests": records, "excluded": excluded, "code_lobe": code}


def load(inputs, params) -> list[Unit]:
    """Rule lobes_summary: inputs tests, code_lobe (one file per layer each); params layers,
    model."""
    return [
        Unit(params["model"], tables(io.read_tsv(tests), io.read_json(code), layer))
        for layer, tests, code in zip(
            params["layers"], inputs["tests"], inputs["code_lobe"], strict=False
        )
    ]
