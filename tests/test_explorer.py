"""The per-layer feature explorer (issue 18): token display, per-category firing counts, and the
page itself, built by the workflow from planted features and opened from file:// in a real
headless Chromium."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import yaml
from conftest import run_snakemake
from test_lobes_workflow import CORPUS, LAYER, MODEL, write_features

from concept_geometry import io
from concept_geometry.explorer import (
    category_counts,
    crystals_explorer_page,
    decoder_cloud_2d,
    display_tokens,
    galaxy_explorer_page,
)
from concept_geometry.explorer.headless import Browser, find_chromium


def test_display_tokens_read_as_running_text():
    assert display_tokens(["def", "##s", "the"]) == [" def", "s", " the"]  # WordPiece
    assert display_tokens(["Ġdef", "s", "Ċ"]) == [" def", "s", "\n"]  # byte-level BPE
    assert display_tokens(["▁def", "s"]) == [" def", "s"]  # SentencePiece


def test_category_counts_by_hand():
    fire = sp.csr_matrix(np.array([[1, 0, 1], [1, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=np.uint8))
    cats, counts = category_counts(
        [(np.arange(2), fire[:2]), (np.arange(2, 4), fire[2:])],
        np.array(["prose", "code", "code", "prose"]),
        3,
    )
    assert cats == ["code", "prose"]
    assert counts.tolist() == [[1, 2], [1, 0], [1, 1]]  # (features, categories)


VOCAB = np.array(["the", "cat", "return", "x", "##y", "def", "zebra", "##s"])
SEARCH_FEATURE = 17  # the only feature whose contexts contain "zebras" (zebra + ##s)


def write_contexts(workdir, n_feat=60, n_top=3, window=2, seed=0):
    """top_contexts.npz with known snippets: feature 0 never fires (no contexts), feature
    17's first context reads `def zebras the cat`, the others use other words."""
    gen = np.random.default_rng(seed)
    snippet = gen.integers(0, 5, size=(n_feat, n_top, 2 * window + 1)).astype(np.int32)
    activation = np.sort(gen.uniform(1, 5, size=(n_feat, n_top)), axis=1)[:, ::-1].astype(
        np.float32
    )
    doc_id = gen.integers(0, 120, size=(n_feat, n_top))
    snippet[SEARCH_FEATURE, 0] = [5, 6, 7, 0, 1]
    activation[5, 2], doc_id[5, 2], snippet[5, 2] = np.nan, -1, -1  # feature 5: two contexts
    activation[0], doc_id[0], snippet[0] = np.nan, -1, -1
    base = workdir / f"results/features/{MODEL}/{CORPUS}/layer_{LAYER}"
    io.write_npz(
        base / "top_contexts.npz",
        activation=activation,
        doc_id=doc_id,
        position=np.where(doc_id >= 0, 3, -1),
        snippet=snippet,
        tokens=VOCAB,
        window=np.int64(window),
    )
    old = (base / "firings.npz").stat().st_mtime
    os.utime(base / "top_contexts.npz", (old, old))
    return activation, snippet


def chromium() -> str:
    """The browser binary; skips without one, except in .ci/run (which installs it)."""
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CONCEPT_GEOMETRY_REQUIRE_BROWSER"):
            raise AssertionError(
                "chromium not found; .ci/run installs it (apt-get install chromium)"
            )
        pytest.skip("chromium not installed (apt-get install chromium); .ci/run requires it")
    return binary


