"""One SAE (model, SAE set, layer) in SAELens disk format: trained, pretrained or local."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.features.sae import check_sae_fits, sae_description, train_sae
from concept_geometry.features.stage import load_sae_for_layer, model_hidden_size
from concept_geometry.runner import run
from concept_geometry.seeding import sae_train_seed


def main(smk, log):
    spec, layer, key = smk.params.spec, int(smk.wildcards.layer), smk.params.key
    info = {"layer": layer, **sae_description(spec, layer)}
    if spec["source"] == "train":
        acts = io.read_npy(smk.input.sample)
        log.info(
            "phase: train SAE on %s activations (width %d, %d steps)",
            acts.shape,
            spec["width"],
            spec["steps"],
        )
        res = train_sae(
            acts,
            spec["width"],
            spec["steps"],
            spec["batch_size"],
            spec["lr"],
            spec["l1_coefficient"],
            spec["l1_warm_up_steps"],
            sae_train_seed(smk.params.seed, smk.wildcards.saeset, layer),
        )
        sae = res.sae
        info.update(
            scale=res.scale,
            explained_variance=res.explained_variance,
            l0=res.l0,
            loss_first=float(res.losses[0]),
            loss_last=float(res.losses[-10:].mean()),
        )
        log.info(
            "phase: trained: explained variance %.3f, L0 %.1f (held-back 10%%)",
            res.explained_variance,
            res.l0,
        )
    else:
        log.info("phase: load %s SAE %s", spec["source"], info)
        sae = load_sae_for_layer(spec, layer, key, device="cpu")
    check_sae_fits(sae, model_hidden_size(smk.params.model_spec), layer, key)
    if not getattr(sae.cfg.metadata, "hook_name", None):  # record where it applies (SAELens's name)
        sae.cfg.metadata.hook_name = f"blocks.{layer}.hook_resid_post"
    info.update(
        d_in=int(sae.cfg.d_in), d_sae=int(sae.cfg.d_sae), architecture=sae.cfg.architecture()
    )
    with io.atomic_dir(smk.output.sae, identity=smk.params.identity) as tmp:
        sae.save_model(tmp)
    io.write_json(smk.output.info, info, identity=smk.params.identity)


run(main, snakemake)  # noqa: F821
