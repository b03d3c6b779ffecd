"""The lobes stage as tables: labels, tests, specialisation, code lobe, summary rows.

Pure functions over loaded arrays (the scripts do the I/O). Features that never fire in
the histogram chunks (occurrences < ``min_occurrences``) are excluded from every analysis:
their co-occurrence affinities are undefined (0 by the paper's convention), which would
leave isolated nodes in the graph; they appear in ``labels.tsv`` with lobe -1.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..errors import InputDataError
from ..seeding import derive_seed
from .affinity import GEOMETRIC
from .clustering import cluster_measure
from .significance import VARIANTS, ami_permutation_test, probe_test
from .specialization import (SPLIT_OF_VARIANT, category_histogram, chunk_winners,
                             find_code_lobe)

log = logging.getLogger("concept_geometry")

TEST_COLUMNS = ["measure", "k", "variant", "ami", "ami_null_mean", "ami_null_std", "ami_z",
                "balanced_accuracy", "acc_null_mean", "acc_null_std", "acc_z", "ami_p", "acc_p"]


def check_inputs(counts, occurrences, n_chunks, decoder, path_hint: str = "") -> None:
    """Shapes of the features stage's artifacts agree; raise InputDataError otherwise."""
    f = np.asarray(occurrences).shape[0]
    if counts.shape != (f, f) or decoder.shape[0] != f:
        raise InputDataError(
            f"Feature data {path_hint} disagree: cooccurrence counts {counts.shape}, "
            f"occurrences ({f},), decoder {decoder.shape}; all must have the same number of "
            "features. Re-run the features stage for this layer (delete its results/features "
            "folder and run snakemake again).")
    if int(n_chunks) <= 0:
        raise InputDataError(
            f"Feature data {path_hint} count no histogram chunks (n_chunks={int(n_chunks)}): "
            "the corpus is too small for the chunk size. Enlarge `features.corpus` or lower "
            "the chunk size, then re-run.")


def active_features(occurrences: np.ndarray, min_occurrences: int) -> np.ndarray:
    """Indices of features analysed: occurrences >= min_occurrences."""
    return np.flatnonzero(np.asarray(occurrences) >= int(min_occurrences))


def cluster_all(counts, occurrences, n_chunks, decoder, active: np.ndarray, cfg: dict,
                seed: int, layer) -> pd.DataFrame:
    """Lobes for every configured measure and the geometric clusters, for every k.

    Returns labels frame (measure, k, feature, lobe) covering all features (-1 = excluded).
    """
    ks = [int(k) for k in cfg["ks"]]
    cl = cfg["clustering"]
    n_feat = np.asarray(occurrences).shape[0]
    sub_counts = np.asarray(counts)[np.ix_(active, active)]
    sub_occ = np.asarray(occurrences)[active]
    frames = []
    for measure in list(cfg["measures"]) + [GEOMETRIC]:
        kw = (dict(decoder=np.asarray(decoder)[active]) if measure == GEOMETRIC else
              dict(counts=sub_counts, occurrences=sub_occ, n_chunks=int(n_chunks)))
        res = cluster_measure(measure, ks, derive_seed(seed, "lobes", "cluster", layer, measure),
                              method=cl["method"], dense_max_features=cl["dense_max_features"],
                              n_neighbors=cl["n_neighbors"], n_init=cl["n_init"],
                              shift_phi=cfg["shift_phi"], **kw)
        log.info("clustered %s (%s, %d features, ks=%s)", measure, res.method, active.size, ks)
        for k in ks:
            lobe = np.full(n_feat, -1, dtype=np.int64)
            lobe[active] = res.labels[k]
            frames.append(pd.DataFrame({"measure": measure, "k": k,
                                        "feature": np.arange(n_feat), "lobe": lobe}))
    return pd.concat(frames, ignore_index=True)


def _labels_of(labels: pd.DataFrame, measure: str, k: int) -> np.ndarray:
    sel = labels[(labels["measure"] == measure) & (labels["k"] == k)].sort_values("feature")
    return sel["lobe"].to_numpy()