@pytest.mark.workflow
def test_layer_explorer_in_headless_chromium(tmp_path):
    binary = chromium()
    write_features(tmp_path)
    activation, snippet = write_contexts(tmp_path)
    cfg = {
        "stages": ["features", "lobes"],
        "features": {"model": {"name": MODEL}, "corpus": {"name": CORPUS}, "layers": [LAYER]},
        "lobes": {"measures": ["jaccard", "phi"], "ks": [2, 3], "figures": {"embedding": "pca"}},
    }
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    page = tmp_path / f"results/explorer/{MODEL}/{CORPUS}/layer_{LAYER}.html"
    run_snakemake(
        tmp_path,
        tmp_path / "tiny.yaml",
        str(page.relative_to(tmp_path)),
        "--allowed-rules",
        "lobes_cluster",
        "lobes_specialization",
        "lobes_embed",
        "lobes_explorer",
    )
    html = page.read_text()
    assert "http://" not in html and "https://" not in html and " src=" not in html  # offline
    io.verify(page)  # written through the checksummed writer

    with Browser(binary) as b:
        b.open(page.as_uri())
        assert b.eval("document.body.dataset.ready") == "1"
        assert b.console_errors == []
        # every one of the 60 features is mapped and drawn
        assert b.eval("window.explorer.nPoints") == 60
        assert b.eval("document.getElementById('map').dataset.drawn") == "60"
        # each colouring: 2 measures + geometric, 2 ks, 2 variants
        assert b.eval("document.getElementById('colouring').options.length") == 3 * 2 * 2

        # search a context substring spanning two WordPiece tokens
        b.eval(
            "(() => { const s = document.getElementById('search'); s.value = 'ZEBRAS';"
            " s.dispatchEvent(new Event('input')); })()"
        )
        assert b.eval("window.explorer.highlighted()") == [SEARCH_FEATURE]
        assert b.eval("document.querySelector('#hits .hit').dataset.feature") == str(SEARCH_FEATURE)
        b.eval("window.explorer.search('7')")  # by id
        assert b.eval("window.explorer.highlighted()") == [7]

        # click on a feature's point (one with no other point within 10 px): its card
        pos = b.eval("Array.from({length: 60}, (_, f) => window.explorer.pointPosition(f))")
        pos = np.array(pos)
        dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + np.eye(60) * 1e9
        f = int(next(i for i in range(1, 60) if dist[i].min() > 12 and i != 5))
        for target, n_ctx in [(f, 3), (5, 2) if dist[5].min() > 12 else (f, 3)]:
            b.click(*pos[target])
            assert b.eval("window.explorer.selected()") == target
            card = b.eval("document.getElementById('card').innerText")
            assert f"Feature {target}" in card
            marks = b.eval(
                "Array.from(document.querySelectorAll('#card .ctx mark')).map(m => m.textContent)"
            )
            want = [display_tokens(VOCAB)[snippet[target, j, 2]] for j in range(n_ctx)]
            assert marks == want
            acts = b.eval(
                "Array.from(document.querySelectorAll('#card .ctx .act'))"
                ".map(m => parseFloat(m.textContent))"
            )
            np.testing.assert_allclose(acts, activation[target, :n_ctx], atol=0.006)
        assert b.console_errors == []


def planted_cloud(n, d, seed):
    """Gaussian rows with standard deviations 10, 3, 1, 1, ... along a random rotation."""
    gen = np.random.default_rng(seed)
    basis = np.linalg.qr(gen.standard_normal((d, d)))[0]
    scales = np.ones(d)
    scales[:2] = [10.0, 3.0]
    return (gen.standard_normal((n, d)) * scales) @ basis.T, basis


def test_decoder_cloud_2d_projects_on_the_two_largest_axes():
    x, basis = planted_cloud(3000, 12, seed=0)
    idx, xy = decoder_cloud_2d(x, 1000, seed=1)
    assert idx.shape == (1000,) and len(set(idx.tolist())) == 1000 and xy.shape == (1000, 2)
    truth = (x[idx] - x[idx].mean(0)) @ basis[:, :2]  # the planted first two axes
    for j in range(2):
        assert abs(np.corrcoef(xy[:, j], truth[:, j])[0, 1]) > 0.98
    np.testing.assert_allclose(xy.std(0), [10, 3], rtol=0.1)
    idx_all, _ = decoder_cloud_2d(x, 5000, seed=1)
    assert idx_all.tolist() == list(range(3000))


def test_galaxy_page_in_headless_chromium(tmp_path):
    binary = chromium()
    layers = ["0", "4"]
    decoders = {
        layer: planted_cloud(500 + 100 * i, 16, seed=i)[0] for i, layer in enumerate(layers)
    }
    ranks = np.arange(1, 17)
    spectrum = pd.DataFrame(
        [(int(layer), r, 10.0 / r, 1.0) for layer in layers for r in ranks],
        columns=["layer", "rank", "eigenvalue", "null_eigenvalue"],
    )
    galaxy = pd.DataFrame(
        {
            "layer": [0, 4],
            "slope": [-1.0, -0.5],
            "slope_ci_low": [-1.1, -0.6],
            "slope_ci_high": [-0.9, -0.4],
            "null_slope": [0.0, 0.0],
            "log_volume": [1.0, 2.0],
            "n_features": [500, 600],
        }
    )
    page = tmp_path / "galaxy.html"
    page.write_text(
        galaxy_explorer_page(
            decoders=decoders,
            spectrum=spectrum,
            galaxy=galaxy,
            fit_range=[2, 10],
            max_points=550,
            seed=0,
            title="t",
        )
    )
    html = page.read_text()
    assert "http://" not in html and "https://" not in html and " src=" not in html
    with Browser(binary) as b:
        b.open(page.as_uri())
        assert b.eval("document.body.dataset.ready") == "1" and b.console_errors == []
        assert b.eval("window.galaxy.nLayers") == 2
        assert b.eval("document.getElementById('cloud').dataset.drawn") == "500"  # all of layer 0
        b.eval(
            "(() => { const s = document.getElementById('layer'); s.value = '1';"
            " s.dispatchEvent(new Event('input')); })()"
        )
        assert b.eval("window.galaxy.current()") == "4"
        assert b.eval("document.getElementById('cloud').dataset.drawn") == "550"  # subsampled 600
        assert b.eval("document.getElementById('spectrum').dataset.drawn") == "1"
        b.eval("document.getElementById('all').click()")
        assert b.eval("document.getElementById('spectrum').dataset.drawn") == "2"
        rows = b.eval("Array.from(document.querySelectorAll('#stats tr')).map(r => r.innerText)")
        assert len(rows) == 3 and rows[2].split("\t")[:2] == ["4", "-0.500"]
        assert b.console_errors == []


