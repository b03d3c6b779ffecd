"""SAEs: training round-trips through SAELens disk format; Gemma Scope params; offline errors."""

import re
import time

import numpy as np
import pytest
import torch

from concept_geometry.errors import ConfigError, MissingResourceError
from concept_geometry.features.sae import (
    check_d_in,
    check_hook_layer,
    hook_layer,
    load_gemma_scope_npz,
    load_local_sae,
    load_pretrained_sae,
    train_sae,
)


def write_gemma_scope_params(path, d_in=8, d_sae=12, seed=0):
    """A Gemma Scope style params.npz (W_enc (d, F), W_dec (F, d), b_enc, b_dec, threshold)."""
    rng = np.random.default_rng(seed)
    params = dict(
        W_enc=rng.normal(size=(d_in, d_sae)).astype(np.float32),
        W_dec=rng.normal(size=(d_sae, d_in)).astype(np.float32),
        b_enc=rng.normal(size=d_sae).astype(np.float32),
        b_dec=rng.normal(size=d_in).astype(np.float32),
        threshold=np.abs(rng.normal(size=d_sae)).astype(np.float32),
    )
    path.mkdir(parents=True, exist_ok=True)
    np.savez(path / "params.npz", **params)
    return params


def test_gemma_scope_params_encode_as_jumprelu(tmp_path):
    p = write_gemma_scope_params(tmp_path / "gs")
    sae = load_local_sae(tmp_path / "gs", "features.sae")
    x = np.random.default_rng(1).normal(size=(5, 8)).astype(np.float32)
    pre = x @ p["W_enc"] + p["b_enc"]  # Gemma Scope: no b_dec subtraction on the input
    expected = np.where(pre > p["threshold"], pre, 0.0)
    got = sae.encode(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sae.W_dec.detach().numpy(), p["W_dec"])
    # and it round-trips through the SAELens disk format
    sae.save_model(tmp_path / "saved")
    again = load_local_sae(tmp_path / "saved", "features.sae")
    np.testing.assert_allclose(
        again.encode(torch.tensor(x)).detach().numpy(), expected, rtol=1e-5, atol=1e-5
    )


def test_trained_sae_reconstructs_planted_sparse_codes_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    d, k, n = 16, 24, 6000
    dirs = rng.normal(size=(k, d))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    codes = (rng.random((n, k)) < 0.08) * rng.uniform(1, 3, size=(n, k))
    acts = (codes @ dirs * 5.0).astype(np.float32)  # raw scale 5x: folding must undo it
    res = train_sae(
        acts,
        width=48,
        steps=400,
        batch_size=256,
        lr=3e-3,
        l1_coefficient=0.3,
        l1_warm_up_steps=20,
        seed=0,
        progress=False,
    )
    assert res.explained_variance > 0.8
    assert res.l0 < 24
    x = torch.tensor(acts[:200])
    recon = res.sae.decode(res.sae.encode(x))
    assert ((recon - x).pow(2).sum() / (x - x.mean(0)).pow(2).sum()).item() < 0.2
    res.sae.save_model(tmp_path / "sae")
    loaded = load_local_sae(tmp_path / "sae", "features.sae")
    torch.testing.assert_close(loaded.encode(x), res.sae.encode(x))
    # same seed, same SAE
    res2 = train_sae(
        acts,
        width=48,
        steps=20,
        batch_size=256,
        lr=3e-3,
        l1_coefficient=0.3,
        l1_warm_up_steps=20,
        seed=5,
        progress=False,
    )
    res3 = train_sae(
        acts,
        width=48,
        steps=20,
        batch_size=256,
        lr=3e-3,
        l1_coefficient=0.3,
        l1_warm_up_steps=20,
        seed=5,
        progress=False,
    )
    torch.testing.assert_close(res2.sae.W_dec, res3.sae.W_dec)


