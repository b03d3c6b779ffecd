"""Chunking edge cases: short documents, exact multiples of the chunk size, padding, BOS."""

import numpy as np

from concept_geometry.features.chunking import chunk_positions, content_mask


def test_short_documents_give_no_chunk():
    keep = np.zeros((2, 10), dtype=bool)
    keep[0, 1:4] = True  # 3 content tokens < chunk of 4
    rows, pos = chunk_positions(keep, 4)
    assert rows.shape == (0,) and pos.shape == (0, 4)


def test_exact_multiple_and_partial_tail():
    keep = np.zeros((3, 14), dtype=bool)
    keep[0, 1:9] = True  # BOS at 0 dropped, 8 content tokens = exactly 2 chunks of 4
    keep[1, 1:12] = True  # 11 tokens: 2 full chunks, 3-token tail dropped
    keep[2, 1:13] = True  # 12 tokens: 3 chunks
    rows, pos = chunk_positions(keep, 4)
    assert rows.tolist() == [0, 0, 1, 1, 2, 2, 2]
    assert pos[0].tolist() == [1, 2, 3, 4] and pos[1].tolist() == [5, 6, 7, 8]
    assert pos[3].tolist() == [5, 6, 7, 8]
    assert pos[6].tolist() == [9, 10, 11, 12]


def test_padding_and_special_tokens_never_in_chunks():
    attention = np.array([[1, 1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1]])
    special = np.array([[1, 0, 0, 0, 0, 1, 1, 1], [1, 0, 0, 0, 0, 0, 0, 0]])
    keep = content_mask(attention, special, drop_special=True)
    assert keep[0].tolist() == [False, True, True, True, True, False, False, False]
    rows, pos = chunk_positions(keep, 2)
    assert all(keep[r, p].all() for r, p in zip(rows, pos, strict=False))
    assert rows.tolist() == [0, 0, 1, 1, 1]
    # without dropping special tokens the BOS counts as text, padding still never does
    keep2 = content_mask(attention, special, drop_special=False)
    assert keep2[0].tolist() == [True] * 6 + [False, False]


def test_no_chunk_at_all_still_gives_int64_index_arrays_that_gather_nothing():
    """Every row shorter than a chunk: empty int64 arrays, usable as indices (a float array,
    even an empty one, is refused as an index), gathering a (0, chunk, d) block."""
    keep = np.zeros((2, 6), dtype=bool)
    keep[1, :3] = True
    rows, pos = chunk_positions(keep, 4)
    assert rows.dtype == np.int64 and pos.dtype == np.int64
    assert rows.shape == (0,) and pos.shape == (0, 4)
    assert np.zeros((2, 6, 5))[rows[:, None], pos].shape == (0, 4, 5)


def test_without_a_special_tokens_mask_only_padding_is_dropped():
    """A tokenizer that gives no special-tokens mask: every attended position is content,
    whether or not special tokens are to be dropped."""
    attention = np.array([[1, 1, 1, 0], [1, 0, 0, 0]])
    for drop in (True, False):
        keep = content_mask(attention, None, drop_special=drop)
        assert keep.dtype == bool
        assert keep.tolist() == [[True, True, True, False], [True, False, False, False]]
    # the default drops special tokens
    assert content_mask(attention, np.array([[1, 0, 0, 0], [0, 0, 0, 0]]))[0].tolist() == [
        False,
        True,
        True,
        False,
    ]


def test_a_zero_one_mask_of_any_dtype_chunks_as_its_boolean_mask():
    """An attention-style 0/1 mask given as floats or ints gives the chunks of the bool one."""
    keep = np.array([[0, 1, 1, 1, 1, 0], [1, 1, 0, 0, 0, 0]])
    want_rows, want_pos = chunk_positions(keep.astype(bool), 2)
    assert want_rows.tolist() == [0, 0, 1] and want_pos.tolist() == [[1, 2], [3, 4], [0, 1]]
    for dtype in (np.float32, np.int64):
        rows, pos = chunk_positions(keep.astype(dtype), 2)
        assert rows.tolist() == [0, 0, 1] and pos.tolist() == [[1, 2], [3, 4], [0, 1]]
