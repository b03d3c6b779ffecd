"""Simulation study (Jiang et al. §5.1): science checked against independent expectations."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from concept_geometry.simulation import dag as dm
from concept_geometry.simulation.experiments import make_problem, run_experiment, run_setting
from concept_geometry.simulation.metrics import (
    cosine_matrix,
    embedding_differences,
    mean_pairwise_cosine,
    steering_vectors,
)
from concept_geometry.simulation.model import TrainConfig, train_log_linear


def _brute_joint(dag):
    """P(c) by the chain rule, one assignment at a time (no vectorisation)."""
    out = {}
    for c in itertools.product([0, 1], repeat=dag.m):
        p = 1.0
        for i in range(dag.m):
            k = 0
            for par in dag.parents[i]:
                k = 2 * k + c[par]
            q = dag.cpts[i][k]
            p *= q if c[i] == 1 else 1 - q
        out[c] = p
    return out


def test_dag_api_shapes_and_conventions():
    rng = np.random.default_rng(3)
    d = dm.random_dag(5, 0.6, rng)
    assert d.m == 5 and len(d.parents) == 5
    for i, pa in enumerate(d.parents):
        assert all(p < i for p in pa)
        assert d.cpts[i].shape == (2 ** len(pa),)
        assert np.all((d.cpts[i] >= 0.3) & (d.cpts[i] <= 0.7))
    cv = dm.concept_vectors(3)
    assert cv.dtype == np.int8 and cv.shape == (8, 3)
    assert cv[6].tolist() == [1, 1, 0]  # 6 = 0b110, concept 0 = MSB
    ctx = dm.all_contexts(3)
    assert ctx.shape == (27, 3) and ctx.dtype == np.int8
    assert len({tuple(r) for r in ctx}) == 27 and ctx[0].tolist() == [-1, -1, -1]


def test_joint_and_conditionals_match_brute_force():
    rng = np.random.default_rng(7)
    d = dm.random_dag(4, 0.7, rng)
    joint = dm.joint_distribution(d)
    brute = _brute_joint(d)
    cv = dm.concept_vectors(4)
    np.testing.assert_allclose(joint, [brute[tuple(int(v) for v in row)] for row in cv], rtol=1e-12)
    assert joint.sum() == pytest.approx(1.0)
    ctx = dm.all_contexts(4)
    cond = dm.conditionals(joint, ctx, 4)
    for n in [0, 5, 17, 40, 80]:
        x = ctx[n]
        known = [(i, int(v)) for i, v in enumerate(x) if v != -1]
        z = sum(p for c, p in brute.items() if all(c[i] == v for i, v in known))
        for y, row in enumerate(cv):
            c = tuple(int(v) for v in row)
            ok = all(c[i] == v for i, v in known)
            assert cond[n, y] == pytest.approx(brute[c] / z if ok else 0.0, abs=1e-12)


def test_independence_matches_d_separation():
    # Chain 0 -> 1, isolated 2, collider 0 -> 3 <- 2.
    d = dm.Dag(
        m=4,
        parents=[(), (0,), (), (0, 2)],
        cpts=[
            np.array([0.4]),
            np.array([0.35, 0.65]),
            np.array([0.6]),
            np.array([0.3, 0.5, 0.45, 0.7]),
        ],
    )
    ind = dm.independence_matrix(dm.joint_distribution(d), 4)
    expected = np.zeros((4, 4), bool)
    for a, b in [(0, 2), (1, 2)]:
        expected[a, b] = expected[b, a] = True
    np.testing.assert_array_equal(ind, expected)
    for seed in range(5):
        r = dm.random_dag(6, 0.3, np.random.default_rng(seed))
        np.testing.assert_array_equal(
            dm.independence_matrix(dm.joint_distribution(r), 6), dm.graph_independence(r)
        )


def test_mean_pairwise_cosine_on_planted_vectors():
    # Pairs at known angles: cos(0)=1 for identical, cos(90°)=0.
    assert mean_pairwise_cosine(np.array([[1.0, 0], [2.0, 0], [5.0, 0]])) == pytest.approx(1)
    assert mean_pairwise_cosine(np.array([[1.0, 0], [0, 3.0]])) == pytest.approx(0)
    # Three unit vectors at 120°: every pair has cos -1/2.
    ang = np.deg2rad([0, 120, 240])
    v = np.stack([np.cos(ang), np.sin(ang)], 1) * np.array([[1], [2], [3]])
    assert mean_pairwise_cosine(v) == pytest.approx(-0.5)
    # Against an explicit double loop on random vectors.
    rng = np.random.default_rng(0)
    w = rng.normal(size=(9, 4))
    u = w / np.linalg.norm(w, axis=1, keepdims=True)
    brute = np.mean([u[a] @ u[b] for a in range(9) for b in range(9) if a != b])
    assert mean_pairwise_cosine(w) == pytest.approx(brute)
    assert np.isnan(mean_pairwise_cosine(w[:1]))


def test_cosine_matrix_planted_angles_and_unmeasured_concepts():
    """Cross-concept cosines at known angles; a concept with no direction (no steering pair
    left in Ĉ: NaN, or a zero vector) gives NaN, not a fake 'orthogonal' 0."""
    ang = np.deg2rad([0.0, 60.0, 90.0])
    dirs = np.stack([np.cos(ang), np.sin(ang)], 1) * np.array([[1.0], [3.0], [0.5]])
    cos = cosine_matrix(dirs)
    np.testing.assert_allclose(
        cos, [[1, 0.5, 0], [0.5, 1, np.sqrt(3) / 2], [0, np.sqrt(3) / 2, 1]], atol=1e-12
    )
    with_gaps = np.vstack([dirs, [[np.nan, np.nan]], [[0.0, 0.0]]])
    cos = cosine_matrix(with_gaps)
    np.testing.assert_allclose(cos[:3, :3], cosine_matrix(dirs))
    assert np.isnan(cos[3:, :]).all() and np.isnan(cos[:, 3:]).all()


def test_incomplete_concepts_never_reports_unmeasured_pairs_as_orthogonal():
    """At a small kept fraction of outputs some concepts lose every steering pair: their
    orthogonality rows are NaN (m = 4, 2 of 16 outputs kept: at most one concept has a pair)."""
    cfg = dict(CFG, concept_fracs=[0.125])
    res = run_experiment("incomplete_concepts", cfg, 0, 1)
    no_pairs = set(res.concepts.loc[res.concepts["n_steering_vectors"] == 0, "concept"])
    assert len(no_pairs) >= 3
    orth = res.orthogonality
    touches = orth["concept_i"].isin(no_pairs) | orth["concept_j"].isin(no_pairs)
    assert orth.loc[touches, "cos"].isna().all()
    assert orth.loc[~touches, "cos"].notna().all()


def test_steering_and_embedding_pairs_on_planted_linear_model():
    m = 3
    rng = np.random.default_rng(1)
    dirs = np.eye(4)[:m] * 2.0
    cv = dm.concept_vectors(m).astype(float)
    g = cv @ dirs + 0.0 * rng.normal(size=(8, 4))  # exactly linear in the concepts
    for i in range(m):
        sv = steering_vectors(g, m, i)
        assert sv.shape == (4, 4)
        np.testing.assert_allclose(sv, np.tile(dirs[i], (4, 1)))
    kept = np.ones(8, bool)
    kept[[0, 7]] = False  # drop outputs 000 and 111
    assert len(steering_vectors(g, m, 0, kept)) == 2  # pairs (001,101), (010,110)
    ctx = dm.all_contexts(m)
    f = np.where(ctx[:, :, None] == 1, 1.0, 0.0)[:, :, 0] @ dirs  # f(x) = Σ known-1 dirs
    for i in range(m):
        ed = embedding_differences(f, ctx, i)
        assert len(ed) == 3 ** (m - 1)
        np.testing.assert_allclose(ed, np.tile(dirs[i], (len(ed), 1)))
    # A shuffled subset of contexts: only pairs with both members present are found.
    sub = np.random.default_rng(2).permutation(27)[:14]
    ed = embedding_differences(f[sub], ctx[sub], 0)
    codes = {tuple(c) for c in ctx[sub]}
    n_expected = sum(1 for c in codes if c[0] == 0 and (1,) + c[1:] in codes)
    assert len(ed) == n_expected


def test_training_fits_and_becomes_linear():
    """A tiny run: the loss falls and the steering vectors of each concept align."""
    problem = make_problem(4, 0.5, master_seed=0, replicate=0)
    cfg = TrainConfig(steps=300, lr=20.0, init_scale=1e-3, log_every=100, optimizer="gd")
    met, info = run_setting(
        problem, d=4, context_frac=1.0, concept_frac=1.0, train=cfg, master_seed=0, replicate=0
    )
    curve = met["curve"]
    assert curve[0]["loss"] == pytest.approx(np.log(16), rel=1e-3)  # uniform at small init
    # d = m cannot represent the exact conditionals (that needs about m + 2 dimensions), so
    # the loss plateaus a little above the entropy floor, far below the uniform start.
    assert info["final_loss"] - info["entropy"] < 0.2
    assert info["final_loss"] < 0.5 * np.log(16)
    assert np.nanmean(met["steering_cos"]) > 0.9
    assert curve[-1]["steering_cos"] > curve[0]["steering_cos"] + 0.5


def test_train_log_linear_recovers_representable_targets():
    """Targets from a planted rank-2 model are matched (KL -> 0)."""
    rng = np.random.default_rng(0)
    f0, g0 = rng.normal(size=(20, 2)), rng.normal(size=(6, 2))
    logits = f0 @ g0.T
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    res = train_log_linear(
        p, 2, TrainConfig(steps=800, lr=0.05, log_every=400, optimizer="adam"), seed=1
    )
    ent = -(p * np.log(p)).sum(1).mean()
    assert res.final_loss - ent < 1e-3


def test_entropy_floor_is_in_nats_and_below_every_cross_entropy():
    """The entropy floor is in nats, the cross-entropy's unit: H(½, ¼, ¼) = 1.5 ln 2,
    H(1, 0, 0) = 0 (0 log 0 = 0), rows averaged; a model whose softmax equals the targets
    (f = log p, g = I) has cross-entropy = entropy exactly, any other one more (Gibbs), so
    the excess loss final_loss − entropy is never negative."""
    from concept_geometry.simulation.model import cross_entropy, entropy

    half = np.array([[0.5, 0.25, 0.25]])
    assert entropy(half) == pytest.approx(1.5 * np.log(2), rel=1e-12)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0 log 0 = 0 without a floating-point warning
        assert entropy(np.array([[1.0, 0.0, 0.0]])) == 0.0
    assert entropy(np.array([[0.5, 0.25, 0.25], [1.0, 0.0, 0.0]])) == pytest.approx(
        0.75 * np.log(2), rel=1e-12
    )
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(5), size=7)
    assert cross_entropy(np.log(p), np.eye(5), p) == pytest.approx(entropy(p), rel=1e-12)
    for _ in range(5):
        f, g = rng.normal(size=(7, 3)), rng.normal(size=(5, 3))
        assert cross_entropy(f, g, p) - entropy(p) > 0


CFG = dict(
    m=4,
    edge_prob=0.5,
    cpt_low=0.3,
    cpt_high=0.7,
    independence_tol=1e-9,
    d=4,
    optimizer="gd",
    lr=20.0,
    steps=60,
    init_scale=1e-3,
    log_every=30,
    context_fracs=[1.0, 0.5],
    concept_fracs=[1.0, 0.5],
    dims=[4, 2],
)


def test_kept_fraction_one_equals_full():
    full = run_experiment("full", CFG, 0, 1).concepts
    for exp in ["incomplete_contexts", "incomplete_concepts", "dimension"]:
        res = run_experiment(exp, CFG, 0, 1).concepts
        first = res[res["setting"] == res["setting"].iloc[0]]
        for col in ["steering_cos", "embedding_cos", "alignment_cos", "final_loss"]:
            np.testing.assert_allclose(first[col].to_numpy(), full[col].to_numpy())
    sub = run_experiment("incomplete_contexts", CFG, 0, 1).concepts
    half = sub[sub["setting"] == "context_frac=0.5"]
    assert (half["n_contexts"] == round(0.5 * 81)).all()


# --- issue 14: divergence, lr scaling, coverage, mechanism -------------------------------


def _default_sim_cfg():
    """The simulation section of config/config.yaml with the schema's defaults filled in."""
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1]
    cfg = yaml.safe_load((root / "config/config.yaml").read_text())["simulation"]
    cfg.setdefault("independence_tol", 1e-9)
    return cfg


