"""Where a rehearsal build puts its parts (``layout``) and the config keys pointing at them."""

from __future__ import annotations

from pathlib import Path

PRODUCER = "rehearsal_build"


REPO = Path(__file__).resolve().parents[3]


LLAMA_DIR = "llama-2-7b"


GEMMA_DIR = "gemma-2-2b"


LOBES_SAE = "gemma-scope-2b-pt-res/layer_{layer}/width_16k/average_l0_41"


GALAXY_SAE = "gemma-scope-2b-pt-res-canonical/layer_{layer}/width_65k/canonical"


CORPUS_FILE = "pile/pile-rehearsal.jsonl"


CORPUS_NAME = "pile-rehearsal"


SUMMARY = "rehearsal.json"


MANIFEST = "MANIFEST.sha256.json"


def layout(build_dir: str | Path) -> dict[str, str]:
    """Paths of a build's parts (``{layer}`` left in the SAE paths, as the config takes them)."""
    base = Path(build_dir)
    return {
        "llama": str(base / LLAMA_DIR),
        "gemma": str(base / GEMMA_DIR),
        "lobes_sae": str(base / LOBES_SAE),
        "galaxy_sae": str(base / GALAXY_SAE),
        "corpus": str(base / CORPUS_FILE),
        "summary": str(base / SUMMARY),
    }


def config_paths(build_dir: str | Path) -> dict:
    """The config keys a rehearsal points at ``build_dir`` (the path part of
    config/rehearsal.yaml, which a test checks against this)."""
    p = layout(build_dir)
    return {
        "features": {
            "model": {"path": p["gemma"]},
            "corpus": {"name": CORPUS_NAME, "source": "local", "path": p["corpus"]},
            "sae": {"source": "local", "path": p["lobes_sae"]},
        },
        "galaxy": {"sae": {"source": "local", "path": p["galaxy_sae"]}},
        "crystals": {"model": {"path": p["gemma"]}},
        "alignment": {
            "models": [
                {
                    "name": "llama-2-7b",
                    "path": p["llama"],
                    "concepts": "config/concepts",
                    "require_bos": True,
                    "prefix_space": False,
                }
            ]
        },
    }
