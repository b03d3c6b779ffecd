"""Lobes figures of one layer: feature cloud by lobe (Fig. 2), AMI and probe accuracy vs k
(Fig. 3), specialisation per category (Figs. 4-5)."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.lobes import plots
from concept_geometry.plotting import config_caption, save_figure
from concept_geometry.runner import run


def main(smk, log):
    cfg, w = smk.params.cfg, smk.wildcards
    labels = io.read_tsv(smk.input.labels)
    tests = io.read_tsv(smk.input.tests)
    spec = io.read_tsv(smk.input.specialization)
    emb = io.read_npz(smk.input.embedding)
    verdicts = io.read_json(smk.input.code_lobe)
    where = config_caption(model=w.model, corpus=w.corpus, layer=w.layer)
    k = cfg["figures"]["k"]
    log.info("phase: figures")
    # the code lobe of each measure (corrected variant, the one the cloud shows), at its k
    code_lobes = {
        m: v["corrected"]["code_lobe"]
        for m, v in verdicts.items()
        if (v.get("corrected") or {}).get("found") and v["corrected"]["k"] == k
    }
    fig = plots.plot_feature_cloud(
        emb["feature"],
        emb["coords"],
        labels,
        k,
        f"SAE features ({cfg['figures']['embedding']}) coloured by "
        f"lobe, k={k}; {where} (cf. Li et al. Fig. 2)",
        code_lobes=code_lobes,
    )
    save_figure(fig, smk.output.cloud_png, smk.output.cloud_pdf)
    fig = plots.plot_tests_vs_k(
        tests, f"Function vs geometry: AMI and probe accuracy vs k; {where} (cf. Li et al. Fig. 3)"
    )
    save_figure(fig, smk.output.tests_png, smk.output.tests_pdf)
    ks = [k for k in cfg["figures"]["specialization_ks"] if k in cfg["ks"]] or [2]
    fig = plots.plot_specialization(
        spec, ks, f"Lobe specialisation per category; {where} (cf. Li et al. Figs. 4-5)"
    )
    save_figure(fig, smk.output.spec_png, smk.output.spec_pdf)


run(main, snakemake)  # noqa: F821