@pytest.mark.parametrize("m", [2, 3, 4, 5, 6])
def test_default_lr_trains_every_small_m_to_the_entropy_floor(m):
    """At the defaults (d, steps, `lr: auto`) every m = 2…6 trains: final loss within 5 % of
    the entropy floor of the exact conditionals (m = 7…10: benchmarks/simulation_lr.py)."""
    from concept_geometry.simulation.experiments import resolve_lr

    cfg = dict(_default_sim_cfg(), m=m)
    problem = make_problem(m, cfg["edge_prob"], master_seed=0, replicate=0)
    train = TrainConfig(
        steps=cfg["steps"],
        lr=resolve_lr(cfg, cfg["optimizer"]),
        init_scale=cfg["init_scale"],
        log_every=cfg["steps"],
        optimizer=cfg["optimizer"],
    )
    _, info = run_setting(
        problem,
        d=cfg["d"],
        context_frac=1.0,
        concept_frac=1.0,
        train=train,
        master_seed=0,
        replicate=0,
    )
    assert np.isfinite(info["final_loss"])
    assert info["final_loss"] <= 1.05 * info["entropy"]


def test_divergence_stops_with_one_paragraph_and_a_working_suggestion():
    """lr = 20 at m = 2 (the old default) blows up: a user error naming `simulation.lr` and
    `simulation.m` with a suggested rate, and that rate does train."""
    import re

    from concept_geometry.errors import ConfigError
    from concept_geometry.simulation.model import TrainingDiverged

    cfg = dict(CFG, m=2, d=2, lr=20.0, steps=200, log_every=100)
    with pytest.raises(TrainingDiverged) as exc:
        run_experiment("full", cfg, 0, 0)
    assert isinstance(exc.value, ConfigError)
    text = str(exc.value)
    assert "\n" not in text and "`simulation.lr`" in text and "`simulation.m` = 2" in text
    assert "(4 outputs, 9 contexts)" in text  # 2^2 outputs, 3^2 contexts
    suggested = float(re.search(r"Set `simulation.lr` to ([0-9.e+-]+)", text).group(1))
    assert suggested < 20.0
    res = run_experiment("full", dict(cfg, lr=suggested), 0, 0)
    assert np.isfinite(res.concepts["final_loss"]).all()


