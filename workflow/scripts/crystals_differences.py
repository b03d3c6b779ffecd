"""Crystals: relation pairs -> each word alone through the model -> difference vectors
(one layer)."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.runner import run


def main(smk, log):
    from concept_geometry.crystals.config import check_crystal_layers, layer_label
    from concept_geometry.crystals.differences import check_usable, relation_differences
    from concept_geometry.crystals.relations import load_relation_files, subsample_pairs
    from concept_geometry.models import load_model, load_tokenizer, n_layers
    from concept_geometry.seeding import crystals_subsample_rng

    cfg, p = smk.params.cfg, smk.params
    layer = "embed" if smk.wildcards.layer == "embed" else int(smk.wildcards.layer)
    convention = cfg["layer_convention"]
    log.info("phase: load %d relation files", len(smk.input.relations))
    pairs = load_relation_files(list(smk.input.relations))
    pairs = subsample_pairs(pairs, cfg["max_pairs_per_relation"], crystals_subsample_rng(p.seed))
    log.info("phase: load model %s (%s)", p.model_spec, p.model_key)
    model = load_model(p.model_spec, p.model_key, cfg["model"]["dtype"], cfg["model"]["device"])
    tokenizer = load_tokenizer(p.model_spec, p.model_key)
    check_crystal_layers([layer], n_layers(model), convention, model=f"the model `{p.model_spec}`")
    label = layer_label(layer, convention, n_layers(model), long=True)
    log.info("phase: residuals at %s for %d pairs", label, len(pairs))
    status, diffs = relation_differences(
        model,
        tokenizer,
        pairs,
        [layer],
        cfg["min_pairs_per_relation"],
        cfg["batch_size"],
        cfg["model"]["device"],
        convention=convention,
    )
    for reason, n in status["reason"].value_counts().items():
        log.info("pairs %s: %d", reason, n)
    check_usable(status)
    io.write_tsv(smk.output.pairs, status)
    io.write_npz(smk.output.differences, layer_label=label, **diffs[layer].arrays())


run(main, snakemake)  # noqa: F821
