"""The lobes stage as tables: labels, tests, specialisation, code lobe, summary rows.

Pure functions over loaded arrays (the scripts do the I/O). Two variants throughout:

- ``faithful`` (the official code): every feature is clustered, including those that never
  fire in the histogram chunks, with the official affinities (phi + 1, its margins
  multiplied in int64 as ``get_phi`` does, wrap-around included; a never-firing
  feature has phi + 1 = 1 to every feature, Jaccard/Dice/overlap 0, simple matching
  (T - c_j)/T), by the official dense ``SpectralClustering`` call whatever the size; the
  AMI, probe and specialisation use all features.
- ``corrected``: features with fewer than ``min_occurrences`` histogram occurrences are
  excluded (their co-occurrence affinities are undefined; lobe -1 in ``labels.tsv``, counted
  in the ``n_excluded`` column), clustered by ``lobes.clustering.method`` (``dense`` or the
  scalable kNN-``sparse`` route, named in the ``clustering`` column).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..errors import InputDataError
from ..seeding import derive_seed
from .affinity import GEOMETRIC
from .clustering import cluster_measure
from .significance import VARIANTS
from .specialization import (
    SPLIT_OF_VARIANT,
    category_histogram,
    chunk_winners,
    find_code_lobe,
    first_documents,
)
from .tests_table import TEST_COLUMNS, _labels_of, _method_of, run_tests  # noqa: F401 (re-exported)

log = logging.getLogger("concept_geometry")

LABEL_COLUMNS = ["variant", "clustering", "measure", "k", "feature", "lobe"]
# The faithful variant reads chunks whose winner is decided even when no feature fired
# (the official ``max`` over an all-zero dict picks lobe 0); the corrected one drops them.
UNSCORED_WINNER = {"faithful": 0, "corrected": -1}


def check_inputs(counts, occurrences, n_chunks, decoder, path_hint: str) -> None:
    """Shapes of the features stage's artifacts agree; raise InputDataError otherwise.

    ``path_hint``: the file the arrays came from, named in the error.
    """
    f = np.asarray(occurrences).shape[0]
    if counts.shape != (f, f) or decoder.shape[0] != f:
        raise InputDataError(
            f"Feature data {path_hint} disagree: cooccurrence counts {counts.shape}, "
            f"occurrences ({f},), decoder {decoder.shape}; all must have the same number of "
            "features. Re-run the features stage for this layer (delete its results/features "
            "folder and run snakemake again)."
        )
    if int(n_chunks) <= 0:
        raise InputDataError(
            f"Feature data {path_hint} count no histogram chunks (n_chunks={int(n_chunks)}): "
            "the corpus is too small for the chunk size. Enlarge `features.corpus` or lower "
            "the chunk size, then re-run."
        )


def active_features(occurrences: np.ndarray, min_occurrences: int) -> np.ndarray:
    """Indices of features analysed: occurrences >= min_occurrences."""
    return np.flatnonzero(np.asarray(occurrences) >= int(min_occurrences))


def cluster_all(
    counts, occurrences, n_chunks, decoder, active: np.ndarray, cfg: dict, seed: int, layer
) -> pd.DataFrame:
    """Lobes for every configured measure and the geometric clusters, for every k and variant.

    ``active``: the features the corrected variant analyses. Returns the labels frame
    (LABEL_COLUMNS) covering all features for both variants (-1 = excluded, corrected only).
    """
    ks = [int(k) for k in cfg["ks"]]
    cl = cfg["clustering"]
    counts, occurrences = np.asarray(counts), np.asarray(occurrences)
    decoder = np.asarray(decoder)
    n_feat = occurrences.shape[0]
    everything = np.arange(n_feat)
    frames = []
    for variant in VARIANTS:  # faithful first: it needs no copy of the counts
        faithful = variant == "faithful"
        keep = everything if faithful else active
        if not faithful and active.size < n_feat:
            sub_counts, sub_occ = counts[np.ix_(active, active)], occurrences[active]
        else:
            sub_counts, sub_occ = counts, occurrences
        for measure in list(cfg["measures"]) + [GEOMETRIC]:
            kw = (
                dict(decoder=decoder[keep])
                if measure == GEOMETRIC
                else dict(counts=sub_counts, occurrences=sub_occ, n_chunks=int(n_chunks))
            )
            route = (
                dict(method="dense", n_init=None, shift_phi=True, official_int64=True)
                if faithful
                else dict(
                    method=cl["method"],
                    dense_max_features=cl["dense_max_features"],
                    n_neighbors=cl["n_neighbors"],
                    n_init=cl["n_init"],
                    shift_phi=cfg["shift_phi"],
                )
            )
            res = cluster_measure(
                measure, ks, derive_seed(seed, "lobes", "cluster", layer, measure), **route, **kw
            )
            log.info(
                "clustered %s, %s (%s, %d of %d features, ks=%s)",
                measure,
                variant,
                res.method,
                keep.size,
                n_feat,
                ks,
            )
            for k in ks:
                lobe = np.full(n_feat, -1, dtype=np.int64)
                lobe[keep] = res.labels[k]
                frames.append(
                    pd.DataFrame(
                        {
                            "variant": variant,
                            "clustering": res.method,
                            "measure": measure,
                            "k": k,
                            "feature": everything,
                            "lobe": lobe,
                        }
                    )
                )
        del sub_counts, sub_occ
    return pd.concat(frames, ignore_index=True)[LABEL_COLUMNS]


def specialization(
    labels: pd.DataFrame,
    firings,
    category: np.ndarray,
    split: np.ndarray,
    cfg: dict,
    path_hint: str,
    *,
    doc_id: np.ndarray,
    histogram_documents: np.ndarray,
) -> tuple[pd.DataFrame, dict]:
    """Specialisation histograms (measure, k, variant, category, lobe, fraction, n_chunks)
    and the code-lobe verdicts at k = 2 per measure and variant.

    firings: (n_chunks, F) sparse matrix, or an iterable of (chunk numbers, CSR block) as
    ``io.iter_sparse_rows`` streams it (one pass; memory is one block plus the winners).
    category, split, doc_id: (n_chunks,) per chunk; histogram_documents: the ids of every
    histogram document of the corpus (chunked or not). Faithful: each variant's own lobes on
    the chunks of the first ``lobes.specialization.max_documents`` histogram documents
    (corpus order; the official notebook's first 10,000 documents, all of which built its
    co-occurrences), a chunk where nothing fired going to lobe 0; corrected: the held-out
    documents, such chunks left out.
    """
    import scipy.sparse as sp

    split = np.asarray(split).astype(str)
    category = np.asarray(category).astype(str)
    ks = [int(k) for k in cfg["ks"]]
    sc = cfg["specialization"]
    for variant, wanted in SPLIT_OF_VARIANT.items():
        if not (split == wanted).any():
            raise InputDataError(
                f"No `{wanted}` chunks in the firings {path_hint}: the {variant} specialisation "
                f"needs them. The features stage splits documents into histogram and held-out "
                "ones; give it more documents or a non-zero held-out fraction, then re-run."
            )
    first = first_documents(histogram_documents, sc.get("max_documents"))
    scored = {
        "faithful": (split == SPLIT_OF_VARIANT["faithful"]) & np.isin(doc_id, first),
        "corrected": split == SPLIT_OF_VARIANT["corrected"],
    }
    n_documents = {v: int(np.unique(np.asarray(doc_id)[m]).size) for v, m in scored.items()}
    lobes = {
        (v, m, k): _labels_of(labels, v, m, k)
        for v in VARIANTS
        for m in cfg["measures"]
        for k in ks
    }
    winners = {key: np.full(split.shape[0], -1, dtype=np.int64) for key in lobes}
    blocks = [(np.arange(firings.shape[0]), firings)] if sp.issparse(firings) else firings
    for rows, block in blocks:  # a chunk's winner depends on its own row only
        for (variant, measure, k), lobe in lobes.items():
            winners[(variant, measure, k)][rows] = chunk_winners(
                block, lobe, k, unscored=UNSCORED_WINNER[variant]
            )
    frames, verdicts = [], {}
    k_code = 2  # the config check guarantees 2 in ks
    for variant in VARIANTS:
        chunks = np.flatnonzero(scored[variant])
        for measure in cfg["measures"]:
            for k in ks:
                won = winners[(variant, measure, k)][chunks]
                hist = category_histogram(won, category[chunks], k)
                hist.insert(0, "variant", variant)
                hist.insert(0, "k", k)
                hist.insert(0, "measure", measure)
                frames.append(hist)
                if k == k_code:
                    found = find_code_lobe(
                        won, category[chunks], sc["code_categories"], sc["other_categories"], k
                    )
                    verdicts.setdefault(measure, {})[variant] = (
                        None
                        if found is None
                        else dict(found.__dict__, k=k, n_documents=n_documents[variant])
                    )
    return pd.concat(frames, ignore_index=True), verdicts
