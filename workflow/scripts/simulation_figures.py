"""Figures of the simulation study (dynamics, sweeps, orthogonality)."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.plotting import config_caption, save_figure
from concept_geometry.runner import run
from concept_geometry.simulation import plots


def main(smk, log):
    cfg = smk.params.cfg
    summary, orth = io.read_tsv(smk.input.summary), io.read_tsv(smk.input.orthogonality)
    curves, mechanism = io.read_tsv(smk.input.curves), io.read_tsv(smk.input.mechanism)
    cap = config_caption(
        m=cfg["m"],
        d=cfg["d"],
        edge_prob=cfg["edge_prob"],
        opt=cfg["optimizer"],
        lr=cfg["lr"],
        steps=cfg["steps"],
        seeds=len(cfg["seeds"]),
    )
    log.info("phase: figures")
    save_figure(plots.plot_dynamics(curves, cap), smk.output.dynamics_png, smk.output.dynamics_pdf)
    save_figure(plots.plot_sweeps(summary, cap), smk.output.sweeps_png, smk.output.sweeps_pdf)
    save_figure(
        plots.plot_orthogonality(summary, orth, cap), smk.output.orth_png, smk.output.orth_pdf
    )
    save_figure(
        plots.plot_mechanism(summary, curves, mechanism, cap),
        smk.output.mechanism_png,
        smk.output.mechanism_pdf,
    )


run(main, snakemake)  # noqa: F821
