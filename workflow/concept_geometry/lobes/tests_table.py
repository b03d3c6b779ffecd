"""The lobes stage's tests table (``tests.tsv``): the AMI permutation test and the probe test
of every measure, k and variant (see ``pipeline`` for the two variants)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..seeding import derive_seed
from .affinity import GEOMETRIC
from .significance import NULL_DDOF, VARIANTS, ami_permutation_test, probe_test

TEST_COLUMNS = [
    "measure",
    "k",
    "variant",
    "ami",
    "ami_null_mean",
    "ami_null_std",
    "ami_z",
    "balanced_accuracy",
    "acc_null_mean",
    "acc_null_std",
    "acc_z",
    "ami_p",
    "acc_p",
    "clustering",
    "n_features",
    "n_excluded",
]


def _labels_of(labels: pd.DataFrame, variant: str, measure: str, k: int) -> np.ndarray:
    sel = labels[
        (labels["variant"] == variant) & (labels["measure"] == measure) & (labels["k"] == k)
    ].sort_values("feature")
    return sel["lobe"].to_numpy()


def _method_of(labels: pd.DataFrame, variant: str, measure: str) -> str:
    """The clustering route(s) behind a measure's lobes and the geometric clusters."""
    sel = labels[(labels["variant"] == variant) & labels["measure"].isin([measure, GEOMETRIC])]
    return "+".join(sorted(set(sel["clustering"])))


def run_tests(
    labels: pd.DataFrame, decoder: np.ndarray, cfg: dict, seed: int, layer, progress=None
) -> pd.DataFrame:
    """AMI permutation test and probe test for every measure, k and variant (tests.tsv).

    Each variant tests its own lobes against its own geometric clusters on its own features
    (faithful: all; corrected: lobe >= 0); the null's spread uses NULL_DDOF[variant]. At a k
    outside ``lobes.probe.ks`` the probe columns are empty: the row has no probe keys, and
    the table's ``columns=TEST_COLUMNS`` fills them with NaN (float, even in every row).
    """
    rows = []
    pc = cfg["probe"]
    probe_ks = cfg["ks"] if pc.get("ks") is None else pc["ks"]
    decoder = np.asarray(decoder)
    triples = [(m, int(k), v) for m in cfg["measures"] for k in cfg["ks"] for v in VARIANTS]
    for measure, k, variant in progress(triples) if progress else triples:
        lobes = _labels_of(labels, variant, measure, k)
        geo = _labels_of(labels, variant, GEOMETRIC, k)
        keep = lobes >= 0
        ami = ami_permutation_test(
            lobes[keep],
            geo[keep],
            cfg["ami"]["n_permutations"],
            derive_seed(seed, "lobes", "ami", layer, measure, k),
            ddof=NULL_DDOF[variant],
        )
        row = dict(
            measure=measure,
            k=k,
            variant=variant,
            ami=ami.observed,
            ami_null_mean=ami.null_mean,
            ami_null_std=ami.null_std,
            ami_z=ami.z,
            ami_p=ami.p,
            clustering=_method_of(labels, variant, measure),
            n_features=int(keep.sum()),
            n_excluded=int((~keep).sum()),
        )
        if k in probe_ks:
            acc = probe_test(
                decoder[keep],
                lobes[keep],
                variant,
                pc["n_null"],
                derive_seed(seed, "lobes", "probe", layer, measure, k, variant),
                train_fraction=pc["faithful_train_fraction"],
                n_splits=pc["n_splits"],
                C=pc["C"],
                max_iter=pc["max_iter"],
            )
            row.update(
                balanced_accuracy=acc.observed,
                acc_null_mean=acc.null_mean,
                acc_null_std=acc.null_std,
                acc_z=acc.z,
                acc_p=acc.p,
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=TEST_COLUMNS)
