"""results/summary/features.tsv: chunks, firing density, SAE quality per layer."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

import pandas as pd

from concept_geometry import io
from concept_geometry.runner import run


def main(smk, log):
    rows = []
    for path in smk.input.meta:
        m = io.read_json(path)
        setting = f"layer={m['layer']}"
        for q in ["n_chunks_histogram", "n_chunks_heldout", "n_features", "features_ever_fired",
                  "sae_mean_firing_per_chunk", "sae_firing_per_token", "sae_l0_per_token",
                  "sae_explained_variance", "sae_n_tokens"]:
            rows.append({"stage": "features", "quantity": q.replace("sae_mean_", "mean_"), "setting": setting,
                         "model": m["model"], "value": m.get(q)})
    log.info("phase: %d rows", len(rows))
    io.write_tsv(smk.output.summary, pd.DataFrame(rows))


run(main, snakemake)  # noqa: F821
