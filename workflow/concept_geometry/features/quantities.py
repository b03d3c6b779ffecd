"""Headline quantities of the features stage (Li et al. 2024 data stage: chunks, firing
density, SAE quality per layer), for the registry (concept_geometry/registry.py) and
results/summary/features.tsv. One unit per layer: its meta.json (model from there)."""

from __future__ import annotations

from .. import io
from ..registry import Quantity, Table, Unit

TABLES = (Table("meta", "features_cooccurrence", "features/<model>/<corpus>/layer_<L>/meta.json"),)
_L = ("layer",)
_ACC = "concept_geometry.features.cooccurrence.CooccurrenceAccumulator"
_STATS = "concept_geometry.features.extract._Stats.result"

QUANTITIES = (
    Quantity(
        "n_chunks_histogram",
        "meta",
        "n_chunks_histogram",
        _L,
        _ACC,
        "",
        "count",
        "Token chunks of the histogram documents: the chunks whose firing sets make the "
        "co-occurrence counts.",
    ),
    Quantity(
        "n_chunks_heldout",
        "meta",
        "n_chunks_heldout",
        _L,
        "concept_geometry.features.extract.extract_firings",
        "",
        "count",
        "Token chunks of the held-out documents (used by corrected lobe specialisation only).",
    ),
    Quantity(
        "n_features",
        "meta",
        "n_features",
        _L,
        "concept_geometry.features.extract.extract_firings",
        "",
        "count",
        "SAE features (dictionary size) at this layer.",
    ),
    Quantity(
        "features_ever_fired",
        "meta",
        "features_ever_fired",
        _L,
        _ACC,
        "",
        "count",
        "Features that fire (activation > features.threshold) in at least one histogram "
        "chunk; the corrected lobes exclude the others.",
    ),
    Quantity(
        "mean_firing_per_chunk",
        "meta",
        "sae_mean_firing_per_chunk",
        _L,
        "concept_geometry.features.extract.extract_firings",
        "",
        "real",
        "Mean number of distinct features that fire at least once in a chunk (the size of "
        "a chunk's firing set, which the co-occurrence counts use).",
    ),
    Quantity(
        "sae_firing_per_token",
        "meta",
        "sae_firing_per_token",
        _L,
        _STATS,
        "",
        "real",
        "Mean number of features per token whose activation exceeds features.threshold "
        "(the paper's firing rule), over every encoded token.",
    ),
    Quantity(
        "sae_l0_per_token",
        "meta",
        "sae_l0_per_token",
        _L,
        _STATS,
        "",
        "real",
        "Mean number of features per token with activation > 0 (the SAE's L0). Larger "
        "than sae_firing_per_token, which uses the threshold.",
    ),
    Quantity(
        "sae_explained_variance",
        "meta",
        "sae_explained_variance",
        _L,
        _STATS,
        "",
        "real",
        "1 − (squared reconstruction error / total variance) of the SAE on the residual "
        "stream, over every encoded token.",
    ),
    Quantity(
        "sae_n_tokens",
        "meta",
        "sae_n_tokens",
        _L,
        _STATS,
        "",
        "count",
        "Tokens encoded by the SAE at this layer (BOS dropped).",
    ),
)


def load(inputs, params) -> list[Unit]:
    """Rule features_summary: input meta (one meta.json per layer). A quantity missing from
    a meta.json gives an empty value."""
    units = []
    for path in inputs["meta"]:
        meta = io.read_json(path)
        record = {"layer": meta["layer"], **{q.column: meta.get(q.column) for q in QUANTITIES}}
        units.append(Unit(meta["model"], {"meta": [record]}))
    return units
