# Stage simulation: paths (declared once), input functions and final targets of the rules
# in simulation.smk, which includes this file first.

SIM_DIR = "results/simulation"
SIM_RUN_DIR = f"{SIM_DIR}/runs/{{experiment}}/seed_{{seed}}"
SIM_FIGURES = "results/figures"  # simulation_<name>.png|pdf


def simulation_jobs(name):
    """Per-job tables `name` (concepts/orthogonality/curves) of every experiment x seed."""
    return expand(
        f"{SIM_RUN_DIR}/{name}.tsv",
        experiment=SETTINGS.simulation.experiments,
        seed=SETTINGS.simulation.seeds,
    )


def simulation_targets():
    """Final outputs of the simulation stage."""
    return [
        *rules.simulation_collect.output,
        *rules.simulation_mechanism.output,
        *rules.simulation_figures.output,
        *rules.simulation_summary.output,
    ]
