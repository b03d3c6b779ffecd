# Stage: simulation — Jiang et al. 2024 §5.1 (see workflow/concept_geometry/simulation/).
# One job per experiment x replicate seed, then collect, figures and headline summary.


include: "simulation_io.smk"


rule simulate:
    output:
        concepts=f"{SIM_RUN_DIR}/concepts.tsv",
        orthogonality=f"{SIM_RUN_DIR}/orthogonality.tsv",
        curves=f"{SIM_RUN_DIR}/curves.tsv",
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
        mem_mb=scaled(2000),
        runtime=scaled(30),
    params:
        cfg=lambda wc: SETTINGS.simulation.raw,
        seed=SETTINGS.seed,
    script:
        "../scripts/simulate.py"


rule simulation_collect:
    input:
        concepts=simulation_jobs("concepts"),
        orthogonality=simulation_jobs("orthogonality"),
        curves=simulation_jobs("curves"),
    output:
        summary=f"{SIM_DIR}/summary.tsv",
        orthogonality=f"{SIM_DIR}/orthogonality.tsv",
        curves=f"{SIM_DIR}/curves.tsv",
    log:
        "logs/simulation/collect.log",
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    script:
        "../scripts/simulation_collect.py"


rule simulation_mechanism:
    input:
        summary=rules.simulation_collect.output.summary,
    output:
        mechanism=f"{SIM_DIR}/mechanism.tsv",
    log:
        "logs/simulation/mechanism.log",
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(5),
    script:
        "../scripts/simulation_mechanism.py"


rule simulation_figures:
    input:
        summary=rules.simulation_collect.output.summary,
        orthogonality=rules.simulation_collect.output.orthogonality,
        curves=rules.simulation_collect.output.curves,
        mechanism=rules.simulation_mechanism.output.mechanism,
    output:
        dynamics_png=report(
            f"{SIM_FIGURES}/simulation_dynamics.png",
            caption="../report/simulation_dynamics.rst",
            category="Simulation",
        ),
        dynamics_pdf=f"{SIM_FIGURES}/simulation_dynamics.pdf",
        sweeps_png=report(
            f"{SIM_FIGURES}/simulation_sweeps.png",
            caption="../report/simulation_sweeps.rst",
            category="Simulation",
        ),
        sweeps_pdf=f"{SIM_FIGURES}/simulation_sweeps.pdf",
        orth_png=report(
            f"{SIM_FIGURES}/simulation_orthogonality.png",
            caption="../report/simulation_orthogonality.rst",
            category="Simulation",
        ),
        orth_pdf=f"{SIM_FIGURES}/simulation_orthogonality.pdf",
        mechanism_png=report(
            f"{SIM_FIGURES}/simulation_mechanism.png",
            caption="../report/simulation_mechanism.rst",
            category="Simulation",
        ),
        mechanism_pdf=f"{SIM_FIGURES}/simulation_mechanism.pdf",
    log:
        "logs/simulation/figures.log",
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(10),
    params:
        cfg=lambda wc: SETTINGS.simulation.raw,
    script:
        "../scripts/simulation_figures.py"


rule simulation_summary:
    input:
        summary=rules.simulation_collect.output.summary,
        orthogonality=rules.simulation_collect.output.orthogonality,
        mechanism=rules.simulation_mechanism.output.mechanism,
    output:
        headline="results/summary/simulation.tsv",
    log:
        "logs/simulation/summary.log",
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(5),
    script:
        "../scripts/stage_summary.py"
