# Stage crystals: paths (declared once), input functions and final targets of the rules
# in crystals.smk, which includes this file first.

CRYSTALS = SETTINGS.crystals
CRYSTALS_MODEL = CRYSTALS.model.name if CRYSTALS.model else "none"  # None: stage off
CRYSTALS_DIR = "results/crystals/{model}/layer_{layer}"
CRYSTALS_EXPLORER = "results/explorer/{model}/crystals_layer_{layer}.html"
CRYSTALS_TABLES = ("clusters", "silhouette", "quality", "distractors", "pairs")


def crystals_layer_files(name):
    """The file `name` of every crystals layer (crystals.layers) of the stage's model."""
    return expand(f"{CRYSTALS_DIR}/{name}", model=CRYSTALS_MODEL, layer=CRYSTALS.layers)


def crystals_targets():
    """Final outputs of the crystals stage."""
    per_layer = [
        *rules.crystals_differences.output,
        *rules.crystals_analyse.output,
        *rules.crystals_figures.output,
        *rules.crystals_explorer.output,
    ]
    return [
        *expand(per_layer, model=CRYSTALS_MODEL, layer=CRYSTALS.layers),
        *rules.crystals_summary.output,
    ]
