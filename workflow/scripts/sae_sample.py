"""Cache a seeded sample of residual activations (histogram documents) to train SAEs on."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.corpus import read_documents
from concept_geometry.features.extract import sample_activations
from concept_geometry.features.stage import load_model_and_tokenizer
from concept_geometry.runner import run
from concept_geometry.seeding import sae_sample_seed


def main(smk, log):
    p = smk.params
    layers = list(p.layers)
    docs = read_documents(smk.input.documents)
    texts = docs.loc[docs["split"] == "histogram", "text"].tolist()
    log.info("phase: load model %s", p.model_spec)
    model, tokenizer, _ = load_model_and_tokenizer(p.model, p.model_spec, layers)
    log.info("phase: sample %d token activations at layers %s", p.n_tokens, layers)
    sample = sample_activations(
        model,
        tokenizer,
        texts,
        layers,
        p.n_tokens,
        sae_sample_seed(p.seed),
        p.model["batch_size"],
        p.max_length,
        p.drop_special,
        p.model["device"],
    )
    for layer, path in zip(layers, smk.output.samples, strict=False):
        io.write_npy(path, sample[layer])
    log.info("phase: wrote %s tokens per layer", sample[layers[0]].shape)


run(main, snakemake)  # noqa: F821