def test_pretrained_offline_fails_fast_with_local_instructions(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.time()
    with pytest.raises(MissingResourceError) as err:
        load_pretrained_sae(
            "gemma-scope-2b-pt-res", "layer_12/width_16k/average_l0_41", "features.sae"
        )
    assert time.time() - t0 < 10
    msg = str(err.value)
    assert "source: local" in msg and "features.sae.path" in msg


def test_d_in_mismatch_is_refused(tmp_path):
    write_gemma_scope_params(tmp_path / "gs", d_in=8)
    sae = load_gemma_scope_npz(tmp_path / "gs" / "params.npz")
    check_d_in(sae, 8, "x")
    with pytest.raises(ConfigError) as err:
        check_d_in(sae, 2304, "of layer 12 (features.sae)")
    assert "8" in str(err.value) and "2304" in str(err.value)


def test_missing_local_sae_names_key(tmp_path):
    with pytest.raises(MissingResourceError, match="galaxy.sae"):
        load_local_sae(tmp_path / "nothing", "galaxy.sae")


@pytest.mark.parametrize(
    "hook, block",
    [
        ("blocks.12.hook_resid_post", 12),
        ("blocks.5.hook_resid_pre", 4),
        ("model.layers.7.hook_resid_post", 7),
        ("blocks.3.hook_mlp_out", None),
        ("blocks.3.attn.hook_z", None),
    ],
)
def test_hook_layer_read_from_saelens_metadata(tmp_path, hook, block):
    """The block an SAE reads, from SAELens's recorded hook name, after a save/load round trip."""
    from sae_lens import SAE, StandardSAE, StandardSAEConfig

    sae = StandardSAE(StandardSAEConfig(d_in=4, d_sae=8))
    assert hook_layer(sae) == (None, None)  # nothing recorded: unknown, passes
    check_hook_layer(sae, 3, "x", "features.sae")
    sae.cfg.metadata.hook_name = hook
    sae.save_model(str(tmp_path / "s"))
    loaded = SAE.load_from_disk(str(tmp_path / "s"))
    assert hook_layer(loaded) == (block, hook)
    if block is not None:
        check_hook_layer(loaded, block, "x", "features.sae")
        with pytest.raises(ConfigError, match=f"configured for layer {block + 1}"):
            check_hook_layer(loaded, block + 1, "x", "features.sae")
    else:
        with pytest.raises(ConfigError, match="not the residual stream"):
            check_hook_layer(loaded, 3, "x", "features.sae")


def test_lr_schedule_is_flat_then_linear_to_zero():
    from concept_geometry.features.sae import lr_factor

    # 10 steps: decay starts at step 8 and reaches 0 at step 10
    assert [lr_factor(s, 10) for s in (0, 7, 8, 9, 10)] == [1.0, 1.0, 1.0, 0.5, 0.0]
    # 5 steps: decay from step 4 over one step
    assert [lr_factor(s, 5) for s in (3, 4, 5)] == [1.0, 1.0, 0.0]
    assert lr_factor(12, 10) == 0.0  # never negative


def test_l1_warm_up_ramps_linearly_then_holds():
    from concept_geometry.features.sae import l1_at

    assert [l1_at(s, 2.0, 4) for s in (0, 1, 3, 7)] == [0.5, 1.0, 2.0, 2.0]
    assert l1_at(0, 2.0, 0) == 2.0


def test_gemma_scope_lowercase_weight_names_load(tmp_path):
    p = write_gemma_scope_params(tmp_path / "upper")
    (tmp_path / "lower").mkdir()
    np.savez(
        tmp_path / "lower" / "params.npz",
        w_enc=p["W_enc"],
        w_dec=p["W_dec"],
        b_enc=p["b_enc"],
        b_dec=p["b_dec"],
        threshold=p["threshold"],
    )
    sae = load_gemma_scope_npz(tmp_path / "lower" / "params.npz")
    assert np.array_equal(sae.W_enc.detach().numpy(), p["W_enc"])
    assert np.array_equal(sae.W_dec.detach().numpy(), p["W_dec"])


def test_local_gemma_scope_sae_is_placed_on_the_device_and_dtype_asked(tmp_path):
    """``device`` and ``dtype`` reach the loaded weights (the "meta" device holds no data,
    so any placement other than the default cpu is visible)."""
    write_gemma_scope_params(tmp_path / "gs")
    sae = load_local_sae(tmp_path / "gs", "features.sae", device="meta", dtype="float64")
    assert sae.W_dec.device.type == "meta" and sae.W_dec.dtype == torch.float64
    default = load_local_sae(tmp_path / "gs" / "params.npz", "features.sae")
    assert default.W_dec.device.type == "cpu" and default.W_dec.dtype == torch.float32


def test_pretrained_sae_is_asked_of_saelens_with_release_id_device_and_dtype(monkeypatch):
    """Online, the release, id, device (cpu unless given) and dtype go to SAELens as given;
    a SAELens failure becomes one paragraph naming the config key."""
    import sae_lens

    from concept_geometry.models import loading

    calls = []

    def fake(release, sae_id, device, dtype):
        calls.append((release, sae_id, device, dtype))
        if release == "broken":
            raise ValueError("no such release\nsecond line")
        return "sae"

    monkeypatch.setattr(loading, "hub_reachable", lambda: True)
    monkeypatch.setattr(sae_lens.SAE, "from_pretrained", staticmethod(fake))
    assert load_pretrained_sae("rel", "layer_3/x", "features.sae") == "sae"
    assert load_pretrained_sae("rel", "id", "k", "cuda:1", "bfloat16") == "sae"
    assert calls == [("rel", "layer_3/x", "cpu", "float32"), ("rel", "id", "cuda:1", "bfloat16")]
    with pytest.raises(MissingResourceError) as err:
        load_pretrained_sae("broken", "id", "galaxy.sae")
    msg = str(err.value)
    assert "`galaxy.sae`" in msg and "no such release." in msg and "second line" not in msg


@pytest.mark.parametrize("n", [1, 2])
def test_training_on_one_or_two_tokens_holds_back_all_but_one(n):
    """10 % is held back, at least one token, but never the only one: one token trains the
    SAE and the held-back statistics are NaN (nothing to measure them on); of two, one
    trains and one is held back. The tokens share one norm, so the rescaling is known
    whichever trains: E‖x‖² = d, ‖x‖² = 14.25, d = 4."""
    acts = np.array([[1.0, -2.0, 0.5, 3.0], [3.0, 0.5, -2.0, 1.0]][:n], dtype=np.float32)
    res = train_sae(
        acts,
        width=6,
        steps=3,
        batch_size=4,
        lr=1e-3,
        l1_coefficient=0.1,
        l1_warm_up_steps=0,
        seed=0,
        progress=False,
    )
    assert np.all(np.isfinite(res.losses))
    assert res.scale == pytest.approx(np.sqrt(4 / 14.25), rel=1e-6)
    assert np.isnan(res.l0) == (n == 1)


def test_gemma_scope_params_with_a_scaling_factor_load(tmp_path):
    """Some params.npz files also hold ``scaling_factor``, which the JumpReLU SAE has no slot
    for: it is skipped, the weights load."""
    p = write_gemma_scope_params(tmp_path / "gs")
    np.savez(tmp_path / "gs" / "params.npz", **p, scaling_factor=np.ones(12, np.float32))
    sae = load_local_sae(tmp_path / "gs", "features.sae")
    np.testing.assert_array_equal(sae.threshold.detach().numpy(), p["threshold"])


def test_sae_description_names_what_identifies_each_source():
    """meta.json's SAE identity: the release and the layer's id (pretrained), the layer's
    path (local), or every training setting (train)."""
    from concept_geometry.features.sae import sae_description

    assert sae_description(
        {"source": "pretrained", "release": "gs", "sae_id": "layer_{layer}/w", "path": "unused"}, 7
    ) == {"source": "pretrained", "release": "gs", "sae_id": "layer_7/w"}
    assert sae_description(
        {"source": "local", "path": "saes/l{layer}", "release": "unused"}, 3
    ) == {"source": "local", "path": "saes/l3"}
    train = dict(
        width=64,
        steps=10,
        batch_size=8,
        lr=0.01,
        l1_coefficient=0.5,
        l1_warm_up_steps=2,
        n_train_tokens=1000,
    )
    assert sae_description({"source": "train", "path": "unused", **train}, 1) == {
        "source": "train",
        **train,
    }


def test_unreadable_saelens_folder_names_the_folder_key_and_error(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "cfg.json").write_text("{not json")
    with pytest.raises(MissingResourceError) as err:
        load_local_sae(tmp_path / "s", "features.sae")
    msg = str(err.value)
    assert f"Could not load the SAE in {tmp_path / 's'} (config key `features.sae`): " in msg
    assert "Expecting property name" in msg and "cfg.json + sae_weights.safetensors" in msg


def test_the_learning_rate_reaches_the_optimiser():
    """Same seed, same batches: the first loss (before any update) is the same at lr 0 and
    lr 0.01, the later ones differ."""
    acts = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    runs = [
        train_sae(
            acts,
            width=6,
            steps=3,
            batch_size=8,
            lr=lr,
            l1_coefficient=0.1,
            l1_warm_up_steps=0,
            seed=0,
            progress=False,
        ).losses
        for lr in (0.0, 0.01)
    ]
    assert runs[0][0] == runs[1][0]
    assert not np.allclose(runs[0][1:], runs[1][1:])


def test_check_sae_fits_checks_width_and_layer(tmp_path):
    from sae_lens import StandardSAE, StandardSAEConfig

    from concept_geometry.features.sae import check_sae_fits

    sae = StandardSAE(StandardSAEConfig(d_in=8, d_sae=4))
    sae.cfg.metadata.hook_name = "blocks.3.hook_resid_post"
    check_sae_fits(sae, 8, 3, "features.sae")
    with pytest.raises(ConfigError, match=r"SAE of layer 3 \(features.sae\) has d_in = 8"):
        check_sae_fits(sae, 16, 3, "features.sae")
    with pytest.raises(ConfigError, match="configured for layer 4"):
        check_sae_fits(sae, 8, 4, "features.sae")


def test_a_layer_mismatch_names_the_layer_the_sae_was_configured_for():
    """The hook check's messages say which layer's SAE is wrong ("the SAE of layer 4"): one
    trained after block 3, and one trained on an attention output."""
    from sae_lens import StandardSAE, StandardSAEConfig

    from concept_geometry.features.sae import check_sae_fits

    sae = StandardSAE(StandardSAEConfig(d_in=8, d_sae=4))
    sae.cfg.metadata.hook_name = "blocks.3.hook_resid_post"
    with pytest.raises(
        ConfigError,
        match=r"^Invalid config: the SAE of layer 4 was trained on hook "
        r"`blocks\.3\.hook_resid_post` \(the residual stream after block 3\), but it is "
        r"configured for layer 4\. Check `galaxy\.sae` \(its `\{layer\}` placeholder must give "
        r"each layer its own SAE\) or `features\.layers`\.$",
    ):
        check_sae_fits(sae, 8, 4, "galaxy.sae")
    sae.cfg.metadata.hook_name = "blocks.4.attn.hook_z"
    with pytest.raises(
        ConfigError,
        match=r"^Invalid config: the SAE of layer 4 was trained on hook `blocks\.4\.attn\.hook_z`, "
        r"which is not the residual stream after a block;.*Give residual-stream SAEs in "
        r"`galaxy\.sae`\.$",
    ):
        check_sae_fits(sae, 8, 4, "galaxy.sae")


def test_training_shows_a_bar_with_its_shape_and_loss_unless_told_not_to(capsys):
    """progress (the default): a bar labelled with d_model and the width, 3 of 3 steps, the
    loss to three decimals; progress=False: nothing on stderr."""
    acts = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    kw = dict(width=6, steps=3, batch_size=8, lr=0.01, l1_coefficient=0.1, l1_warm_up_steps=0)
    capsys.readouterr()
    train_sae(acts, seed=0, **kw)
    err = capsys.readouterr().err
    assert "train SAE d=4 F=6: 100%" in err and "| 3/3 [" in err, err
    assert re.search(r"loss=-?\d+\.\d{3}\]", err), err
    train_sae(acts, seed=0, progress=False, **kw)
    assert capsys.readouterr().err == ""


def test_metadata_without_a_hook_name_says_nothing_about_the_layer():
    from types import SimpleNamespace

    from concept_geometry.features.sae import hook_layer

    sae = SimpleNamespace(cfg=SimpleNamespace(metadata=SimpleNamespace(sae_lens_version="6")))
    assert hook_layer(sae) == (None, None)


def test_each_training_step_sees_one_batch_of_tokens(monkeypatch):
    """40 tokens, 4 held back (10 %), batches of 8: every step's input is (8, d_model); with
    batch_size above the 36 training tokens, each step takes all 36."""
    from sae_lens import StandardTrainingSAE

    shapes = []
    original = StandardTrainingSAE.training_forward_pass

    def spy(self, step_input):
        shapes.append(tuple(step_input.sae_in.shape))
        return original(self, step_input)

    monkeypatch.setattr(StandardTrainingSAE, "training_forward_pass", spy)
    acts = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    kw = dict(width=6, steps=3, lr=0.01, l1_coefficient=0.1, l1_warm_up_steps=0, seed=0)
    train_sae(acts, batch_size=8, progress=False, **kw)
    assert shapes == [(8, 4)] * 3
    shapes.clear()
    train_sae(acts, batch_size=100, progress=False, **kw)
    assert shapes == [(36, 4)] * 3
