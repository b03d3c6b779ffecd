# Stage galaxy: paths (declared once), input functions and final targets of the rules
# in galaxy.smk, which includes this file first.

GALAXY = SETTINGS.galaxy
GALAXY_DIR = "results/galaxy/{model}"
GALAXY_LAYER_DIR = f"{GALAXY_DIR}/layer_{{layer}}"
GALAXY_EXPLORER = "results/explorer/{model}/galaxy.html"
GALAXY_DECODER = sae_path(GALAXY.sae.name, ".decoder.npy")  # the SAE set galaxy reads


def galaxy_layer_files(name):
    """The per-layer file `name` of every galaxy layer (galaxy.layers)."""
    return lambda wc: expand(
        f"{GALAXY_LAYER_DIR}/{name}", model=wc.model, layer=GALAXY.layers
    )


def galaxy_targets():
    """Final outputs of the galaxy stage."""
    per_model = [
        *rules.galaxy_gather.output,
        *rules.galaxy_plots.output,
        *rules.galaxy_explorer.output,
    ]
    return [*expand(per_model, model=GALAXY.model), *rules.galaxy_summary.output]
