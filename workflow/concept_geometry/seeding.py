"""Seeds: every random step derives its own seed from config['seed'] and a stage tag."""

from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(master: int, *tags: object) -> int:
    """A stable 32-bit seed from the master seed and any tags (stage, layer, replicate).

    Uses SHA-256, not ``hash()``, so it is identical across processes and machines.
    """
    text = ":".join([str(int(master))] + [str(t) for t in tags])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def rng(master: int, *tags: object) -> np.random.Generator:
    """A numpy Generator seeded by ``derive_seed(master, *tags)``."""
    return np.random.default_rng(derive_seed(master, *tags))


# Named streams of the scripts: a script passes config['seed'] (the master seed) and the tags
# live here, in the package, like those of the stages that derive their seeds internally.
def corpus_split_seed(master: int) -> int:
    """Seed of the histogram/held-out split of the corpus documents."""
    return derive_seed(master, "features", "split")


def sae_sample_seed(master: int) -> int:
    """Seed of the residual-activation sample that trained SAEs learn from."""
    return derive_seed(master, "features", "sae_sample")


def sae_train_seed(master: int, saeset: str, layer: int) -> int:
    """Seed of training one SAE (SAE set, layer)."""
    return derive_seed(master, "features", "sae", saeset, layer)


def alignment_rng(master: int, model: str) -> np.random.Generator:
    """Generator of one alignment model's random-pair baseline and diagonal null."""
    return rng(master, "alignment", model)


def crystals_subsample_rng(master: int) -> np.random.Generator:
    """Generator of the per-relation pair subsample (``crystals.max_pairs_per_relation``)."""
    return rng(master, "crystals", "subsample")


def crystals_analysis_seed(master: int) -> int:
    """Seed of the crystals analysis of every layer (splits, silhouettes, k-means)."""
    return derive_seed(master, "crystals", "analysis")
