"""Write a rehearsal: checkpoints of the papers' shapes and formats with random weights.

Offline and seeded; needs only torch, transformers (safetensors), tokenizers and numpy.
Layout of a build folder ``DIR`` (``layout``):

    llama-2-7b/      config.json (Llama-2-7b's), tokenizer, model-0000x-of-00002.safetensors,
                     model.safetensors.index.json: embed_tokens and lm_head only (fast path)
    gemma-2-2b/      config.json (gemma-2-2b's), tokenizer, sharded bfloat16 safetensors
    gemma-scope-2b-pt-res/layer_<L>/width_16k/average_l0_41/params.npz
    gemma-scope-2b-pt-res-canonical/layer_<L>/width_65k/canonical/params.npz
    pile/pile-rehearsal.jsonl   text + meta.pile_set_name
    rehearsal.json   what was built (sizes, seed, calibration, identities)

Each folder is written to a temp name and renamed, with ``MANIFEST.sha256.json`` (every file's
checksum, producer ``rehearsal_build`` and an identity: model, layer, sae, corpus, config
hash), the corpus file with a ``.sha256`` sidecar: the same identity fields every workflow
artifact records (``concept_geometry.io``).

Why only two Llama tensors: the alignment stage reads a safetensors checkpoint through
``alignment.matrices.read_safetensors_matrices``, which opens only the shards that the index
names for ``embed_tokens.weight`` and ``lm_head.weight``; nothing else of Llama-2 is ever
read. The other 6.5 B parameters are therefore omitted (a full ``from_pretrained`` of this
folder is not supported and would initialise them randomly).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

from ..fingerprint import settings_hash
from ..io import write_json
from .checkpoints import build_gemma, build_llama, gemma_entries  # noqa: F401 (re-exported)
from .paths import (  # noqa: F401 (re-exported)
    CORPUS_FILE,
    CORPUS_NAME,
    GALAXY_SAE,
    GEMMA_DIR,
    LLAMA_DIR,
    LOBES_SAE,
    MANIFEST,
    PRODUCER,
    REPO,
    SUMMARY,
    config_paths,
    layout,
)
from .pile import build_corpus, category_schedule  # noqa: F401 (re-exported)
from .saes import build_sae, gemma_scope_params, residual_norms  # noqa: F401 (re-exported)
from .sizes import RehearsalSizes
from .store import _identity, _normal, _plan_shards, _skip, built_identity, write_sharded  # noqa: F401 (re-exported)
from .vocab import (  # noqa: F401 (re-exported)
    _ONSETS,
    _VOWELS,
    GEMMA_SPECIALS,
    LLAMA_SPECIALS,
    filler_words,
    make_tokenizer,
    vocabulary,
    workflow_words,
)

log = logging.getLogger(__name__)


PARTS = ("llama", "gemma", "corpus", "saes")


def build(
    build_dir: str | Path,
    sizes: RehearsalSizes,
    seed: int = 0,
    parts: Iterable[str] = PARTS,
    force: bool = False,
) -> dict:
    """Build (or keep, when built before with the same sizes and seed) the rehearsal parts.

    parts: any of ``llama``, ``gemma``, ``corpus``, ``saes`` (the SAEs need the gemma model
    and the corpus, for calibration). Returns, and writes to ``rehearsal.json``, what the
    folder holds.
    """
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    parts = set(parts)
    unknown = parts - set(PARTS)
    if unknown:
        raise ValueError(f"unknown rehearsal parts {sorted(unknown)}; choose from {PARTS}")
    words = workflow_words()
    summary_path = build_dir / SUMMARY
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    summary.update(seed=seed, sizes=sizes.as_dict())
    if "llama" in parts:
        log.info("building the Llama-2-7b-shaped checkpoint")
        summary["llama"] = build_llama(build_dir, sizes, seed, words, force)
    gemma = None
    if parts & {"gemma", "corpus", "saes"}:
        log.info("building the gemma-2-2b-shaped model")
        gemma = build_gemma(build_dir, sizes, seed, words, force)
        summary["gemma"] = {k: v for k, v in gemma.items() if k != "words"}
    if parts & {"corpus", "saes"}:
        log.info("building the corpus")
        fillers = gemma["words"][len(words) :] or gemma["words"]
        summary["corpus"] = build_corpus(build_dir, sizes, seed, fillers, force)
    if "saes" in parts:
        layers = sorted({sizes.lobes_layer, *sizes.galaxy_layers})
        log.info("calibrating SAE thresholds: residual norms at layers %s", layers)
        norms = residual_norms(build_dir / GEMMA_DIR, build_dir / CORPUS_FILE, sizes, layers)
        d = gemma["d_model"]
        saes = [
            build_sae(
                build_dir,
                LOBES_SAE,
                sizes.lobes_layer,
                sizes.lobes_width,
                d,
                norms[sizes.lobes_layer],
                sizes.target_l0,
                seed,
                force,
            )
        ]
        for layer in sizes.galaxy_layers:
            log.info("SAE layer %s, width %s", layer, sizes.galaxy_width)
            saes.append(
                build_sae(
                    build_dir,
                    GALAXY_SAE,
                    layer,
                    sizes.galaxy_width,
                    d,
                    norms[layer],
                    sizes.target_l0,
                    seed,
                    force,
                )
            )
        summary["saes"] = saes
        summary["residual_norms"] = {str(k): v for k, v in norms.items()}
    summary["layout"] = layout(build_dir)
    write_json(
        summary_path,
        summary,
        producer=PRODUCER,
        identity={"config": settings_hash({"sizes": sizes.as_dict(), "seed": seed})},
    )
    return summary
