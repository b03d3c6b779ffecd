"""results/summary/features.tsv: chunks, firing density, SAE quality per layer."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (so conda envs need no install)
from concept_geometry.runner import run  # noqa: E402
from concept_geometry import io  # noqa: E402
import pandas as pd  # noqa: E402


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