def test_loss_above_ten_times_its_start_counts_as_divergence():
    """A finite loss that grows past 10 x the initial one stops training too."""
    from concept_geometry.simulation.model import TrainingDiverged

    p = np.full((4, 4), 0.01)
    p[:, 0] = 0.97
    cfg = TrainConfig(steps=50, lr=1e5, init_scale=1e-3, log_every=50)
    with pytest.raises(TrainingDiverged) as exc:
        train_log_linear(p, 2, cfg, seed=0)
    # At a small initialisation the model starts uniform: initial loss ln 4.
    assert np.isfinite(exc.value.loss) and exc.value.loss > 10 * np.log(4)
    # A sane rate raises nothing.
    res = train_log_linear(
        p, 2, TrainConfig(steps=50, lr=1.0, init_scale=1e-3, log_every=50), seed=0
    )
    assert res.final_loss < np.log(4)


def test_concept_log_odds_hand_computed():
    """m = 2, outputs 00, 01, 10, 11 (concept 0 = first bit). Context A has logits 0, 1, 2, 3
    (linear in the concepts with weights 2 and 1): log-odds (e²+e³)/(1+e) = e² -> 2 and
    (e+e³)/(1+e²) = e -> 1. Context B has logits 0, 0, 0, ln 3: P(C_0=1) = (1+3)/6, so
    log-odds ln(4/2) = ln 2 for both concepts."""
    from concept_geometry.simulation.experiments import log_odds_spread
    from concept_geometry.simulation.model import concept_log_odds

    f = np.array([[1.0, 0.0], [0.0, 1.0]])
    g = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, np.log(3.0)]])
    np.testing.assert_allclose(
        concept_log_odds(f, g, np.array([0, 0, 1, 1])), [2.0, np.log(2.0)], rtol=1e-12
    )
    np.testing.assert_allclose(
        concept_log_odds(f, g, np.array([0, 1, 0, 1])), [1.0, np.log(2.0)], rtol=1e-12
    )
    # The same from the model's probabilities, marginalised by hand.
    z = np.exp(f @ g.T)
    prob = z / z.sum(1, keepdims=True)
    np.testing.assert_allclose(
        np.log(prob[:, 2] + prob[:, 3]) - np.log(prob[:, 0] + prob[:, 1]),
        [2.0, np.log(2.0)],
        rtol=1e-12,
    )
    # Spread over the contexts where the concept is unknown: a third context knows concept 0,
    # so it counts for concept 1 only (its logits 0, 0, 0, 0: log-odds 0).
    f3 = np.vstack([f, [[0.0, 0.0]]])
    contexts = np.array([[-1, -1], [-1, -1], [1, -1]])
    out = log_odds_spread(f3, g, np.arange(4), contexts, 2)
    a = np.array([2.0, np.log(2.0)])
    b = np.array([1.0, np.log(2.0), 0.0])
    np.testing.assert_allclose(out["logodds_mean"], [a.mean(), b.mean()])
    np.testing.assert_allclose(out["logodds_var"], [a.var(), b.var()])
    np.testing.assert_allclose(out["logodds_rel_sd"], [a.std() / a.mean(), b.std() / b.mean()])
    assert out["n_logodds_contexts"].tolist() == [2, 3]
    assert out["n_logodds_contexts"].dtype.kind == "i"  # counts: written as 3, not 3.0
    # |mean| below 0.1 is floored: log-odds +-0.01 -> sd 0.01 / 0.1.
    g_small = np.array([[0.0, 0.0], [0.0, 0.0], [0.01, 0.0], [0.01, 0.0]])
    out = log_odds_spread(
        np.array([[1.0, 0], [-1.0, 0]]), g_small, np.arange(4), np.array([[-1, -1], [-1, -1]]), 2
    )
    assert out["logodds_rel_sd"][0] == pytest.approx(0.01 / 0.1)


