"""Crystals: distractors, LDA, silhouettes, clusters and crystal quality of one layer."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

# sklearn is loaded before run() pins the BLAS/OpenMP threads.
import sklearn.cluster  # noqa: F401
import sklearn.discriminant_analysis  # noqa: F401
import sklearn.metrics  # noqa: F401

from concept_geometry import io
from concept_geometry.runner import run


def main(smk, log):
    from concept_geometry.crystals.analysis import analyse_layer
    from concept_geometry.seeding import crystals_analysis_seed

    data = io.read_npz(smk.input.differences)
    log.info("phase: analyse %d difference vectors of dimension %d", *data["differences"].shape)
    res = analyse_layer(
        data["differences"],
        data["relation"],
        data["length_diff"],
        last_subword_chars_diff=data["last_subword_chars_diff"],
        cfg=smk.params.cfg,
        seed=crystals_analysis_seed(smk.params.seed),
        pair_id=data.get("pair_id"),
    )
    for name in ("clusters", "silhouette", "quality", "distractors"):
        io.write_tsv(getattr(smk.output, name), getattr(res, name))
    s = res.samples
    numeric = ("parallelogram_error", "trapezoid_cos")
    io.write_npz(
        smk.output.views,
        eval_index=res.eval_index,
        layer_label=data["layer_label"],
        **{f"pc1_{k}": v for k, v in res.pc1.items()},
        length_diff=data["length_diff"],
        last_subword_chars_diff=data["last_subword_chars_diff"],
        relation=data["relation"],
        **{f"coords_{k}": v for k, v in res.coords.items()},
        **{f"sample_{c}": s[c].to_numpy(dtype=float if c in numeric else str) for c in s.columns},
    )


run(main, snakemake)  # noqa: F821
