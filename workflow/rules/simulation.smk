# Stage: simulation — Jiang et al. 2024 §5.1 (see workflow/concept_geometry/simulation/).
# One job per experiment x replicate seed, then collect, figures and headline summary.


rule simulate:
    output:
        concepts="results/simulation/runs/{experiment}/seed_{seed}/concepts.tsv",
        orthogonality="results/simulation/runs/{experiment}/seed_{seed}/orthogonality.tsv",
        curves="results/simulation/runs/{experiment}/seed_{seed}/curves.tsv",
    log:
        "logs/simulation/simulate_{experiment}_{seed}.log",
    benchmark:
        "results/benchmarks/simulation/simulate_{experiment}_{seed}.tsv"
    wildcard_constraints:
        experiment="full|incomplete_contexts|incomplete_concepts|dimension",
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        cfg=lambda wc: config["simulation"],
        seed=config["seed"],
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
    log:
        "logs/simulation/collect.log",
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/simulation_collect.py"


rule simulation_mechanism:
    input:
        summary="results/simulation/summary.tsv",
    output:
        mechanism="results/simulation/mechanism.tsv",
    log:
        "logs/simulation/mechanism.log",
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/simulation_mechanism.py"


rule simulation_figures:
    input:
        summary="results/simulation/summary.tsv",
        orthogonality="results/simulation/orthogonality.tsv",
        curves="results/simulation/curves.tsv",
        mechanism=rules.simulation_mechanism.output.mechanism,
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
        mechanism_png=report(
            "results/figures/simulation_mechanism.png",
            caption="../report/simulation_mechanism.rst",
            category="Simulation",
        ),
        mechanism_pdf="results/figures/simulation_mechanism.pdf",
    log:
        "logs/simulation/figures.log",
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cfg=lambda wc: config["simulation"],
    script:
        "../scripts/simulation_figures.py"


rule simulation_summary:
    input:
        summary="results/simulation/summary.tsv",
        orthogonality="results/simulation/orthogonality.tsv",
        mechanism=rules.simulation_mechanism.output.mechanism,
    output:
        headline="results/summary/simulation.tsv",
    log:
        "logs/simulation/summary.log",
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/stage_summary.py"