def test_crystals_page_in_headless_chromium(tmp_path):
    binary = chromium()
    gen = np.random.default_rng(0)
    n = 40  # pairs; the held-out ones are every third (both relations)
    relation = np.array(["capital", "plural"] * (n // 2))
    inputs = np.array([f"in{i}" for i in range(n)])
    outputs = np.array([f"out{i}" for i in range(n)])
    held = np.arange(0, n, 3)[::-1]  # out of order on purpose: the page must follow eval_index
    views = {
        "eval_index": held,
        "layer_label": "3",
        "coords_raw": gen.standard_normal((len(held), 2)),
        "coords_distractor_removed": gen.standard_normal((len(held), 2)),
        "coords_lda": np.linspace(0, 1, len(held))[:, None],
    }  # one LDA direction: a strip
    views["relation"] = relation
    # pairs.tsv: the used pairs (in order) are the rows views.npz indexes; an unused one between
    pairs = pd.DataFrame({"relation": relation, "input": inputs, "output": outputs, "used": True})
    pairs = pd.concat(
        [
            pairs.iloc[:5],
            pd.DataFrame(
                {"relation": ["capital"], "input": ["x"], "output": ["y"], "used": [False]}
            ),
            pairs.iloc[5:],
        ],
        ignore_index=True,
    )
    page = tmp_path / "crystals.html"
    page.write_text(crystals_explorer_page(views=views, title="t", pairs=pairs))
    assert len(page.read_bytes()) < 20_000 + 1000 * n  # words and 2-D points only
    with Browser(binary) as b:
        b.open(page.as_uri())
        assert b.eval("document.body.dataset.ready") == "1" and b.console_errors == []
        assert b.eval("window.crystals.spaces") == ["raw", "distractor_removed", "lda"]
        assert b.eval("document.getElementById('map').dataset.drawn") == str(len(held))
        b.eval("window.crystals.show('lda')")
        # hover the point of the 6th held-out pair: its own words and relation
        pos = np.array(
            b.eval(
                f"Array.from({{length: {len(held)}}}, (_, i) => window.crystals.pointPosition(i))"
            )
        )
        dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + np.eye(len(held)) * 1e9
        i = int(next(j for j in range(len(held)) if dist[j].min() > 9))
        b.send(
            "Input.dispatchMouseEvent", session=True, type="mouseMoved", x=pos[i][0], y=pos[i][1]
        )
        k = held[i]
        assert b.eval("window.crystals.tip()") == f"in{k} → out{k} ({relation[k]})"
        # the strip puts each relation on its own row (y = relation code)
        rows = {relation[held[j]]: pos[j][1] for j in range(len(held))}
        assert len(set(rows.values())) == 2
        b.eval("document.querySelector('#legend div[data-r=\"0\"]').click()")  # hide `capital`
        assert b.eval("document.getElementById('map').dataset.drawn") == str(
            int((relation[held] == "plural").sum())
        )
        assert b.console_errors == []


def test_explorer_map_reuses_the_figure_map_only_when_it_holds_every_feature():
    from concept_geometry.explorer.layer import explorer_map
    from concept_geometry.lobes.plots import feature_cloud_2d

    decoder = np.random.default_rng(0).standard_normal((50, 6))
    planted = (np.arange(50), np.full((50, 2), 7.0))  # recognisable: not what PCA gives
    idx, xy = explorer_map(decoder, planted, "pca", 0, None)
    assert (xy == 7.0).all() and idx.tolist() == list(range(50))
    for figure, max_points in [((np.arange(20), np.zeros((20, 2))), None), (planted, 30)]:
        idx, xy = explorer_map(decoder, figure, "pca", 0, max_points)
        want_idx, want_xy = feature_cloud_2d(decoder, "pca", 0, max_points)
        assert idx.tolist() == want_idx.tolist() and len(idx) == (max_points or 50)
        np.testing.assert_allclose(xy, want_xy)
