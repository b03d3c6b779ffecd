"""Atomic writes and corruption detection, per artifact format (issue 9)."""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from concept_geometry import io
from concept_geometry.errors import CorruptArtifactError


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _flip_byte(path, offset=-20):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _write_each(tmp_path):
    """One artifact per format, each written by a (pretend) rule."""
    rng = np.random.default_rng(0)
    paths = {}
    paths["npz"] = tmp_path / "a.npz"
    io.write_npz(
        paths["npz"],
        producer="rule_npz",
        x=rng.normal(size=(30, 4)),
        s=sp.random(20, 10, density=0.2, random_state=0, format="csr"),
    )
    paths["npy"] = tmp_path / "b.npy"
    io.write_npy(paths["npy"], rng.normal(size=(50, 3)), producer="rule_npy")
    paths["tsv"] = tmp_path / "c.tsv"
    io.write_tsv(
        paths["tsv"], pd.DataFrame({"a": range(40), "b": np.arange(40) / 7}), producer="rule_tsv"
    )
    paths["json"] = tmp_path / "d.json"
    io.write_json(paths["json"], {"k": list(range(30))}, producer="rule_json")
    paths["safetensors"] = tmp_path / "sae"
    from safetensors.numpy import save_file

    with io.atomic_dir(paths["safetensors"], producer="rule_sae") as tmp:
        save_file(
            {"W_dec": rng.normal(size=(16, 8)).astype(np.float32)},
            str(tmp / "sae_weights.safetensors"),
        )
        (tmp / "cfg.json").write_text(json.dumps({"d_in": 8}))
    return paths


READERS = {
    "npz": io.read_npz,
    "npy": io.read_npy,
    "tsv": io.read_tsv,
    "json": io.read_json,
    "safetensors": io.verify,
}


def _target(paths, fmt):
    p = paths[fmt]
    return p / "sae_weights.safetensors" if fmt == "safetensors" else p


@pytest.mark.parametrize("fmt", sorted(READERS))
def test_round_trip_and_sidecar_names_producer(tmp_path, fmt):
    paths = _write_each(tmp_path)
    READERS[fmt](paths[fmt])  # intact artifacts read fine
    if fmt == "npz":
        got = io.read_npz(paths["npz"])
        assert sp.issparse(got["s"]) and got["s"].shape == (20, 10)


@pytest.mark.parametrize("fmt", sorted(READERS))
@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_artifact_is_refused_with_file_and_rule(tmp_path, fmt, damage):
    paths = _write_each(tmp_path)
    target = _target(paths, fmt)
    (_truncate if damage == "truncate" else _flip_byte)(target)
    with pytest.raises(CorruptArtifactError) as err:
        READERS[fmt](paths[fmt])
    msg = str(err.value)
    assert str(target) in msg
    assert f"rule_{fmt if fmt != 'safetensors' else 'sae'}" in msg
    assert "--forcerun" in msg
    # a flipped byte keeps the size: only the checksum tells
    assert (
        "is truncated or resized" if damage == "truncate" else "is altered (checksum mismatch)"
    ) in msg


def test_missing_sidecar_is_refused(tmp_path):
    paths = _write_each(tmp_path)
    io.sidecar(paths["npy"]).unlink()
    with pytest.raises(CorruptArtifactError, match="checksum"):
        io.read_npy(paths["npy"])


def test_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out.npz"
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            np.savez(tmp, x=np.ones(3))
            raise RuntimeError("killed mid-job")
    assert not target.exists()
    assert os.listdir(tmp_path) == []