def run_tests(labels: pd.DataFrame, decoder: np.ndarray, cfg: dict, seed: int, layer,
              progress=None) -> pd.DataFrame:
    """AMI permutation test and probe test for every measure, k and variant (tests.tsv)."""
    rows = []
    pairs = [(m, int(k)) for m in cfg["measures"] for k in cfg["ks"]]
    for measure, k in (progress(pairs) if progress else pairs):
        lobes = _labels_of(labels, measure, k)
        geo = _labels_of(labels, GEOMETRIC, k)
        keep = lobes >= 0
        ami = ami_permutation_test(lobes[keep], geo[keep], cfg["ami"]["n_permutations"],
                                   derive_seed(seed, "lobes", "ami", layer, measure, k))
        pc = cfg["probe"]
        probe_ks = cfg["ks"] if pc.get("ks") is None else pc["ks"]
        for variant in VARIANTS:
            if k not in probe_ks:  # probe skipped at this k (config lobes.probe.ks)
                nan = float("nan")
                rows.append(dict(measure=measure, k=k, variant=variant, ami=ami.observed,
                                 ami_null_mean=ami.null_mean, ami_null_std=ami.null_std,
                                 ami_z=ami.z, balanced_accuracy=nan, acc_null_mean=nan,
                                 acc_null_std=nan, acc_z=nan, ami_p=ami.p, acc_p=nan))
                continue
            acc = probe_test(np.asarray(decoder)[keep], lobes[keep], variant, pc["n_null"],
                             derive_seed(seed, "lobes", "probe", layer, measure, k, variant),
                             train_fraction=pc["faithful_train_fraction"],
                             n_splits=pc["n_splits"], C=pc["C"], max_iter=pc["max_iter"])
            rows.append(dict(measure=measure, k=k, variant=variant, ami=ami.observed,
                             ami_null_mean=ami.null_mean, ami_null_std=ami.null_std,
                             ami_z=ami.z, balanced_accuracy=acc.observed,
                             acc_null_mean=acc.null_mean, acc_null_std=acc.null_std,
                             acc_z=acc.z, ami_p=ami.p, acc_p=acc.p))
    return pd.DataFrame(rows, columns=TEST_COLUMNS)


def specialization(labels: pd.DataFrame, firings, category: np.ndarray, split: np.ndarray,
                   cfg: dict, path_hint: str = "") -> tuple[pd.DataFrame, dict]:
    """Specialisation histograms (measure, k, variant, category, lobe, fraction, n_chunks)
    and the code-lobe verdicts at k = 2 per measure and variant.

    firings: (n_chunks, F) sparse matrix, or an iterable of (chunk numbers, CSR block) as
    ``io.iter_sparse_rows`` streams it (one pass; memory is one block plus the winners).
    """
    import scipy.sparse as sp

    split = np.asarray(split).astype(str)
    category = np.asarray(category).astype(str)
    ks = [int(k) for k in cfg["ks"]]
    for variant, wanted in SPLIT_OF_VARIANT.items():
        if not (split == wanted).any():
            raise InputDataError(
                f"No `{wanted}` chunks in the firings {path_hint}: the {variant} specialisation "
                f"needs them. The features stage splits documents into histogram and held-out "
                "ones; give it more documents or a non-zero held-out fraction, then re-run.")
    lobes = {(m, k): _labels_of(labels, m, k) for m in cfg["measures"] for k in ks}
    winners = {key: np.full(split.shape[0], -1, dtype=np.int64) for key in lobes}
    blocks = [(np.arange(firings.shape[0]), firings)] if sp.issparse(firings) else firings
    for rows, block in blocks:  # a chunk's winner depends on its own row only
        for (measure, k), lobe in lobes.items():
            winners[(measure, k)][rows] = chunk_winners(block, lobe, k)
    frames, verdicts = [], {}
    sc = cfg["specialization"]
    k_code = 2  # the config check guarantees 2 in ks
    for variant, wanted in SPLIT_OF_VARIANT.items():
        chunks = np.flatnonzero(split == wanted)
        for measure in cfg["measures"]:
            for k in ks:
                won = winners[(measure, k)][chunks]
                hist = category_histogram(won, category[chunks], k)
                hist.insert(0, "variant", variant)
                hist.insert(0, "k", k)
                hist.insert(0, "measure", measure)
                frames.append(hist)
                if k == k_code:
                    found = find_code_lobe(won, category[chunks], sc["code_categories"],
                                           sc["other_categories"], k)
                    verdicts.setdefault(measure, {})[variant] = (
                        None if found is None else dict(found.__dict__, k=k))
    return pd.concat(frames, ignore_index=True), verdicts


def summary_rows(tests: pd.DataFrame, verdicts: dict, layer, model: str) -> pd.DataFrame:
    """Headline rows (stage, quantity, setting, model, value) for results/summary/lobes.tsv.

    ``code_lobe_found`` without a variant is the corrected (held-out) verdict; the faithful
    one carries ``variant=faithful`` in its setting.
    """
    rows = []
    for r in tests.itertuples():
        setting = f"layer={layer},measure={r.measure},k={r.k},variant={r.variant}"
        for q in ("ami", "ami_z", "balanced_accuracy", "acc_z", "ami_p", "acc_p"):
            rows.append(("lobes", q, setting, model, float(getattr(r, q))))
    for measure, by_variant in verdicts.items():
        for variant, v in by_variant.items():
            k = 2
            setting = f"layer={layer},measure={measure},k={k}"
            if variant != "corrected":
                setting += f",variant={variant}"
            rows.append(("lobes", "code_lobe_found", setting, model,
                         float(v["found"]) if v else float("nan")))
    return pd.DataFrame(rows, columns=["stage", "quantity", "setting", "model", "value"])
