"""Writing rehearsal parts: seeded random tensors, sharded safetensors, build identities."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from ..fingerprint import settings_hash
from ..io import verify
from .paths import MANIFEST

log = logging.getLogger(__name__)


def _normal(shape: tuple[int, ...], std: float, dtype, gen, block_rows: int = 8192):
    """Seeded N(0, std²) tensor made block by block (no float32 copy of the whole tensor)."""
    import torch

    out = torch.empty(shape, dtype=dtype)
    if len(shape) == 1:
        out.copy_(torch.randn(shape, generator=gen).mul_(std))
        return out
    for r0 in range(0, shape[0], block_rows):
        r1 = min(shape[0], r0 + block_rows)
        out[r0:r1] = torch.randn((r1 - r0, *shape[1:]), generator=gen).mul_(std)
    return out


def _plan_shards(
    entries: list[tuple[str, tuple, int]], n_shards: int | None, max_bytes: int | None
) -> list[list[tuple[str, tuple, int]]]:
    """Split (name, shape, bytes) entries, in order, into shards (a fixed number, or by size)."""
    if n_shards is not None:
        per = math.ceil(len(entries) / n_shards)
        return [entries[i : i + per] for i in range(0, len(entries), per)]
    shards, cur, size = [], [], 0
    for entry in entries:
        if cur and size + entry[2] > max_bytes:
            shards.append(cur)
            cur, size = [], 0
        cur.append(entry)
        size += entry[2]
    return shards + [cur] if cur else shards


def write_sharded(
    folder: Path,
    entries: list[tuple[str, tuple, int]],
    make_tensor,
    n_shards: int | None = None,
    max_bytes: int | None = None,
) -> int:
    """Hub-layout sharded safetensors: ``model-0000i-of-0000n.safetensors`` and the index.
    Tensors are made shard by shard (memory: one shard). Returns the total bytes."""
    from safetensors.torch import save_file

    shards = _plan_shards(entries, n_shards, max_bytes)
    weight_map, total = {}, 0
    for i, shard in enumerate(shards, 1):
        name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        tensors = {n: make_tensor(n, shape) for n, shape, _ in shard}
        save_file(tensors, str(folder / name), metadata={"format": "pt"})
        (folder / name).chmod(0o644)  # safetensors creates 0600; results are world-readable
        for n, _shape, nbytes in shard:
            weight_map[n] = name
            total += nbytes
        del tensors
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    return total


def _identity(sizes_part: dict, seed: int, **fields) -> dict:
    return {
        **fields,
        "weights": "random (rehearsal)",
        "config": settings_hash({**sizes_part, "seed": seed}),
    }


def built_identity(path: Path) -> dict | None:
    """The identity recorded in a built folder's manifest (or a file's sidecar); None if
    absent. Checks the checksums first (a truncated build is not reused)."""
    path = Path(path)
    try:
        verify(path)
    except Exception:  # noqa: BLE001 -- missing or damaged: rebuild
        return None
    meta = path / MANIFEST if path.is_dir() else path.with_name(path.name + ".sha256")
    return json.loads(meta.read_text()).get("identity")


def _skip(path: Path, identity: dict, force: bool) -> bool:
    if force or not path.exists():
        return False
    got = built_identity(path)
    same = got == {k: str(v) for k, v in identity.items()}
    if same:
        log.info("kept %s (built before with the same sizes and seed)", path)
    return same