def test_headline_and_sweep_points_count_the_concepts_they_average():
    """3 concepts x 2 seeds per setting; at concept_frac=0.25 only 2 of the 6 cells have a
    steering cosine: the mean is over those 2, counted, and flagged (< half)."""
    import pandas as pd

    from concept_geometry import registry
    from concept_geometry.simulation import quantities
    from concept_geometry.simulation.plots import sweep_points

    def headline_rows(summary, orth):
        return registry.stage_rows(
            "simulation", "latent-concept-model", quantities.tables(summary, orth)
        )

    rows = []
    for frac, cos in [
        (0.25, [0.5, np.nan, np.nan, 0.7, np.nan, np.nan]),
        (1.0, [0.9, 0.8, 1.0, 0.9, np.nan, 1.0]),
    ]:
        for k, c in enumerate(cos):
            rows.append(
                {
                    "experiment": "incomplete_concepts",
                    "setting": f"concept_frac={frac:g}",
                    "seed": k // 3,
                    "concept": k % 3,
                    "concept_frac": frac,
                    "steering_cos": c,
                    "embedding_cos": 0.5,
                    "alignment_cos": c,
                    "final_loss": 1.0,
                }
            )
    summary = pd.DataFrame(rows)
    orth = pd.DataFrame(columns=["experiment", "setting", "independent", "cos"])
    head = headline_rows(summary, orth).set_index(["quantity", "setting"])["value"]
    low = "experiment=incomplete_concepts,concept_frac=0.25"
    high = "experiment=incomplete_concepts,concept_frac=1"
    assert head[("steering_cos_mean", low)] == pytest.approx(0.6)
    assert head[("steering_cos_n_concepts", low)] == 2
    assert head[("n_concept_cells", low)] == 6
    assert head[("steering_cos_low_coverage", low)] == 1
    assert head[("embedding_cos_low_coverage", low)] == 0
    assert head[("steering_cos_n_concepts", high)] == 5
    assert head[("steering_cos_low_coverage", high)] == 0
    pts = sweep_points(summary, "concept_frac").set_index(["concept_frac", "metric"])
    assert pts.loc[(0.25, "steering_cos"), "n"] == 2 and pts.loc[(0.25, "steering_cos"), "low"]
    assert not pts.loc[(1.0, "steering_cos"), "low"]
    assert pts.loc[(0.25, "steering_cos"), "mean"] == pytest.approx(0.6)


def test_mechanism_table_rank_correlation_and_optimiser_contrast():
    """Planted: steering cosine falls as the log-odds spread grows (rho = -1); GD's and
    Adam's final cosines are the means of their own rows."""
    import pandas as pd

    from concept_geometry.simulation.mechanism import mechanism_table

    rows = []
    for opt, base in [("gd", 0.95), ("adam", 0.6)]:
        for k in range(4):
            rows.append(
                {
                    "experiment": "full",
                    "setting": "all" if opt == "gd" else "optimizer=adam",
                    "optimizer": opt,
                    "seed": 0,
                    "concept": k,
                    "logodds_rel_sd": 0.1 * (k + 1) + (0.0 if opt == "gd" else 1.0),
                    "logodds_var": 0.01 * (k + 1) ** 2 + (0.0 if opt == "gd" else 1.0),
                    "steering_cos": base - 0.01 * k,
                    "excess_loss": 0.01 * k if opt == "gd" else 0.5,
                }
            )
    mech = mechanism_table(pd.DataFrame(rows)).set_index(
        ["quantity", "experiment", "setting", "optimizer"]
    )
    rho = mech.loc[("spearman_logodds_rel_sd_vs_steering_cos", "all", "all", "all")]
    assert rho["value"] == pytest.approx(-1.0) and rho["n"] == 8
    gd = mech.loc[("steering_cos_final", "full", "all", "gd"), "value"]
    adam = mech.loc[("steering_cos_final", "full", "optimizer=adam", "adam"), "value"]
    assert gd == pytest.approx(0.935) and adam == pytest.approx(0.585)
    excess = mech.loc[("excess_loss_mean", "full", "all", "gd")]
    assert excess["value"] == pytest.approx(0.015) and excess["n"] == 4  # (0+1+2+3)/4 x 0.01
    assert mech.loc[("excess_loss_mean", "full", "optimizer=adam", "adam"), "value"] == 0.5
    med = mech.loc[("logodds_rel_sd_median", "full", "all", "gd"), "value"]
    assert med == pytest.approx(0.25)


def test_full_experiment_adds_the_other_optimiser_when_asked():
    from concept_geometry.simulation.experiments import experiment_settings, resolve_lr
    from concept_geometry.simulation.model import ADAM_LR

    cfg = dict(CFG, m=3, d=3, steps=40, log_every=20, implicit_bias_contrast=True, lr="auto")
    settings = experiment_settings("full", cfg)
    assert [(s["setting"], s["optimizer"]) for s in settings] == [
        ("all", "gd"),
        ("optimizer=adam", "adam"),
    ]
    assert resolve_lr(cfg, "adam") == ADAM_LR
    assert resolve_lr(cfg, "gd") == pytest.approx(20.0 * 2**3 / 64)
    assert resolve_lr(dict(cfg, lr=7.0), "gd") == 7.0
    res = run_experiment("full", cfg, 0, 0)
    assert set(res.concepts["optimizer"]) == {"gd", "adam"}
    # every pair i < j of the 3 concepts, once per setting, keyed like the concept rows
    orth = res.orthogonality
    assert sorted(orth.columns) == sorted(
        [
            "experiment",
            "setting",
            "seed",
            "concept_i",
            "concept_j",
            "independent",
            "cos",
            "embedding_cos",
            "optimizer",
        ]
    )
    for setting in ("all", "optimizer=adam"):
        part = orth[orth["setting"] == setting]
        assert list(zip(part["concept_i"], part["concept_j"], strict=False)) == [
            (0, 1),
            (0, 2),
            (1, 2),
        ]
    assert set(orth["experiment"]) == {"full"} and set(orth["seed"]) == {0}
    assert (orth[["cos", "embedding_cos"]].abs() <= 1 + 1e-12).all().all()
    assert set(res.concepts["experiment"]) == {"full"} and set(res.curve["experiment"]) == {"full"}
    np.testing.assert_allclose(
        res.concepts["excess_loss"], res.concepts["final_loss"] - res.concepts["entropy_floor"]
    )
    assert set(res.curve["setting"]) == {"all", "optimizer=adam"}
    assert res.concepts["logodds_var"].notna().all()
    # m = 3, all contexts: concept i is unknown in 3^2 = 9 of them; rel_sd = sd / max(|mean|, 0.1)
    c = res.concepts
    assert (c["n_logodds_contexts"] == 9).all()
    np.testing.assert_allclose(
        c["logodds_rel_sd"], np.sqrt(c["logodds_var"]) / np.maximum(c["logodds_mean"].abs(), 0.1)
    )


