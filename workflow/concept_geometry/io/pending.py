"""Outputs written by the current job but not yet renamed into place (``transaction``)."""

from __future__ import annotations

import contextvars
from pathlib import Path

# Renames deferred to the end of the current job (see `transaction`): [(tmp, final, meta)].
_PENDING: contextvars.ContextVar[list | None] = contextvars.ContextVar("cg_pending", default=None)


def resolve(path: str | Path) -> Path:
    """Where ``path``'s content is now: its temp file while a transaction defers it."""
    path = Path(path)
    for tmp, final, _meta in _PENDING.get() or []:
        if final == path:
            return tmp
    return path
