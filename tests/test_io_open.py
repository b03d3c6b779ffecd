"""An npz opened once is verified once (io.open_npz), and the gather helper io.concat_tsv."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from concept_geometry import io
from concept_geometry.errors import CorruptArtifactError
from concept_geometry.io import checksums


def _firings(tmp_path):
    dense = np.zeros((6, 4), dtype=np.uint8)
    dense[[0, 2, 5], [1, 3, 0]] = 1  # three firings, hand-placed
    io.write_npz(
        tmp_path / "f.npz",
        identity={"layer": 3},
        firings=sp.csr_matrix(dense),
        split=np.array(["histogram", "heldout"] * 3),
    )
    return tmp_path / "f.npz", dense


def test_open_npz_hashes_the_file_once_for_arrays_and_streamed_rows(tmp_path, monkeypatch):
    path, dense = _firings(tmp_path)
    hashed = []
    real = checksums.sha256_file
    monkeypatch.setattr(checksums, "sha256_file", lambda p: hashed.append(p) or real(p))
    npz = io.open_npz(path, expect={"layer": 3})
    split = npz.read(keys=["split"])["split"]
    blocks = list(npz.iter_sparse_rows("firings", split == "histogram", block_rows=2))
    assert hashed == [path]
    rows = np.concatenate([r for r, _ in blocks])
    assert rows.tolist() == [0, 2, 4]
    np.testing.assert_array_equal(sp.vstack([b for _, b in blocks]).toarray(), dense[[0, 2, 4]])


def test_open_npz_refuses_a_damaged_or_foreign_file_before_any_read(tmp_path):
    path, _ = _firings(tmp_path)
    with pytest.raises(CorruptArtifactError, match="layer=3"):
        io.open_npz(path, expect={"layer": 4})
    data = bytearray(path.read_bytes())
    data[-30] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptArtifactError, match="checksum mismatch"):
        io.open_npz(path)


def test_concat_tsv_keeps_file_order_then_selects_and_sorts(tmp_path):
    io.write_tsv(tmp_path / "b.tsv", pd.DataFrame({"layer": [5], "x": [1.5], "extra": ["q"]}))
    io.write_tsv(
        tmp_path / "a.tsv", pd.DataFrame({"layer": [2, 7], "x": [0.5, 2.5], "extra": ["r", "s"]})
    )
    paths = [tmp_path / "b.tsv", tmp_path / "a.tsv"]
    assert io.concat_tsv(paths)["layer"].tolist() == [5, 2, 7]
    got = io.concat_tsv(paths, columns=["x", "layer"], sort_by="layer")
    assert list(got.columns) == ["x", "layer"] and got["layer"].tolist() == [2, 5, 7]
    assert got["x"].tolist() == [0.5, 1.5, 2.5]
