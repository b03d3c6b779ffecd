"""Cache a seeded sample of residual activations (histogram documents) to train SAEs on."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (so conda envs need no install)
from concept_geometry.runner import run  # noqa: E402
from concept_geometry import io  # noqa: E402
from concept_geometry.activations.extract import sample_activations  # noqa: E402
from concept_geometry.activations.stage import load_model_and_tokenizer  # noqa: E402
from concept_geometry.corpus import read_documents  # noqa: E402
from concept_geometry.seeding import derive_seed  # noqa: E402


def main(smk, log):
    p = smk.params
    layers = list(p.layers)
    docs = read_documents(smk.input.documents)
    texts = docs.loc[docs["split"] == "histogram", "text"].tolist()
    log.info("phase: load model %s", p.model_spec)
    model, tokenizer, _ = load_model_and_tokenizer(p.model, p.model_spec, layers)
    log.info("phase: sample %d token activations at layers %s", p.n_tokens, layers)
    sample = sample_activations(model, tokenizer, texts, layers, p.n_tokens,
                                derive_seed(p.seed, "features", "sae_sample"), p.model["batch_size"],
                                p.max_length, p.drop_special, p.model["device"])
    for layer, path in zip(layers, smk.output.samples):
        io.write_npy(path, sample[layer])
    log.info("phase: wrote %s tokens per layer", sample[layers[0]].shape)


run(main, snakemake)  # noqa: F821
