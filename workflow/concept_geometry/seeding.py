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
