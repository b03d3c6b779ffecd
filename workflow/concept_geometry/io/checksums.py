"""Checksums and identities: sidecars (``<file>.sha256``) and folder manifests, written by
the commit step and checked by ``verify`` before any read."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import CorruptArtifactError
from .pending import resolve

SIDECAR_SUFFIX = ".sha256"
MANIFEST = "MANIFEST.sha256.json"


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read into one reused 1 MiB buffer (constant memory)."""
    h = hashlib.sha256()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def sidecar(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _corrupt(path: Path, why: str, producer: str) -> CorruptArtifactError:
    return CorruptArtifactError(
        f"Cached artifact {path} is {why}; it is made by rule `{producer}`. It was not used. "
        f"Delete it and re-run, e.g. `snakemake --cores all --forcerun {producer}` "
        f"(or simply `rm {path}` then `snakemake --cores all`)."
    )


def _identity(identity: dict | None) -> dict:
    return {} if identity is None else {"identity": {k: str(v) for k, v in identity.items()}}


def _check_identity(path: Path, meta: dict, expect: dict | None) -> None:
    if expect is None:
        return
    got = meta.get("identity")
    if got is None:  # placed by hand (no workflow rule wrote it): nothing to compare
        import logging

        logging.getLogger(__name__).warning(
            "%s records no identity (not written by a rule of this workflow); its provenance "
            "is not checked",
            path,
        )
        return
    want = {k: str(v) for k, v in expect.items()}
    wrong = [k for k in want if got.get(k) != want[k]]
    if wrong:
        show = lambda d: ", ".join(f"{k}={d.get(k, '(none)')}" for k in want)  # noqa: E731
        raise CorruptArtifactError(
            f"Cached artifact {path} is intact but is not the one this job needs: it records "
            f"{show(got)}, and this job expects {show(want)} (differs in {', '.join(wrong)}). It "
            f"was probably copied or moved from another layer, model or run, and was not used. "
            f"Delete it and its {SIDECAR_SUFFIX} file and re-run, e.g. "
            f"`snakemake --cores all --forcerun {meta.get('producer', 'unknown')}` (or `rm {path}` "
            f"then `snakemake --cores all`)."
        )


def verify(path: str | Path, expect: dict | None = None) -> None:
    """Check ``path`` against its checksum sidecar (or manifest, for a folder), and its
    recorded identity against ``expect`` (every key of ``expect`` must match).

    Raises CorruptArtifactError naming the file and its producing rule (and, for a wrong
    identity, both identities).
    """
    final = Path(path)
    path = resolve(final)
    if path != final:  # written by this very job, not yet renamed: nothing to verify
        return
    if path.is_dir():
        man = path / MANIFEST
        if not man.exists():
            raise _corrupt(path, f"missing its checksum manifest {MANIFEST}", "unknown")
        meta = json.loads(man.read_text())
        for rel, info in meta["files"].items():
            f = path / rel
            if not f.exists():
                raise _corrupt(f, "missing", meta["producer"])
            if f.stat().st_size != info["size"]:
                raise _corrupt(f, "truncated or resized", meta["producer"])
            if sha256_file(f) != info["sha256"]:
                raise _corrupt(f, "altered (checksum mismatch)", meta["producer"])
        _check_identity(path, meta, expect)
        return
    if not path.exists():
        raise CorruptArtifactError(
            f"Expected artifact {path} does not exist. Re-run snakemake to rebuild it."
        )
    side = sidecar(path)
    if not side.exists():
        raise _corrupt(path, f"missing its checksum file {side.name}", "unknown")
    try:
        meta = json.loads(side.read_text())
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or not {"size", "sha256", "producer"} <= meta.keys():
        # Empty or garbled (e.g. written as a disk filled up): the artifact cannot be verified.
        raise _corrupt(
            path, f"unverifiable: its checksum file {side.name} is empty or corrupt", "unknown"
        )
    if path.stat().st_size != meta["size"]:
        raise _corrupt(path, "truncated or resized", meta["producer"])
    if sha256_file(path) != meta["sha256"]:
        raise _corrupt(path, "altered (checksum mismatch)", meta["producer"])
    _check_identity(path, meta, expect)