# --- issue 15: mutation-testing gaps ------------------------------------------------------


def test_linearity_metrics_on_planted_directions():
    """f(x) = Σ over known-1 concepts of a_i, g(y) = Σ over 1-bits of b_i: every steering
    vector of i is b_i, every embedding difference a_i, so both cosines are 1 and the
    alignment is cos(a_i, b_i) = 1, 1/√2, 0 as planted. Dropping outputs 000 and 111 leaves
    2 steering pairs per concept; keeping only 000 and 001 leaves concept 2 one pair (no
    cosine) and concepts 0, 1 none (no direction, no alignment)."""
    from concept_geometry.simulation.experiments import linearity_metrics

    m = 3
    a = np.eye(4)[:3]
    b = np.array([[1.0, 0, 0, 0], [1.0, 1.0, 0, 0], [0, 0, 0, 2.0]])
    g = dm.concept_vectors(m).astype(float) @ b
    ctx = dm.all_contexts(m)
    f = (ctx == 1).astype(float) @ a
    out = linearity_metrics(f, g, ctx, m)
    np.testing.assert_allclose(out["steering_cos"], 1.0)
    np.testing.assert_allclose(out["embedding_cos"], 1.0)
    np.testing.assert_allclose(out["alignment_cos"], [1.0, 1 / np.sqrt(2), 0.0], atol=1e-12)
    assert out["n_steering"].tolist() == [4, 4, 4] and out["n_embedding"].tolist() == [9, 9, 9]
    np.testing.assert_allclose(out["unembedding_dirs"], b)
    np.testing.assert_allclose(out["embedding_dirs"], a)
    kept = np.ones(8, bool)
    kept[[0, 7]] = False
    assert linearity_metrics(f, g, ctx, m, kept)["n_steering"].tolist() == [2, 2, 2]
    only = np.zeros(8, bool)
    only[[0, 1]] = True
    few = linearity_metrics(f, g, ctx, m, only)
    assert few["n_steering"].tolist() == [0, 0, 1]
    assert np.isnan(few["steering_cos"]).all()
    assert np.isnan(few["unembedding_dirs"][:2]).all() and np.isnan(few["alignment_cos"][:2]).all()
    assert few["alignment_cos"][2] == pytest.approx(0.0, abs=1e-12)


def test_replicates_draw_their_own_output_and_context_subsets():
    """At kept fractions 0.5 each replicate draws its own subsets of the 16 outputs and 81
    contexts (so the steering and embedding pair counts differ between replicates), and the
    same replicate draws the same ones again."""
    problem = make_problem(4, 0.5, master_seed=0, replicate=0)
    train = TrainConfig(steps=1, lr=1.0, init_scale=1e-3, log_every=1)
    counts = []
    for r in range(4):
        met, info = run_setting(problem, 4, 0.5, 0.5, train, master_seed=0, replicate=r)
        assert info["n_outputs"] == 8 and info["n_contexts"] <= round(0.5 * 81)
        counts.append((tuple(met["n_steering"]), tuple(met["n_embedding"])))
    assert len({c[0] for c in counts}) > 1 and len({c[1] for c in counts}) > 1
    met, _ = run_setting(problem, 4, 0.5, 0.5, train, master_seed=0, replicate=2)
    assert (tuple(met["n_steering"]), tuple(met["n_embedding"])) == counts[2]


def test_cosine_measures_vectors_down_to_the_zero_threshold():
    """A vector of norm exactly metrics._EPS still has a direction; a shorter one does not."""
    from concept_geometry.simulation.metrics import _EPS, cosine

    tiny, shorter, x = np.array([_EPS, 0.0]), np.array([_EPS / 2, 0.0]), np.array([1.0, 0.0])
    assert np.linalg.norm(tiny) == _EPS
    assert cosine(tiny, x) == pytest.approx(1.0) and cosine(x, tiny) == pytest.approx(1.0)
    assert np.isnan(cosine(shorter, x)) and np.isnan(cosine(x, shorter))


def test_training_curve_steps_and_the_last_loss_is_checked():
    """Logged steps 0, 20, 40 and the end (50); zero steps: one point, the uniform start
    ln 4; a rate that blows up on the only step is caught at the end (step 1)."""
    from concept_geometry.simulation.model import TrainingDiverged

    p = np.full((4, 4), 0.01)
    p[:, 0] = 0.97
    res = train_log_linear(
        p, 2, TrainConfig(steps=50, lr=1.0, init_scale=1e-3, log_every=20), seed=0
    )
    assert [row["step"] for row in res.curve] == [0, 20, 40, 50]
    assert res.curve[0]["loss"] == pytest.approx(np.log(4), rel=1e-4)
    assert res.curve[-1]["loss"] == res.final_loss
    zero = train_log_linear(
        p, 2, TrainConfig(steps=0, lr=1.0, init_scale=1e-3, log_every=20), seed=0
    )
    assert [row["step"] for row in zero.curve] == [0]
    assert zero.final_loss == pytest.approx(np.log(4), rel=1e-4)
    with pytest.raises(TrainingDiverged) as exc:
        train_log_linear(p, 2, TrainConfig(steps=1, lr=1e6, init_scale=1e-3, log_every=20), seed=0)
    assert exc.value.step == 1 and exc.value.loss > 10 * np.log(4)


