# Stage lobes: paths (declared once), input functions and final targets of the rules
# in lobes.smk, which includes this file first.

LOBES = SETTINGS.lobes
LOBES_DIR = "results/lobes/{model}/{corpus}/layer_{layer}"
LOBES_EXPLORER = "results/explorer/{model}/{corpus}/layer_{layer}.html"


def lobes_layer_files(name):
    """One path per analysed layer (lobes.layers) of the file `name` in the lobes folder."""
    return expand(
        f"{LOBES_DIR}/{name}",
        model=LOBES.model,
        corpus=LOBES.corpus,
        layer=LOBES.layers,
    )


def lobes_targets():
    """Final outputs of the lobes stage: per-layer tables, figures and explorer, summary."""
    per_layer = [
        *rules.lobes_cluster.output,
        *rules.lobes_tests_gather.output,
        *rules.lobes_specialization.output,
        *rules.lobes_figures.output,
        *rules.lobes_explorer.output,
    ]
    layers = expand(
        per_layer, model=LOBES.model, corpus=LOBES.corpus, layer=LOBES.layers
    )
    return [*layers, *rules.lobes_summary.output]
