"""End to end: the lobes rules on synthetic feature data with planted code/prose lobes."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import yaml
from conftest import run_snakemake

from concept_geometry import io
from concept_geometry.corpus import write_documents

MODEL, CORPUS, LAYER = "toymodel", "toycorpus", 1
RULES = [
    "lobes_cluster",
    "lobes_tests",
    "lobes_tests_gather",
    "lobes_specialization",
    "lobes_embed",
    "lobes_figures",
    "lobes_summary",
]


def write_features(workdir, seed=0, n_feat=60, d=16, n_docs=120, chunks_per_doc=3):
    """The features stage's per-layer contract files and the corpus's (doc_id, split), with
    two planted lobes: `code` documents fire the first lobe's features, `prose` documents
    the second's."""
    gen = np.random.default_rng(seed)
    lobe = gen.permutation(np.repeat([0, 1], n_feat // 2))
    decoder = gen.standard_normal((n_feat, d)) + 3.0 * np.where(lobe[:, None] == 0, 1.0, -1.0)
    doc_id = np.repeat(np.arange(n_docs), chunks_per_doc)
    category = np.where(doc_id % 2 == 0, "code", "prose")
    split = np.where(doc_id % 4 == 3, "heldout", np.where(doc_id % 4 == 2, "heldout", "histogram"))
    topic = (category == "prose").astype(int)
    p = np.where(topic[:, None] == lobe[None, :], 0.35, 0.03)
    p[:, 0] = 0.0  # a feature that never fires
    fire = (gen.random(p.shape) < p).astype(np.uint8)
    hist = fire[split == "histogram"].astype(np.int64)
    base = workdir / f"results/features/{MODEL}/{CORPUS}/layer_{LAYER}"
    io.write_npz(
        base / "firings.npz",
        firings=sp.csr_matrix(fire),
        doc_id=doc_id,
        category=category.astype(str),
        split=split.astype(str),
    )
    io.write_npz(
        base / "cooccurrence.npz",
        counts=hist.T @ hist,
        occurrences=hist.sum(0),
        n_chunks=np.int64(hist.shape[0]),
    )
    io.write_npy(base / "decoder.npy", decoder.astype(np.float32))
    io.write_json(base / "meta.json", {"model": MODEL, "synthetic": True})
    corpus = workdir / f"results/corpus/{CORPUS}/documents.parquet"
    first = np.unique(doc_id, return_index=True)[1]
    write_documents(
        corpus,
        pd.DataFrame(
            {
                "doc_id": np.arange(n_docs),
                "category": category[first],
                "split": split[first],
                "text": "synthetic",
            }
        ),
    )
    old = time.time() - 3600
    for f in [*base.iterdir(), *corpus.parent.iterdir()]:
        os.utime(f, (old, old))
    return lobe


@pytest.mark.workflow
def test_lobes_workflow_on_planted_features(tmp_path):
    lobe = write_features(tmp_path)
    cfg = {
        "stages": ["features", "lobes"],
        "features": {"model": {"name": MODEL}, "corpus": {"name": CORPUS}, "layers": [LAYER]},
        "lobes": {
            "ks": [2, 3],
            "ami": {"n_permutations": 50},
            "probe": {"n_null": 3},
            "figures": {"embedding": "pca"},
        },
    }
    configfile = tmp_path / "tiny.yaml"
    configfile.write_text(yaml.safe_dump(cfg))
    out = tmp_path / f"results/lobes/{MODEL}/{CORPUS}/layer_{LAYER}"
    targets = [
        "results/summary/lobes.tsv",
        *(
            str(out.relative_to(tmp_path) / "figures" / f"{n}.{e}")
            for n in ("feature_cloud", "tests_vs_k", "specialization")
            for e in ("png", "pdf")
        ),
    ]
    run_snakemake(tmp_path, configfile, *targets, "--allowed-rules", *RULES)

    labels = io.read_tsv(out / "labels.tsv")
    assert list(labels.columns) == ["variant", "clustering", "measure", "k", "feature", "lobe"]
    assert set(labels["measure"]) == {
        "jaccard",
        "simple_matching",
        "dice",
        "overlap",
        "phi",
        "geometric",
    }
    from sklearn.metrics import adjusted_mutual_info_score

    for variant in ("faithful", "corrected"):
        phi2 = (
            labels[(labels.variant == variant) & (labels.measure == "phi") & (labels.k == 2)]
            .sort_values("feature")["lobe"]
            .to_numpy()
        )
        # the feature that never fires: kept by the faithful variant, excluded by the corrected
        assert (phi2[0] == -1) == (variant == "corrected")
        assert adjusted_mutual_info_score(lobe[1:], phi2[1:]) > 0.9

    tests = io.read_tsv(out / "tests.tsv")
    assert list(tests.columns[:11]) == [
        "measure",
        "k",
        "variant",
        "ami",
        "ami_null_mean",
        "ami_null_std",
        "ami_z",
        "balanced_accuracy",
        "acc_null_mean",
        "acc_null_std",
        "acc_z",
    ]
    assert len(tests) == 5 * 2 * 2
    assert set(tests.clustering) == {"dense"}
    assert dict(zip(tests.variant, tests.n_excluded, strict=False)) == {
        "faithful": 0,
        "corrected": 1,
    }
    k2 = tests[tests.k == 2]
    assert (k2["ami_z"] > 10).all() and (k2["balanced_accuracy"] > 0.9).all()
    assert (k2.loc[k2.variant == "corrected", "ami"] > 0.9).all()
    # faithful: the never-firing feature is clustered too (affinity row 0 for Jaccard, Dice,
    # overlap; uniform for phi + 1), so its lobe owes nothing to geometry: one of 60 may be off
    assert (k2.loc[k2.variant == "faithful", "ami"] > 0.85).all()

    spec = io.read_tsv(out / "specialization.tsv")
    assert {"measure", "k", "variant", "category", "lobe", "fraction"} <= set(spec.columns)
    sums = spec.groupby(["measure", "k", "variant", "category"])["fraction"].sum()
    np.testing.assert_allclose(sums, 1.0)
    verdict = io.read_json(out / "code_lobe.json")
    assert all(v["corrected"]["found"] and v["faithful"]["found"] for v in verdict.values())

    summary = io.read_tsv(tmp_path / "results/summary/lobes.tsv")
    assert list(summary.columns) == ["stage", "quantity", "setting", "model", "value"]
    row = summary[
        (summary.quantity == "code_lobe_found")
        & (summary.setting == f"layer={LAYER},measure=phi,k=2,variant=corrected,clustering=dense")
    ]
    assert row["value"].tolist() == [1.0]
    row = summary[
        (summary.quantity == "n_excluded") & (summary.setting == f"layer={LAYER},variant=corrected")
    ]
    assert row["value"].tolist() == [1.0]
    assert (
        (summary.quantity == "ami_z")
        & (summary.setting == f"layer={LAYER},measure=phi,k=2,variant=faithful")
    ).sum() == 1
    for name in ("feature_cloud", "tests_vs_k", "specialization"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