def test_headline_orthogonality_uses_the_full_experiment_only():
    """Mean |cos| of independent and dependent concept pairs over experiment=full,
    setting=all only (not the Adam contrast, not the dimension sweep)."""
    import pandas as pd

    from concept_geometry import registry
    from concept_geometry.simulation import quantities

    def headline_rows(summary, orth):
        return registry.stage_rows(
            "simulation", "latent-concept-model", quantities.tables(summary, orth)
        )

    summary = pd.DataFrame(
        {
            "experiment": ["full"],
            "setting": ["all"],
            "steering_cos": [0.9],
            "embedding_cos": [0.8],
            "alignment_cos": [0.7],
            "final_loss": [1.0],
        }
    )
    orth = pd.DataFrame(
        {
            "experiment": ["full", "full", "full", "full", "dimension"],
            "setting": ["all", "all", "all", "optimizer=adam", "d=2"],
            "independent": [True, True, False, True, False],
            "cos": [0.1, -0.3, -0.5, 0.9, 0.7],
        }
    )
    head = headline_rows(summary, orth).set_index(["quantity", "setting"])["value"]
    assert head[("orth_abs_cos_independent", "experiment=full")] == pytest.approx(0.2)
    assert head[("n_pairs_independent", "experiment=full")] == 2
    assert head[("orth_abs_cos_dependent", "experiment=full")] == pytest.approx(0.5)
    assert head[("n_pairs_dependent", "experiment=full")] == 1


def test_headline_rows_columns_model_and_pooled_mechanism_only():
    """The headline table has the report's five columns, the simulation's model name, and
    from the mechanism table only the pooled (experiment=all) rank correlations."""
    import pandas as pd

    from concept_geometry import registry
    from concept_geometry.simulation import quantities

    def headline_rows(summary, orth, mech=None):
        return registry.stage_rows(
            "simulation", "latent-concept-model", quantities.tables(summary, orth, mech)
        )

    summary = pd.DataFrame(
        {
            "experiment": ["full"],
            "setting": ["all"],
            "steering_cos": [0.9],
            "embedding_cos": [0.8],
            "alignment_cos": [0.7],
            "final_loss": [1.0],
        }
    )
    orth = pd.DataFrame(columns=["experiment", "setting", "independent", "cos"])
    mech = pd.DataFrame(
        {
            "quantity": ["spearman_logodds_var_vs_steering_cos"] * 2 + ["logodds_var_median"],
            "experiment": ["all", "full", "all"],
            "setting": "all",
            "optimizer": "all",
            "value": [-0.4, -0.9, 0.3],
            "n": 5,
        }
    )
    head = headline_rows(summary, orth, mech)
    assert head.columns.tolist() == ["stage", "quantity", "setting", "model", "value"]
    assert set(head["stage"]) == {"simulation"} and set(head["model"]) == {"latent-concept-model"}
    pooled = head[head["setting"] == "experiment=all"]
    assert pooled[["quantity", "value"]].values.tolist() == [
        ["spearman_logodds_var_vs_steering_cos", -0.4]
    ]
    # nothing to report (no setting, no pair): still the five columns, for the report's header
    empty = headline_rows(summary.iloc[:0], orth)
    assert empty.empty and empty.columns.tolist() == [
        "stage",
        "quantity",
        "setting",
        "model",
        "value",
    ]


SIM_OK = {
    "m": 4,
    "cpt_low": 0.3,
    "cpt_high": 0.7,
    "steps": 100,
    "log_every": 100,
    "experiments": ["full", "incomplete_concepts", "incomplete_contexts"],
    "concept_fracs": [0.25, 1.0],
    "context_fracs": [0.025, 1.0],
}


@pytest.mark.parametrize(
    "change, needle",
    [
        (
            {"m": 11},
            "key `simulation.m` = 11 is too large for exact enumeration: the study computes "
            "all 3^m x 2^m = 3.63e+08 exact conditionals (limit m <= 10)",
        ),
        (
            {"cpt_low": 0.7},
            "keys `simulation.cpt_low` = 0.7 and `simulation.cpt_high` = 0.7 must "
            "satisfy cpt_low < cpt_high",
        ),
        ({"log_every": 101}, "key `simulation.log_every` = 101 exceeds `simulation.steps` = 100"),
        (
            {"concept_fracs": [0.2]},
            "key `simulation.concept_fracs` holds 0.2, which keeps 3.2 of "
            "the 2^m = 16 outputs; at least 4 are needed",
        ),
        (
            {"context_fracs": [0.02]},
            "key `simulation.context_fracs` holds 0.02, which keeps fewer "
            "than 2 of the 3^m = 81 contexts",
        ),
    ],
)
def test_simulation_config_checks_name_the_key(change, needle):
    """Each cross-field check fails just past its bound (m 11 > 10; 0.2 x 16 = 3.2 < 4
    outputs; 0.02 x 81 = 1.62 < 2 contexts) with a message naming the key; the bounds
    themselves (m = 10, 0.25 x 16 = 4, 0.025 x 81 = 2.03, log_every = steps) pass."""
    from concept_geometry.errors import CONFIG_HINT, ConfigError
    from concept_geometry.simulation.checks import check_simulation_config

    check_simulation_config({"simulation": SIM_OK})
    check_simulation_config({"simulation": dict(SIM_OK, m=10)})
    check_simulation_config({})
    with pytest.raises(ConfigError) as err:
        check_simulation_config({"simulation": dict(SIM_OK, **change)})
    text = str(err.value)
    assert text.startswith("Invalid config: ") and needle in text
    assert text.endswith(CONFIG_HINT)  # the one hint every config error ends with
    # a fraction of a disabled experiment is not checked
    check_simulation_config(
        {"simulation": dict(SIM_OK, **change, experiments=["full"])}
        if "fracs" in next(iter(change))
        else {"simulation": SIM_OK}
    )


def test_divergence_probe_halves_the_rate_with_the_runs_other_settings():
    """The stable-rate search retrains at lr/2, lr/4, ... with the run's own init scale,
    optimiser and at most 300 steps; the first trial that trains is suggested (lr/8 here)."""
    from concept_geometry.simulation.experiments import _divergence_error
    from concept_geometry.simulation.model import TrainingDiverged

    trials = []

    def retrain(trial):
        trials.append(trial)
        if len(trials) < 3:
            raise TrainingDiverged("again")

    train = TrainConfig(steps=500, lr=8.0, init_scale=0.25, log_every=50, optimizer="adam")
    err = _divergence_error(
        TrainingDiverged("loss inf", step=3, loss=np.inf),
        "full",
        0,
        {"setting": "all", "optimizer": "gd"},
        dict(CFG, m=2),
        train,
        retrain,
    )
    assert [t.lr for t in trials] == [4.0, 2.0, 1.0]
    assert all((t.steps, t.init_scale, t.optimizer) == (300, 0.25, "adam") for t in trials)
    assert "Set `simulation.lr` to 1 or lower" in str(err) and err.step == 3


