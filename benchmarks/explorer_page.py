"""Size and load time of one layer's feature explorer, and of the galaxy page, at the paper's size.

A synthetic layer: 16,384 features mapped in 2-D, lobes for 5 measures + geometric at the
paper's ks (2, 3, 4, 8, 16, 32, 64) and both variants, 10 top contexts of +-8 tokens per
feature over a 30,000-token vocabulary, 20 document categories. Builds the page with the
package's own code, then opens it from file:// in headless Chromium (--no-sandbox) and reads
the time from navigation start to the first painted map. The galaxy page: 26 layers of 65,536
2-D points and 2,304-rank spectra (the projection itself is not timed). Not a test: numbers go
in README.md.

    PYTHONPATH=workflow python benchmarks/explorer_page.py [--features 16384] [--repeats 3]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from concept_geometry.explorer import layer_explorer_data, render_layer_explorer  # noqa: E402
from concept_geometry.explorer.galaxy import galaxy_explorer_data, render_galaxy_explorer  # noqa: E402
from concept_geometry.explorer.headless import Browser, find_chromium  # noqa: E402

MEASURES = ["jaccard", "simple_matching", "dice", "overlap", "phi", "geometric"]


def synthetic_layer(n_features, n_top, window, ks, n_vocab, n_categories, seed=0):
    gen = np.random.default_rng(seed)
    occurrences = gen.poisson(gen.gamma(0.5, 40, size=n_features))
    frames = []
    for variant in ("faithful", "corrected"):
        for measure in MEASURES:
            for k in ks:
                lobe = gen.integers(0, k, size=n_features)
                if variant == "corrected":
                    lobe[occurrences == 0] = -1
                frames.append(
                    pd.DataFrame(
                        {
                            "variant": variant,
                            "clustering": "dense",
                            "measure": measure,
                            "k": k,
                            "feature": np.arange(n_features),
                            "lobe": lobe,
                        }
                    )
                )
    cats = [f"category_{i}" for i in range(n_categories)]
    spec = pd.DataFrame(
        [
            (m, k, v, c, j, 1.0 / k, 100)
            for v in ("faithful", "corrected")
            for m in MEASURES[:-1]
            for k in ks
            for c in cats
            for j in range(k)
        ],
        columns=["measure", "k", "variant", "category", "lobe", "fraction", "n_chunks"],
    )
    vocab = np.array([f"▁tok{i}" for i in range(n_vocab)])
    contexts = {
        "activation": np.sort(gen.gamma(2, 2, size=(n_features, n_top)), 1)[:, ::-1].astype(
            np.float32
        ),
        "doc_id": gen.integers(0, 50_000, size=(n_features, n_top)),
        "position": gen.integers(0, 1023, size=(n_features, n_top)),
        "snippet": gen.zipf(1.3, size=(n_features, n_top, 2 * window + 1)) % n_vocab,
        "tokens": vocab,
        "window": window,
    }
    return dict(
        feature=np.arange(n_features),
        coords=gen.standard_normal((n_features, 2)),
        labels=pd.concat(frames, ignore_index=True),
        occurrences=occurrences,
        n_chunks=200_000,
        categories=cats,
        category_chunks=gen.poisson(5, size=(n_features, n_categories)),
        contexts=contexts,
        specialization=spec,
        title=f"synthetic layer, {n_features} features",
        threshold=1.0,
    )


def load_times(path, ready, repeats, check):
    """Seconds from navigation start to the page's first painted plot, per load."""
    loads = []
    with Browser(find_chromium()) as b:
        for _ in range(repeats):
            b.open(path.as_uri())
            t = None
            for _ in range(600):
                t = b.eval(f"window.{ready} && window.{ready}.firstPaintMs")
                if t:
                    break
                time.sleep(0.05)
            loads.append(t / 1000)
            check(b)
        assert b.console_errors == [], b.console_errors
    return loads