def test_failed_dir_write_leaves_previous_output_untouched(tmp_path):
    target = tmp_path / "sae"
    with io.atomic_dir(target, producer="r") as tmp:
        (tmp / "a.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with io.atomic_dir(target, producer="r") as tmp:
            (tmp / "a.txt").write_text("new")
            raise RuntimeError("boom")
    assert (target / "a.txt").read_text() == "old"
    io.verify(target)
    assert sorted(os.listdir(tmp_path)) == ["sae"]


def test_transaction_defers_all_outputs_to_the_end(tmp_path):
    a, b = tmp_path / "a.tsv", tmp_path / "b.npy"
    with io.transaction():
        io.write_tsv(a, pd.DataFrame({"x": [1, 2]}))
        assert not a.exists()  # not visible before the job ends...
        assert list(io.read_tsv(a)["x"]) == [1, 2]  # ...but readable by the job itself
        io.write_npy(b, np.arange(3))
        assert not b.exists()
    assert a.exists() and b.exists()
    io.verify(a)
    io.verify(b)


def test_transaction_killed_midway_leaves_no_output(tmp_path):
    a = tmp_path / "a.tsv"
    with pytest.raises(SystemExit):
        with io.transaction():
            io.write_tsv(a, pd.DataFrame({"x": [1]}))
            with io.atomic_dir(tmp_path / "d") as d:
                (d / "w.bin").write_bytes(b"123")
            raise SystemExit(1)
    assert os.listdir(tmp_path) == []


def test_transaction_written_twice_keeps_last_and_no_temp(tmp_path):
    a = tmp_path / "a.npy"
    with io.transaction():
        io.write_npy(a, np.zeros(2))
        io.write_npy(a, np.ones(2))
    assert sorted(os.listdir(tmp_path)) == ["a.npy", "a.npy.sha256"]
    assert io.read_npy(a).tolist() == [1.0, 1.0]


def test_outputs_get_the_umask_mode_not_mkstemp_0600(tmp_path):
    old = os.umask(0o022)
    try:
        io.write_npy(tmp_path / "x.npy", np.zeros(2))
        with io.atomic_dir(tmp_path / "d") as d:
            (d / "f").write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "x.npy").stat().st_mode & 0o777 == 0o644
    assert io.sidecar(tmp_path / "x.npy").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755


def _mark_incomplete(workdir, rel):
    from base64 import urlsafe_b64encode

    root = workdir / ".snakemake" / "incomplete"
    root.mkdir(parents=True, exist_ok=True)
    (root / urlsafe_b64encode(rel.encode()).decode()).write_text("{}")


def test_settle_incomplete_keeps_verified_outputs_and_removes_the_rest(tmp_path):
    """A SIGKILL between a job's last rename and Snakemake's unmarking must not force a
    --rerun-incomplete: verified outputs stay, unverifiable ones go (and get rebuilt)."""
    from concept_geometry.resume import recover_killed_run

    io.write_tsv(tmp_path / "results/done.tsv", pd.DataFrame({"x": [1]}))
    half = tmp_path / "results/half.tsv"
    half.write_text("x\n1\n")  # no sidecar: not written to the end by concept_geometry.io
    bad = tmp_path / "results/bad.npy"
    io.write_npy(bad, np.arange(4))
    _flip_byte(bad)
    for rel in ["results/done.tsv", "results/half.tsv", "results/bad.npy", "results/gone.tsv"]:
        _mark_incomplete(tmp_path, rel)
    rec = recover_killed_run(tmp_path)
    assert rec.kept == ["results/done.tsv"]
    assert sorted(rec.removed) == ["results/bad.npy", "results/half.tsv"]
    assert (tmp_path / "results/done.tsv").exists()
    assert not half.exists() and not bad.exists() and not io.sidecar(bad).exists()
    assert list((tmp_path / ".snakemake/incomplete").iterdir()) == []


def test_recovery_clears_a_stale_lock(tmp_path):
    from concept_geometry.resume import recover_killed_run

    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("x")
    assert recover_killed_run(tmp_path).locks == [locks / "0.input.lock"]
    assert list(locks.iterdir()) == []


def test_orphan_temp_files_of_a_killed_job_are_removed(tmp_path):
    from concept_geometry.resume import recover_killed_run

    (tmp_path / "results/x").mkdir(parents=True)
    orphan = tmp_path / "results/x/.firings.tmp-ab12.npz"
    orphan.write_bytes(b"half")
    orphan_dir = tmp_path / "results/x/.layer_1.tmp-zz"
    orphan_dir.mkdir()
    keep = tmp_path / "results/x/firings.npz"
    keep.write_bytes(b"done")
    assert sorted(recover_killed_run(tmp_path).temps) == sorted([orphan, orphan_dir])
    assert os.listdir(tmp_path / "results/x") == ["firings.npz"]


_KILL_BETWEEN_RENAMES = """
import os, signal, sys
import numpy as np, pandas as pd
from concept_geometry import io

calls = []
real_commit = io.commit._commit
def commit_then_die(tmp, final, meta):
    if calls:  # the second rename of the job: never happens
        os.kill(os.getpid(), signal.SIGKILL)
    calls.append(final)
    real_commit(tmp, final, meta)
io.commit._commit = commit_then_die
# no chdir: under mutmut, its config is read from the cwd
x = os.path.join(sys.argv[1], "results", "x")
with io.transaction():
    io.write_npy(os.path.join(x, "counts.npy"), np.arange(5))
    io.write_tsv(os.path.join(x, "meta.tsv"), pd.DataFrame({"k": [7]}))
    with io.atomic_dir(os.path.join(x, "sae")) as d:
        (d / "w.bin").write_bytes(b"weights")
"""


