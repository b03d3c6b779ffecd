# Stage alignment: paths (declared once), input functions and final targets of the rules
# in alignment.smk, which includes this file first.

ALIGN_DIR = "results/alignment/{model}"


def _alignment_model(wc):
    """The alignment.models entry of a job, resolved (concept_geometry.settings)."""
    return SETTINGS.alignment.model(wc.model)


def _alignment_spec(wc):
    """The model the analysis loads: the toy folder trained here, else the resolved spec."""
    m = _alignment_model(wc)
    return (
        rules.alignment_train_toy.output.model.format(model=m.name) if m.toy else m.spec
    )


def _alignment_concepts(wc):
    m = _alignment_model(wc)
    return (
        rules.alignment_train_toy.output.concepts.format(model=m.name)
        if m.toy
        else m.concepts
    )


def _alignment_inputs(wc):
    if _alignment_model(wc).toy:
        out = rules.alignment_train_toy.output
        return {
            "model": out.model.format(model=wc.model),
            "concepts": out.concepts.format(model=wc.model),
            "training": out.info.format(model=wc.model),
        }
    # The word-pair files (so edits re-run the job); the script names the key if none.
    return {
        "concepts": sorted(str(p) for p in Path(_alignment_concepts(wc)).glob("*.txt"))
    }


def alignment_targets():
    """Final outputs of the alignment stage."""
    models = [m.name for m in SETTINGS.alignment.models]
    per_model = [*rules.alignment_analyse.output, *rules.alignment_figures.output]
    return [*rules.alignment_summary.output, *expand(per_model, model=models)]