def galaxy_page(n_layers=26, n_points=65536, d_model=2304, seed=0):
    gen = np.random.default_rng(seed)
    ranks = np.arange(1, d_model + 1)
    spectrum = pd.DataFrame(
        {
            "layer": np.repeat(np.arange(n_layers), d_model),
            "rank": np.tile(ranks, n_layers),
            "eigenvalue": np.tile(1.0 / ranks, n_layers),
            "null_eigenvalue": 1.0 / d_model,
        }
    )
    galaxy = pd.DataFrame({"layer": np.arange(n_layers), "slope": -0.5, "n_features": n_points})
    clouds = {
        str(layer): (np.arange(n_points), gen.standard_normal((n_points, 2)).astype(np.float32))
        for layer in range(n_layers)
    }
    return render_galaxy_explorer(
        galaxy_explorer_data(
            spectrum=spectrum,
            galaxy=galaxy,
            clouds=clouds,
            fit_range=[11, 150],
            title="synthetic galaxy",
        )
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", type=int, default=16384)
    ap.add_argument("--contexts", type=int, default=10)
    ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--vocab", type=int, default=30000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budget-mb", type=float, default=20.0)
    ap.add_argument("--target-s", type=float, default=3.0)
    ap.add_argument("--screenshot", default=None, help="also save a JPEG screenshot here")
    a = ap.parse_args()
    t0 = time.perf_counter()
    layer = synthetic_layer(a.features, a.contexts, a.window, [2, 3, 4, 8, 16, 32, 64], a.vocab, 20)
    page = render_layer_explorer(layer_explorer_data(**layer))
    build_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "layer.html"
        path.write_text(page, encoding="utf-8")
        size_mb = path.stat().st_size / 1e6
        loads = load_times(
            path,
            "explorer",
            a.repeats,
            lambda b: (
                b.eval("window.explorer.nPoints") == a.features or sys.exit("wrong point count")
            ),
        )
        with Browser(find_chromium()) as b:  # interaction: a text search over all contexts
            b.open(path.as_uri())
            timing = (
                "(() => { const t = performance.now(); window.explorer.search(%r);"
                " return [performance.now() - t, window.explorer.highlighted().length]; })()"
            )
            first_search = b.eval(timing % "tok12 ")  # builds the joined context texts once
            next_search = b.eval(timing % "tok7")
            if a.screenshot:
                b.screenshot(a.screenshot, fmt="jpeg", quality=70)
        gpath = Path(tmp) / "galaxy.html"
        gpath.write_text(galaxy_page(), encoding="utf-8")
        gsize = gpath.stat().st_size / 1e6
        gloads = load_times(
            gpath,
            "galaxy",
            a.repeats,
            lambda b: b.eval("window.galaxy.nLayers") == 26 or sys.exit("wrong layer count"),
        )
    print(
        f"features={a.features} contexts={a.contexts} window={a.window}: page {size_mb:.1f} MB "
        f"(budget {a.budget_mb:g} MB: {'met' if size_mb <= a.budget_mb else 'NOT met'}), built in "
        f"{build_s:.1f} s; navigation -> first painted map {', '.join(f'{x:.2f}' for x in loads)} "
        "s "
        f"(median {np.median(loads):.2f} s; target {a.target_s:g} s: "
        f"{'met' if np.median(loads) <= a.target_s else 'NOT met'})"
    )
    print(
        f"text search over all contexts: first {first_search[0] / 1000:.2f} s ({first_search[1]} "
        "features hit), "
        f"then {next_search[0] / 1000:.2f} s ({next_search[1]} hit)"
    )
    print(
        f"galaxy page, 26 layers x 65,536 points: {gsize:.1f} MB; navigation -> first painted "
        "plots "
        f"{', '.join(f'{x:.2f}' for x in gloads)} s (median {np.median(gloads):.2f} s)"
    )


if __name__ == "__main__":
    main()