def test_spearman_is_undefined_below_three_points_or_without_spread():
    from concept_geometry.simulation.mechanism import _spearman

    rho, n = _spearman(np.array([1.0, 2.0, np.nan]), np.array([3.0, 1.0, 2.0]))
    assert np.isnan(rho) and n == 2
    rho, n = _spearman(np.array([1.0, 1.0, 1.0]), np.array([3.0, 1.0, 2.0]))
    assert np.isnan(rho) and n == 3
    assert _spearman(np.array([1.0, 2.0, 3.0]), np.array([3.0, 1.0, 0.0])) == (-1.0, 3)


def test_unknown_optimiser_is_named():
    with pytest.raises(ValueError, match="optimizer must be 'gd' or 'adam', got 'sgd'"):
        train_log_linear(np.full((2, 2), 0.5), 2, TrainConfig(steps=1, optimizer="sgd"), seed=0)


def test_headline_rows_are_sorted_by_experiment_and_setting():
    import pandas as pd

    from concept_geometry import registry
    from concept_geometry.simulation import quantities

    def headline_rows(summary, orth, mech=None):
        return registry.stage_rows(
            "simulation", "latent-concept-model", quantities.tables(summary, orth, mech)
        )

    summary = pd.DataFrame(
        {
            "experiment": ["full", "dimension", "dimension"],
            "setting": ["all", "d=4", "d=2"],
            "steering_cos": 0.9,
            "embedding_cos": 0.8,
            "alignment_cos": 0.7,
            "final_loss": 1.0,
        }
    )
    orth = pd.DataFrame(columns=["experiment", "setting", "independent", "cos"])
    settings = list(dict.fromkeys(headline_rows(summary, orth)["setting"]))
    assert settings == ["experiment=dimension,d=2", "experiment=dimension,d=4", "experiment=full"]


# --- issue 15 (seed 4): mutation-testing gaps ----------------------------------------------


def test_concept_log_odds_needs_both_values_of_the_concept():
    """A concept that every kept output has (or none has) has no log-odds: refused."""
    from concept_geometry.simulation.model import concept_log_odds

    f, g = np.ones((2, 2)), np.arange(8.0).reshape(4, 2)
    for bits in ([1, 1, 1, 1], [0, 0, 0, 0]):
        with pytest.raises(ValueError, match="both values of the concept"):
            concept_log_odds(f, g, np.array(bits))


def test_divergence_error_names_the_contrast_optimisers_rate_or_says_none_trains():
    """A diverged Adam contrast run under `optimizer: gd` blames Adam's `auto` rate, not
    `simulation.lr`; the message names the run (experiment, replicate, setting, the error)
    and the problem size (m = 3: 8 outputs, 27 contexts; `auto` for gd 20/64 x 8 = 2.5).
    When every halving down to lr/1024 diverges too, it says so; a run shorter than 300
    steps probes with its own step count and logs nothing."""
    from concept_geometry.simulation.experiments import _divergence_error
    from concept_geometry.simulation.model import TrainingDiverged

    trials = []

    def never(trial):
        trials.append(trial)
        raise TrainingDiverged("again")

    train = TrainConfig(steps=120, lr=0.5, init_scale=0.1, log_every=10, optimizer="adam")
    err = _divergence_error(
        TrainingDiverged("loss 1e+03 at step 7", step=7, loss=1e3),
        "full",
        2,
        {"setting": "optimizer=adam", "optimizer": "adam"},
        dict(CFG, m=3, optimizer="gd"),
        train,
        never,
    )
    text = str(err)
    assert [t.lr for t in trials] == [0.5 / 2**k for k in range(1, 11)]
    assert all((t.steps, t.log_every) == (120, 121) for t in trials)
    assert "(the `auto` rate of the contrast optimiser adam = 0.5)" in text
    assert "(experiment `full`, replicate 2, setting `optimizer=adam`)" in text
    assert ": loss 1e+03 at step 7, with `simulation.m` = 3 (8 outputs, 27 contexts)" in text
    assert "No rate down to lr/1024 trained stably" in text and "Set `simulation.lr`" not in text
    assert "(= 2.5 for gd at m = 3" in text
    assert (err.step, err.loss) == (7, 1e3) and "\n" not in text
    # the configured optimiser's own run: its rate is the key `simulation.lr`
    own = _divergence_error(
        TrainingDiverged("loss inf"),
        "dimension",
        0,
        {"setting": "d=2", "optimizer": "adam"},
        dict(CFG, m=3, optimizer="adam"),
        train,
        lambda trial: None,
    )
    assert "The learning rate (`simulation.lr` = 0.5) is too large" in str(own)
    assert "Set `simulation.lr` to 0.25 or lower" in str(own)


def test_independence_flags_follow_the_configured_tolerance_and_cpt_range():
    """run_experiment passes `independence_tol` and the CPT range to the DAG: on a complete
    DAG with CPTs from U[0.3, 0.7] every pair is dependent at tol 1e-9 but counts as
    independent at tol 1 (|P11 - P1 P1| <= 1 always); with cpt_low = cpt_high = 0.5 every
    conditional is 1/2, the joint uniform and every pair independent."""
    cfg = dict(CFG, m=3, d=2, edge_prob=1.0, steps=1, log_every=1)

    def flags(**change):
        orth = run_experiment("full", dict(cfg, **change), 0, 0).orthogonality
        return orth["independent"].tolist()

    assert flags() == [False, False, False]
    assert flags(independence_tol=1.0) == [True, True, True]
    assert flags(cpt_low=0.5, cpt_high=0.5) == [True, True, True]