def test_job_killed_between_renames_is_rolled_forward_not_recomputed(tmp_path):
    """SIGKILL after a finished job renamed its first output but not the others: the next
    run finishes the renames from the commit journal, leaving the first output untouched."""
    import signal
    import subprocess
    import sys

    from concept_geometry.resume import recover_killed_run

    src = str(Path(io.__file__).resolve().parents[2])  # the package this test imports
    proc = subprocess.run(
        [sys.executable, "-c", _KILL_BETWEEN_RENAMES, str(tmp_path)],
        env={**os.environ, "PYTHONPATH": src},
        capture_output=True,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    x = tmp_path / "results/x"
    assert (x / "counts.npy").exists() and not (x / "meta.tsv").exists()  # the torn state
    first_mtime = (x / "counts.npy").stat().st_mtime_ns
    for rel in ["results/x/counts.npy", "results/x/meta.tsv", "results/x/sae"]:
        _mark_incomplete(tmp_path, rel)

    rec = recover_killed_run(tmp_path)
    assert sorted(p.name for p in rec.rolled_forward) == ["meta.tsv", "sae"]
    assert sorted(rec.kept) == ["results/x/counts.npy", "results/x/meta.tsv", "results/x/sae"]
    assert rec.removed == [] and rec.temps == []
    assert io.read_npy(x / "counts.npy").tolist() == [0, 1, 2, 3, 4]
    assert io.read_tsv(x / "meta.tsv")["k"].tolist() == [7]
    io.verify(x / "sae")
    assert (x / "sae/w.bin").read_bytes() == b"weights"
    assert (x / "counts.npy").stat().st_mtime_ns == first_mtime
    assert sorted(os.listdir(x)) == [
        "counts.npy",
        "counts.npy.sha256",
        "meta.tsv",
        "meta.tsv.sha256",
        "sae",
    ]


def test_job_killed_before_its_journal_leaves_only_orphans(tmp_path):
    """Killed before the commit began (no journal): nothing is renamed, temps are orphans."""
    from concept_geometry.resume import recover_killed_run

    x = tmp_path / "results/x"
    x.mkdir(parents=True)
    (x / ".counts.tmp-ab12.npy").write_bytes(b"complete but never committed")
    rec = recover_killed_run(tmp_path)
    assert rec.rolled_forward == [] and rec.temps == [x / ".counts.tmp-ab12.npy"]
    assert os.listdir(x) == []


# --- streamed sparse rows (issue 9: memory does not grow with the corpus) -------------------


def _random_firings(n_rows, n_cols, density, seed):
    m = sp.random(n_rows, n_cols, density=density, random_state=seed, format="csr")
    m.data[:] = 1
    return m.astype(np.uint8)


def test_sparse_rows_writer_streams_the_write_npz_format(tmp_path):
    m = _random_firings(500, 64, 0.1, 0)
    m[10:20] = 0  # empty rows
    m.eliminate_zeros()
    with io.SparseRowsWriter(tmp_path / "f.npz", "firings", 64) as w:
        for start in range(0, 500, 37):
            w.append(m[start : start + 37])
        w.append(m[:0])  # an empty block is fine
        assert (w.n_rows, w.nnz) == (500, m.nnz)
        w.close(doc_id=np.arange(500) // 5, split=np.array(["histogram", "heldout"] * 250))
    assert sorted(os.listdir(tmp_path)) == ["f.npz", "f.npz.sha256"]  # no temp left
    got = io.read_npz(tmp_path / "f.npz")  # the reader of write_npz's format
    assert (got["firings"] != m).nnz == 0 and got["firings"].dtype == np.uint8
    assert got["doc_id"].tolist() == (np.arange(500) // 5).tolist()
    small = io.read_npz(tmp_path / "f.npz", keys=["split"])
    assert list(small) == ["split"] and small["split"][:2].tolist() == ["histogram", "heldout"]


def test_iter_sparse_rows_yields_the_masked_rows_in_order(tmp_path):
    m = _random_firings(300, 40, 0.2, 1)
    io.write_npz(tmp_path / "f.npz", firings=m)  # written whole, read streamed
    mask = np.random.default_rng(2).random(300) < 0.4
    mask[:64] = False  # a whole block without wanted rows is skipped
    blocks = list(io.iter_sparse_rows(tmp_path / "f.npz", "firings", mask, block_rows=32))
    assert all(b.shape[0] <= 32 for _, b in blocks)
    rows = np.concatenate([r for r, _ in blocks])
    np.testing.assert_array_equal(rows, np.flatnonzero(mask))
    assert (sp.vstack([b for _, b in blocks]) != m[mask]).nnz == 0
    everything = list(io.iter_sparse_rows(tmp_path / "f.npz", "firings", block_rows=1000))
    assert len(everything) == 1 and (everything[0][1] != m).nnz == 0


def test_iter_sparse_rows_refuses_a_damaged_file(tmp_path):
    io.write_npz(tmp_path / "f.npz", firings=_random_firings(50, 8, 0.3, 3))
    _flip_byte(tmp_path / "f.npz", 200)
    with pytest.raises(CorruptArtifactError, match="f.npz"):
        next(io.iter_sparse_rows(tmp_path / "f.npz", "firings"))


def test_sparse_rows_writer_abort_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with io.SparseRowsWriter(tmp_path / "f.npz", "firings", 8) as w:
            w.append(_random_firings(10, 8, 0.5, 4))
            raise RuntimeError("job failed")
    assert os.listdir(tmp_path) == []


def _peak_bytes(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("n_blocks", [10, 100])
def test_streaming_memory_does_not_grow_with_the_number_of_rows(tmp_path, n_blocks):
    """Writing then streaming 10x more rows costs no more memory: the peak is about one block
    (~100 kB here), far below the matrix (10 or 100 blocks of 256 x 2048 at 20% density)."""
    block = _random_firings(256, 2048, 0.2, 5)
    path = tmp_path / f"f{n_blocks}.npz"

    def write():
        with io.SparseRowsWriter(path, "firings", 2048) as w:
            for _ in range(n_blocks):
                w.append(block)
            w.close(doc_id=np.zeros(256 * n_blocks, np.int64))

    def stream():
        total = 0
        for _rows, b in io.iter_sparse_rows(path, "firings", block_rows=256):
            total += b.nnz
        assert total == block.nnz * n_blocks

    matrix_bytes = block.nnz * 5 * n_blocks  # uint8 data + int32 indices
    # One block (as CSR, a few copies) and buffers of about 1 MiB, plus the per-row arrays
    # (indptr, doc_id: 8 bytes a row), which do grow but are tiny next to the firings.
    bound = 3 * 2**20 + 8 * block.nnz + 64 * 256 * n_blocks
    for fn in (write, stream):
        peak = _peak_bytes(fn)
        assert peak < bound, (fn.__name__, peak, bound, matrix_bytes)
    if n_blocks == 100:  # holding the matrix would break the bound by far
        assert matrix_bytes > 5 * bound


# --- provenance (issue 13 item 3): an intact artifact of another layer is refused ----------

LAYER_1 = {"model": "m", "corpus": "c", "layer": "1", "sae": "trained:features", "config": "aa"}
LAYER_3 = {**LAYER_1, "layer": "3", "config": "bb"}


@pytest.mark.parametrize("fmt", ["npz", "npy", "json", "tsv", "sparse", "dir"])
def test_artifact_copied_over_another_layer_is_refused_naming_both(tmp_path, fmt):
    """Copy layer 1's artifact with its sidecar over layer 3's: intact, but not layer 3's."""
    import shutil

    src, dst = tmp_path / f"layer_1/a.{fmt}", tmp_path / f"layer_3/a.{fmt}"
    for path, ident in ((src, LAYER_1), (dst, LAYER_3)):
        if fmt == "npz":
            io.write_npz(path, identity=ident, x=np.arange(3))
        elif fmt == "npy":
            io.write_npy(path, np.arange(3), identity=ident)
        elif fmt == "json":
            io.write_json(path, {"x": 1}, identity=ident)
        elif fmt == "tsv":
            io.write_tsv(path, pd.DataFrame({"x": [1]}), identity=ident)
        elif fmt == "sparse":
            with io.SparseRowsWriter(path, "firings", 4) as w:
                w.append(sp.csr_matrix(np.eye(4, dtype=np.uint8)))
                w.close(identity=ident)
        else:
            with io.atomic_dir(path, identity=ident) as d:
                (d / "w.bin").write_bytes(b"w")
    io.verify(dst, expect=LAYER_3)
    if fmt == "dir":
        shutil.rmtree(dst)
        shutil.copytree(src, dst)
    else:
        shutil.copy(src, dst)
        shutil.copy(io.sidecar(src), io.sidecar(dst))
    io.verify(dst)  # intact: the checksum alone cannot tell
    with pytest.raises(CorruptArtifactError) as err:
        io.verify(dst, expect=LAYER_3)
    msg = str(err.value)
    assert "\n" not in msg and str(dst) in msg
    assert "layer=1" in msg and "layer=3" in msg and "config=aa" in msg and "config=bb" in msg
    assert "differs in layer, config" in msg


def test_readers_check_identity_and_unstamped_files_are_read(tmp_path):
    io.write_npy(tmp_path / "a.npy", np.arange(3), identity=LAYER_1)
    assert io.read_npy(tmp_path / "a.npy", expect=LAYER_1).tolist() == [0, 1, 2]
    with pytest.raises(CorruptArtifactError, match="layer=3"):
        io.read_npy(tmp_path / "a.npy", expect=LAYER_3)
    io.write_npz(tmp_path / "b.npz", identity=LAYER_1, x=np.arange(2))
    with pytest.raises(CorruptArtifactError, match="layer=3"):
        io.read_npz(tmp_path / "b.npz", keys=["x"], expect=LAYER_3)
    io.write_npy(tmp_path / "hand.npy", np.arange(2))  # no identity: placed by hand
    assert io.read_npy(tmp_path / "hand.npy", expect=LAYER_3).tolist() == [0, 1]


@pytest.mark.parametrize("content", ["", "{not json", "[]", '{"size": 3}'])
def test_empty_or_garbled_sidecar_is_refused_as_unverifiable(tmp_path, content):
    """Issue 13 §7: an empty `.sha256` sidecar raised JSONDecodeError (a traceback, at parse
    time too via the resume check)."""
    paths = _write_each(tmp_path)
    io.sidecar(paths["npy"]).write_text(content)
    with pytest.raises(CorruptArtifactError) as err:
        io.read_npy(paths["npy"])
    assert "unverifiable" in str(err.value) and str(paths["npy"]) in str(err.value)
    assert "is empty or corrupt" in str(err.value)


def test_wrong_identity_message_lists_each_key_and_names_the_producing_rule(tmp_path):
    path = tmp_path / "a.npy"
    io.write_npy(
        path, np.arange(3), producer="features_extract", identity={"layer": 1, "model": "m"}
    )
    with pytest.raises(CorruptArtifactError) as err:
        io.read_npy(path, expect={"layer": 3, "model": "m", "sae": "s"})
    msg = str(err.value)
    assert (
        "it records layer=1, model=m, sae=(none), and this job expects layer=3, model=m, sae=s"
        in msg
    )
    assert "(differs in layer, sae)" in msg
    assert "`snakemake --cores all --forcerun features_extract`" in msg


def test_missing_checksum_file_or_manifest_is_named(tmp_path):
    io.write_tsv(tmp_path / "t.tsv", pd.DataFrame({"x": [1]}), producer="r")
    io.sidecar(tmp_path / "t.tsv").unlink()
    with pytest.raises(CorruptArtifactError) as err:
        io.read_tsv(tmp_path / "t.tsv")
    assert str(err.value).startswith(
        f"Cached artifact {tmp_path / 't.tsv'} is missing its checksum "
        f"file t.tsv.sha256; it is made by rule `unknown`."
    )
    with io.atomic_dir(tmp_path / "d", producer="r") as d:
        (d / "w.bin").write_bytes(b"w")
    (tmp_path / "d" / io.MANIFEST).unlink()
    with pytest.raises(
        CorruptArtifactError, match=f"is missing its checksum manifest {io.MANIFEST}"
    ):
        io.verify(tmp_path / "d")


def test_read_tsv_checks_the_identity(tmp_path):
    io.write_tsv(tmp_path / "t.tsv", pd.DataFrame({"x": [1]}), identity={"layer": 1})
    with pytest.raises(CorruptArtifactError, match="differs in layer"):
        io.read_tsv(tmp_path / "t.tsv", expect={"layer": 2})


def test_read_npz_returns_sparse_groups_as_one_matrix(tmp_path):
    m = sp.csr_matrix(np.array([[0, 2], [3, 0]]))
    io.write_npz(tmp_path / "a.npz", x=np.arange(3), m=m)
    out = io.read_npz(tmp_path / "a.npz")
    assert sorted(out) == ["m", "x"]
    assert out["m"].toarray().tolist() == [[0, 2], [3, 0]]


def test_sparse_rows_writer_makes_missing_folders_and_refuses_a_wrong_width(tmp_path):
    path = tmp_path / "a" / "b" / "f.npz"
    with io.SparseRowsWriter(path, "f", 3) as w:
        with pytest.raises(ValueError, match="block has 2 columns, expected 3"):
            w.append(np.ones((1, 2)))
        w.append(np.eye(3))
        w.close()
    assert io.read_npz(path)["f"].toarray().tolist() == np.eye(3).tolist()


def test_read_npz_of_missing_keys_names_the_file_and_the_arrays(tmp_path):
    io.write_npz(tmp_path / "a.npz", x=np.arange(3), w=np.ones(2))
    assert io.read_npz(tmp_path / "a.npz", keys=["w"])["w"].tolist() == [1.0, 1.0]
    with pytest.raises(CorruptArtifactError) as err:
        io.read_npz(tmp_path / "a.npz", keys=["x", "y", "z"])
    msg = str(err.value)
    assert f"{tmp_path / 'a.npz'} lacks the arrays ['y', 'z']" in msg and "re-run" in msg


def test_remove_path_removes_a_file_or_a_tree_and_a_missing_path_is_fine(tmp_path):
    (tmp_path / "f").write_text("x")
    (tmp_path / "d/e").mkdir(parents=True)
    (tmp_path / "d/e/g").write_text("y")
    for name in ("f", "d", "missing"):
        io.remove_path(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_unwritable_output_folder_is_refused_naming_it(tmp_path, monkeypatch):
    """Root writes through permission bits, so the read-only mount is played by os.access;
    a folder that does not exist yet is fine (it will be created)."""
    from concept_geometry.errors import ConceptGeometryError

    ro = tmp_path / "ro"
    ro.mkdir()
    io.check_writable([tmp_path, str(ro), tmp_path / "later"])  # all writable or missing
    monkeypatch.setattr(io.commit.os, "access", lambda path, mode: False)
    io.check_writable([tmp_path / "later"])
    with pytest.raises(ConceptGeometryError) as err:
        io.check_writable([str(tmp_path / "later"), str(ro)])
    assert f"The output folder {ro.resolve()} is not writable" in str(err.value)


class _Killed(BaseException):
    """Plays SIGKILL in-process: no handler of the code under test catches it."""


def test_in_process_kill_between_renames_is_rolled_forward_from_the_journal(tmp_path, monkeypatch):
    """The same torn commit as above, in this process: the journal written before the first
    rename names every pending output, and recovery renames the two that were left."""
    from concept_geometry.resume import recover_killed_run

    calls = []
    real_commit = io.commit._commit

    def commit_then_die(tmp, final, meta):
        if calls:
            raise _Killed
        calls.append(final)
        real_commit(tmp, final, meta)

    monkeypatch.setattr(io.commit, "_commit", commit_then_die)
    x = tmp_path / "results/x"
    with pytest.raises(_Killed):
        with io.transaction():
            io.write_npy(x / "a.npy", np.arange(3))
            io.write_json(x / "b.json", {"k": 1})
            io.write_json(x / "c.json", [2])
    monkeypatch.setattr(io.commit, "_commit", real_commit)
    journals = list(x.glob(f".*{io.JOURNAL_MARK}*.json"))
    assert len(journals) == 1
    assert [e["final"] for e in json.loads(journals[0].read_text())] == [
        str((x / n).resolve()) for n in ("a.npy", "b.json", "c.json")
    ]
    rec = recover_killed_run(tmp_path)
    assert sorted(p.name for p in rec.rolled_forward) == ["b.json", "c.json"]
    assert io.read_npy(x / "a.npy").tolist() == [0, 1, 2]
    assert io.read_json(x / "b.json") == {"k": 1} and io.read_json(x / "c.json") == [2]
    assert sorted(os.listdir(x)) == [
        "a.npy",
        "a.npy.sha256",
        "b.json",
        "b.json.sha256",
        "c.json",
        "c.json.sha256",
    ]


def test_read_npy_memory_maps_read_only_on_request(tmp_path):
    io.write_npy(tmp_path / "a.npy", np.arange(6.0))
    m = io.read_npy(tmp_path / "a.npy", mmap=True)
    assert isinstance(m, np.memmap) and m.tolist() == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError):
        m[0] = 9.0
    assert not isinstance(io.read_npy(tmp_path / "a.npy"), np.memmap)


def test_a_file_missing_from_a_folder_artifact_is_named(tmp_path):
    with io.atomic_dir(tmp_path / "d", producer="train_sae") as d:
        (d / "w.bin").write_bytes(b"w")
        (d / "cfg.json").write_text("{}")
    (tmp_path / "d/w.bin").unlink()
    with pytest.raises(CorruptArtifactError) as err:
        io.verify(tmp_path / "d")
    assert (
        f"Cached artifact {tmp_path / 'd/w.bin'} is missing; it is made by rule `train_sae`"
        in str(err.value)
    )


def test_wrong_identity_of_a_folder_without_producer_names_an_unknown_rule(tmp_path):
    """A manifest placed by hand may record an identity but no producer: the advice then
    says `--forcerun unknown`, never `None`."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / io.MANIFEST).write_text(json.dumps({"files": {}, "identity": {"layer": "3"}}))
    with pytest.raises(CorruptArtifactError) as err:
        io.verify(tmp_path / "d", expect={"layer": 4})
    assert "`snakemake --cores all --forcerun unknown`" in str(err.value)


def test_a_short_read_says_how_many_bytes_were_expected_and_got():
    import io as stdio

    with pytest.raises(EOFError, match="expected 5 bytes, got 3"):
        io.sparse._read_exact(stdio.BytesIO(b"abc"), 5)
    assert io.sparse._read_exact(stdio.BytesIO(b"abcdef"), 4) == b"abcd"


def test_the_producer_is_the_one_given_else_the_rule_running_else_unknown(tmp_path, monkeypatch):
    monkeypatch.delenv(io.RULE_ENV, raising=False)
    io.write_json(tmp_path / "a.json", 1)
    monkeypatch.setenv(io.RULE_ENV, "galaxy_layer")
    io.write_json(tmp_path / "b.json", 1)
    io.write_json(tmp_path / "c.json", 1, producer="explicit")
    assert [
        json.loads(io.sidecar(tmp_path / f"{n}.json").read_text())["producer"] for n in "abc"
    ] == ["unknown", "galaxy_layer", "explicit"]


@pytest.mark.parametrize("compressed, method", [(True, "deflated"), (False, "stored")])
def test_write_npz_compresses_only_when_asked(tmp_path, compressed, method):
    import zipfile

    io.write_npz(tmp_path / "a.npz", compressed=compressed, x=np.zeros(1000))
    with zipfile.ZipFile(tmp_path / "a.npz") as zf:
        kinds = {info.compress_type for info in zf.infolist()}
    assert kinds == {zipfile.ZIP_DEFLATED if method == "deflated" else zipfile.ZIP_STORED}
    assert io.read_npz(tmp_path / "a.npz")["x"].tolist() == [0.0] * 1000


def test_sparse_rows_writer_with_no_rows_writes_an_empty_matrix(tmp_path):
    with io.SparseRowsWriter(tmp_path / "f.npz", "firings", 5) as w:
        w.close(doc_id=np.zeros(0, np.int64))
    got = io.read_npz(tmp_path / "f.npz")
    assert got["firings"].shape == (0, 5) and got["firings"].nnz == 0
    assert got["firings"].indptr.tolist() == [0] and got["doc_id"].shape == (0,)


def test_a_missing_or_unreadable_journal_rolls_nothing_forward(tmp_path):
    assert io.roll_forward(tmp_path / f".a{io.JOURNAL_MARK}1.json") == []  # gone already
    garbled = tmp_path / f".b{io.JOURNAL_MARK}2.json"
    garbled.write_text("{half")
    assert io.roll_forward(garbled) == [] and not garbled.exists()


def test_a_garbled_sidecar_names_the_file_and_an_unknown_rule(tmp_path):
    io.write_json(tmp_path / "a.json", [1], producer="p")
    io.sidecar(tmp_path / "a.json").write_text("{trunc")
    with pytest.raises(CorruptArtifactError) as err:
        io.read_json(tmp_path / "a.json")
    msg = str(err.value)
    assert "unverifiable: its checksum file a.json.sha256 is empty or corrupt" in msg
    assert "it is made by rule `unknown`" in msg


def test_tsv_round_trip_adds_no_index_column(tmp_path):
    io.write_tsv(tmp_path / "t.tsv", pd.DataFrame({"x": [3, 4], "y": ["a", "b"]}))
    assert (tmp_path / "t.tsv").read_text() == "x\ty\n3\ta\n4\tb\n"
    assert io.read_tsv(tmp_path / "t.tsv").columns.tolist() == ["x", "y"]


def test_read_npz_refuses_pickled_objects(tmp_path):
    """An npz holding an object array (pickled) is never unpickled, even with a valid sidecar."""
    with io.atomic_path(tmp_path / "o.npz") as tmp:
        np.savez(tmp, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        io.read_npz(tmp_path / "o.npz")


def test_iter_sparse_rows_names_a_row_mask_of_the_wrong_length(tmp_path):
    io.write_npz(tmp_path / "f.npz", m=sp.csr_matrix(np.eye(5, dtype=np.uint8)))
    with pytest.raises(ValueError, match="row mask of length 3 for 5 rows"):
        list(io.iter_sparse_rows(tmp_path / "f.npz", "m", rows=np.ones(3, bool)))


def test_json_is_written_with_sorted_keys_and_two_space_indent(tmp_path):
    """Byte-stable JSON (the same object always gives the same checksum)."""
    io.write_json(tmp_path / "a.json", {"b": 1, "a": [1]})
    assert (tmp_path / "a.json").read_text() == '{\n  "a": [\n    1\n  ],\n  "b": 1\n}\n'


def test_sparse_rows_writer_deflates_its_members(tmp_path):
    import zipfile

    with io.SparseRowsWriter(tmp_path / "f.npz", "m", 4) as w:
        w.append(sp.csr_matrix(np.eye(4, dtype=np.uint8)))
        w.close()
    with zipfile.ZipFile(tmp_path / "f.npz") as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}


def test_an_unstamped_file_warns_through_the_package_logger(tmp_path, caplog):
    """A file without a recorded identity, read with an expected one, logs one warning naming
    it on the `concept_geometry` logger hierarchy: silencing that logger silences it."""
    import logging

    io.write_npy(tmp_path / "hand.npy", np.arange(2))  # no identity: placed by hand
    with caplog.at_level(logging.WARNING):
        io.verify(tmp_path / "hand.npy", expect={"layer": 3})
    (rec,) = caplog.records
    assert rec.name.startswith("concept_geometry.") and rec.levelno == logging.WARNING
    assert rec.getMessage().startswith(f"{tmp_path / 'hand.npy'} records no identity")
    caplog.clear()
    caplog.set_level(logging.ERROR, logger="concept_geometry")
    io.verify(tmp_path / "hand.npy", expect={"layer": 3})
    assert caplog.records == []


def test_a_folder_without_manifest_names_an_unknown_rule(tmp_path):
    """With the manifest gone the producing rule is unknown: the advice says so, in the same
    words as for a file without its checksum file."""
    with io.atomic_dir(tmp_path / "d", producer="r") as d:
        (d / "w.bin").write_bytes(b"w")
    (tmp_path / "d" / io.MANIFEST).unlink()
    with pytest.raises(CorruptArtifactError) as err:
        io.verify(tmp_path / "d")
    msg = str(err.value)
    assert f"{io.MANIFEST}; it is made by rule `unknown`." in msg
    assert "`snakemake --cores all --forcerun unknown`" in msg


def test_json_writes_numpy_values_and_paths_as_plain_json(tmp_path):
    """numpy scalars become numbers, arrays lists, paths strings; anything else is refused."""
    obj = {
        "i": np.int64(7),
        "f": np.float32(0.5),
        "b": np.bool_(True),
        "a": np.array([[1, 2], [3, 4]], dtype=np.uint8),
        "p": Path("results/x.tsv"),
    }
    io.write_json(tmp_path / "a.json", obj)
    back = json.loads((tmp_path / "a.json").read_text())
    assert back == {"i": 7, "f": 0.5, "b": True, "a": [[1, 2], [3, 4]], "p": "results/x.tsv"}
    with pytest.raises(TypeError, match="not JSON serialisable"):
        io.write_json(tmp_path / "b.json", {"s": {1, 2}})
    assert not (tmp_path / "b.json").exists()


def test_the_unstamped_file_warning_in_full(tmp_path, caplog):
    """The whole warning: the file, why its provenance cannot be checked, and that it is not."""
    import logging

    io.write_npy(tmp_path / "hand.npy", np.arange(2))
    with caplog.at_level(logging.WARNING):
        io.verify(tmp_path / "hand.npy", expect={"layer": 3})
    assert caplog.records[0].getMessage() == (
        f"{tmp_path / 'hand.npy'} records no identity (not written by a rule of this workflow); "
        "its provenance is not checked"
    )


def test_checksum_file_is_written_through_a_dot_temp_beside_it(tmp_path, monkeypatch):
    """The checksum file is renamed into place from `.<name>.tmp-*` in its own folder: the
    pattern recovery looks for, so a write killed half-way leaves a temp it can clear."""
    sources = []
    real = os.replace

    def spy(src, dst):
        sources.append((Path(src), Path(dst)))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    io.write_npy(tmp_path / "a.npy", np.arange(3))
    side = [(s, d) for s, d in sources if d.name.endswith(io.SIDECAR_SUFFIX)]
    assert side, sources
    for src, dst in side:
        assert src.parent == dst.parent == tmp_path
        assert src.name.startswith(f".{dst.name}.tmp-"), src.name


def test_sparse_writer_keeps_its_parts_in_a_dot_temp_folder_beside_the_output(tmp_path):
    """While rows stream in, the parts live in `.<name>.tmp-*` next to the output (same
    filesystem for the final rename; found by recovery if the job is killed), and are gone
    after close."""
    path = tmp_path / "f.npz"
    with io.SparseRowsWriter(path, "firings", 4) as w:
        w.append(sp.csr_matrix(np.array([[1, 0, 2, 0]], dtype=np.uint8)))
        temps = [p for p in tmp_path.iterdir() if p.name.startswith(".f.npz.tmp-")]
        assert len(temps) == 1 and temps[0].is_dir()
        w.close()
    assert sorted(os.listdir(tmp_path)) == ["f.npz", "f.npz.sha256"]
