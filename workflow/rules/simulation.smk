# Stage: simulation — Jiang et al. 2024 §5.1 (see workflow/concept_geometry/simulation/).
# One job per experiment x replicate seed, then collect, figures and headline summary.


SIM_FIGURES = ["dynamics", "sweeps", "orthogonality"]


def simulation_jobs(name):
    """Per-job tables `name` (concepts/orthogonality/curves) of every experiment x seed."""
    cfg = config["simulation"]
    return expand(
        "results/simulation/runs/{experiment}/seed_{seed}/{name}.tsv",
        experiment=cfg["experiments"],
        seed=cfg["seeds"],
        name=name,
    )


def simulation_targets():
    """Final outputs of the simulation stage."""
    return [
        "results/simulation/summary.tsv",
        "results/simulation/orthogonality.tsv",
        "results/simulation/curves.tsv",
        "results/summary/simulation.tsv",
    ] + expand("results/figures/simulation_{fig}.{ext}", fig=SIM_FIGURES, ext=["png", "pdf"])


rule simulate:
    output:
        concepts="results/simulation/runs/{experiment}/seed_{seed}/concepts.tsv",
        orthogonality="results/simulation/runs/{experiment}/seed_{seed}/orthogonality.tsv",
        curves="results/simulation/runs/{experiment}/seed_{seed}/curves.tsv",
    wildcard_constraints:
        experiment="full|incomplete_contexts|incomplete_concepts|dimension",
    params:
        cfg=lambda wc: config["simulation"],
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    log:
        "logs/simulation/simulate_{experiment}_{seed}.log",
    benchmark:
        "results/benchmarks/simulation/simulate_{experiment}_{seed}.tsv"
    conda:
        "../../envs/simulation.yaml"
    script:
        "../scripts/simulate.py"


rule simulation_collect:
    input:
        concepts=simulation_jobs("concepts"),
        orthogonality=simulation_jobs("orthogonality"),
        curves=simulation_jobs("curves"),
    output:
        summary="results/simulation/summary.tsv",
        orthogonality="results/simulation/orthogonality.tsv",
        curves="results/simulation/curves.tsv",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        "logs/simulation/collect.log",
    conda:
        "../../envs/simulation.yaml"
    script:
        "../scripts/simulation_collect.py"


rule simulation_figures:
    input:
        summary="results/simulation/summary.tsv",
        orthogonality="results/simulation/orthogonality.tsv",
        curves="results/simulation/curves.tsv",
    output:
        dynamics_png=report(
            "results/figures/simulation_dynamics.png",
            caption="../report/simulation_dynamics.rst",
            category="Simulation",
        ),
        dynamics_pdf="results/figures/simulation_dynamics.pdf",
        sweeps_png=report(
            "results/figures/simulation_sweeps.png",
            caption="../report/simulation_sweeps.rst",
            category="Simulation",
        ),
        sweeps_pdf="results/figures/simulation_sweeps.pdf",
        orth_png=report(
            "results/figures/simulation_orthogonality.png",
            caption="../report/simulation_orthogonality.rst",
            category="Simulation",
        ),
        orth_pdf="results/figures/simulation_orthogonality.pdf",
    params:
        cfg=lambda wc: config["simulation"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        "logs/simulation/figures.log",
    conda:
        "../../envs/simulation.yaml"
    script:
        "../scripts/simulation_figures.py"


rule simulation_summary:
    input:
        summary="results/simulation/summary.tsv",
        orthogonality="results/simulation/orthogonality.tsv",
    output:
        headline="results/summary/simulation.tsv",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        "logs/simulation/summary.log",
    conda:
        "../../envs/simulation.yaml"
    script:
        "../scripts/simulation_summary.py"