def test_make_problem_defaults_and_its_seed_streams():
    """At make_problem's defaults the CPTs are drawn from the paper's U[0.3, 0.7], the
    independence flags at tol 1e-9 are d-separation in the drawn DAG and the joint is the
    chain rule's; the DAG is a function
    of (master seed, replicate): the same pair draws it again, another replicate or master
    seed draws another one."""

    def draw(master_seed, replicate):
        p = make_problem(5, 0.5, master_seed=master_seed, replicate=replicate)
        return p, (p.dag.parents, np.concatenate(p.dag.cpts).tolist())

    problem, first = draw(0, 0)
    cpts = np.concatenate(problem.dag.cpts)
    assert ((cpts >= 0.3) & (cpts <= 0.7)).all()
    np.testing.assert_array_equal(problem.independent, dm.graph_independence(problem.dag))
    brute = _brute_joint(problem.dag)  # the chain rule, one assignment at a time
    np.testing.assert_allclose(
        problem.joint, [brute[tuple(int(v) for v in c)] for c in dm.concept_vectors(5)]
    )
    assert not problem.independent[~np.eye(5, dtype=bool)].all()  # some pair is dependent
    assert draw(0, 0)[1] == first
    assert draw(0, 1)[1] != first and draw(1, 0)[1] != first


def test_each_replicate_and_master_seed_draws_its_own_initialisation():
    """With every context and output kept (no subset drawn) the untrained model's steering
    cosines are those of its random initialisation: the same for the same (master seed,
    replicate), different for another replicate or master seed."""
    problem = make_problem(3, 0.5, master_seed=0, replicate=0)
    train = TrainConfig(steps=0, lr=1.0, init_scale=1.0, log_every=1)

    def cosines(master_seed, replicate):
        met, _ = run_setting(problem, 3, 1.0, 1.0, train, master_seed, replicate)
        return met["steering_cos"]

    first = cosines(0, 0)
    assert np.isfinite(first).all()
    np.testing.assert_array_equal(cosines(0, 0), first)
    assert not np.allclose(cosines(0, 1), first) and not np.allclose(cosines(1, 0), first)


def test_dag_refuses_bad_shapes_and_order_and_impossible_contexts():
    """A Dag needs one parent tuple and one CPT per node, parents before the node (index
    order, none negative) and 2^(number of parents) CPT entries; random_dag needs m >= 1; a
    context of probability zero has no conditional law."""
    half, two = np.array([0.5]), np.array([0.4, 0.6])
    ok = dm.Dag(m=2, parents=[(), (0,)], cpts=[half, two])  # parent 0 of node 1: allowed
    assert ok.parents == [(), (0,)]
    bad = [
        (
            dict(m=2, parents=[()], cpts=[half, two]),
            "Dag needs 2 parent tuples and cpts, got 1 and 2",
        ),
        (
            dict(m=2, parents=[(), (0,)], cpts=[half]),
            "Dag needs 2 parent tuples and cpts, got 2 and 1",
        ),
        (dict(m=2, parents=[(), (1,)], cpts=[half, two]), "node 1: parents (1,) break index-order"),
        (
            dict(m=2, parents=[(), (-1,)], cpts=[half, two]),
            "node 1: parents (-1,) break index-order",
        ),
        (dict(m=2, parents=[(), (0,)], cpts=[half, half]), "node 1: cpt shape (1,) != (2,)"),
        (dict(m=2, parents=[(), (0,)], cpts=[two, two]), "node 0: cpt shape (2,) != (1,)"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=re.escape(message)):
            dm.Dag(**kwargs)
    assert dm.random_dag(1, 0.5, np.random.default_rng(0)).m == 1
    with pytest.raises(ValueError, match="m must be >= 1, got 0"):
        dm.random_dag(0, 0.5, np.random.default_rng(0))
    # joint all on 00: the context "concept 0 = 1" has probability zero
    with pytest.raises(ValueError, match="^a context has probability zero under the joint law$"):
        dm.conditionals(np.array([1.0, 0.0, 0.0, 0.0]), dm.all_contexts(2), 2)
    np.testing.assert_allclose(
        dm.conditionals(np.full(4, 0.25), dm.all_contexts(2), 2).sum(axis=1), 1.0
    )


def test_setting_labels_name_each_sweeps_parameter():
    from concept_geometry.simulation.experiments import setting_label

    assert setting_label("full", None) == "all"
    assert setting_label("incomplete_contexts", 0.5) == "context_frac=0.5"
    assert setting_label("incomplete_concepts", 0.25) == "concept_frac=0.25"
    assert setting_label("dimension", 4) == "d=4"


def test_spearman_without_spread_on_either_side_is_undefined_without_a_warning():
    """One constant side (x or y) leaves the rank correlation undefined: NaN, decided before
    scipy is asked (which would warn about constant input into the job log)."""
    import warnings

    from concept_geometry.simulation.mechanism import _spearman

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for x, y in (([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]), ([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])):
            rho, n = _spearman(np.array(x), np.array(y))
            assert np.isnan(rho) and n == 3


def test_a_dimension_below_one_is_refused_with_its_value():
    with pytest.raises(ValueError, match=r"^d must be >= 1, got 0$"):
        train_log_linear(np.full((2, 2), 0.5), 0, TrainConfig(steps=1), seed=0)


def test_concept_rows_count_outputs_and_steering_vectors_as_integers():
    """Full experiment, m = 4: every one of the 2^4 = 16 outputs is kept; the steering-vector
    and output counts are integer columns; the training curve logs loss and both cosines."""
    res = run_experiment("full", CFG, 0, 1)
    c = res.concepts
    assert (c["n_outputs"] == 16).all()
    assert c["n_steering_vectors"].dtype.kind == "i" and c["n_outputs"].dtype.kind == "i"
    assert {"step", "loss", "steering_cos", "embedding_cos"} <= set(res.curve.columns)
    assert res.curve["embedding_cos"].notna().all()


def test_float_settings_print_in_short_g_format():
    """Fractions print with %g (six significant digits): labels stay short and stable."""
    from concept_geometry.simulation.experiments import setting_label

    assert setting_label("incomplete_contexts", 0.123456789) == "context_frac=0.123457"
    assert setting_label("incomplete_concepts", 1.0) == "concept_frac=1"


def test_concept_rows_count_embedding_pairs_as_integers():
    """m = 4, all 81 contexts kept: concept i has 3^3 = 27 context pairs that differ only in
    it (0 vs 1; each other concept absent, 0 or 1 in both)."""
    c = run_experiment("full", CFG, 0, 1).concepts
    assert c["n_embedding_pairs"].dtype.kind == "i"
    assert (c["n_embedding_pairs"] == 27).all()
