"""Issue 9: bad input is refused with one clear paragraph, and leaves no partial output.

One table, one row per kind of bad input: the config (checked before any job, `snakemake -n`)
and the data, models and SAEs a job reads (a real run on a tiny config). Each row asserts the
message names the culprit and the fix, that no traceback is shown, and that the failing
stage left no output behind.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import yaml
from conftest import run_snakemake
from tiny_models import make_tiny_llama, make_word_tokenizer

pytestmark = pytest.mark.workflow

SMALL_FEATURES = {
    "corpus": {
        "name": "stdlib",
        "source": "stdlib",
        "n_documents": 12,
        "max_chars": 3000,
        "min_chars": 200,
    },
    "layers": [1],
    "sae": {"source": "train", "width": 96, "steps": 20, "batch_size": 64, "n_train_tokens": 500},
}


def _gemma_scope_params(folder, d_in, width=32):
    """A JumpReLU SAE in Gemma Scope's params.npz format."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    np.savez(
        folder / "params.npz",
        W_enc=rng.normal(size=(d_in, width)).astype(np.float32),
        W_dec=rng.normal(size=(width, d_in)).astype(np.float32),
        b_enc=np.zeros(width, np.float32),
        b_dec=np.zeros(d_in, np.float32),
        threshold=np.ones(width, np.float32),
    )
    return folder


def _llama_and_data(tmp, folder, files, vocab):
    """A tiny Llama whose tokenizer knows ``vocab``, and a folder of data files (name -> text)."""
    model = tmp / "llama"
    make_tiny_llama(model, make_word_tokenizer(vocab))
    data = tmp / folder
    data.mkdir()
    for name, text in files.items():
        (data / name).write_text(text)
    return model, data


def _llama_with_concepts(tmp, lines_by_file, vocab):
    model, concepts = _llama_and_data(
        tmp, "concepts", {n: "".join(lines) for n, lines in lines_by_file.items()}, vocab
    )
    return {
        "stages": ["alignment"],
        "alignment": {"models": [{"name": "tiny", "path": str(model), "concepts": str(concepts)}]},
    }


def case_unknown_key(tmp):
    return (
        {"stages": ["simulation"], "simulation": {"m": 4, "step": 10}},
        ["'step' was unexpected", "under `simulation`"],
        "config",
    )


def case_wrong_type(tmp):
    return (
        {"stages": ["features"], "features": {"layers": "three"}},
        ["key `features.layers`", "'three'"],
        "config",
    )


def case_impossible_size(tmp):
    return (
        {"stages": ["simulation"], "simulation": {"m": 14}},
        ["`simulation.m` = 14", "too large for exact enumeration"],
        "config",
    )


def case_layer_outside_model(tmp):
    return (
        {"stages": ["features"], "features": {**SMALL_FEATURES, "layers": [7]}},
        ["`features.layers` asks for layer(s) [7]", "has 6 blocks"],
        "config",
    )


def case_model_missing_offline(tmp):
    cfg = {
        "stages": ["alignment"],
        "alignment": {
            "models": [
                {
                    "name": "gone",
                    "path": "someone/not-on-this-machine",
                    "concepts": "config/concepts",
                }
            ]
        },
    }
    return cfg, ["alignment.models[gone].path", "local"], "results/alignment/gone"


def case_sae_missing_offline(tmp):
    feats = {
        **SMALL_FEATURES,
        "sae": {
            "source": "pretrained",
            "release": "gemma-scope-2b-pt-res",
            "sae_id": "layer_{layer}/width_16k/average_l0_41",
        },
    }
    return (
        {"stages": ["features"], "features": feats},
        ["features.sae", "source: local"],
        "results/features",
    )


def case_sae_d_in_mismatch(tmp):
    _gemma_scope_params(tmp / "sae" / "layer_1", d_in=16)
    feats = {
        **SMALL_FEATURES,
        "sae": {"source": "local", "path": str(tmp / "sae" / "layer_{layer}")},
    }
    return {"stages": ["features"], "features": feats}, ["d_in", "16", "384"], "results/features"


def case_sae_hook_layer_mismatch(tmp):
    """An SAE of the right width but trained on another layer's residual stream."""
    import torch
    from sae_lens import StandardSAE, StandardSAEConfig

    sae = StandardSAE(StandardSAEConfig(d_in=384, d_sae=32))
    torch.nn.init.normal_(sae.W_dec)
    sae.cfg.metadata.hook_name = "blocks.3.hook_resid_post"
    sae.save_model(str(tmp / "sae_l3"))
    feats = {**SMALL_FEATURES, "sae": {"source": "local", "path": str(tmp / "sae_l3")}}
    return (
        {"stages": ["features"], "features": feats},
        ["blocks.3.hook_resid_post", "configured for layer 1", "features.sae"],
        "results/features",
    )


def case_malformed_word_pairs(tmp):
    cfg = _llama_with_concepts(
        tmp,
        {"a.txt": ["cat\tcats\n", "dog dogs\n"], "b.txt": ["big\tbigger\n"]},
        "cat cats dog dogs big bigger".split(),
    )
    return cfg, ["a.txt, line 2", "base<TAB>target"], "results/alignment/tiny"


def case_words_do_not_tokenize(tmp):
    cfg = _llama_with_concepts(
        tmp,
        {"a.txt": ["zebra\tzebras\n"], "b.txt": ["okapi\tokapis\n"]},
        "cat cats dog dogs".split(),
    )
    return cfg, ["do not tokenize", "0 of 2 pairs", "unknown_token"], "results/alignment/tiny"


def _crystals_with_relations(tmp, files, vocab):
    model, rel = _llama_and_data(tmp, "relations", files, vocab)
    return {
        "stages": ["crystals"],
        "crystals": {
            "model": {"path": str(model), "name": "tiny"},
            "layers": ["embed"],
            "relations_dir": str(rel),
            "min_pairs_per_relation": 10,
            "lda": {"n_components": 1},
            "silhouette": {"n_splits": 2},
            "distractors": {"n_components": 2},
        },
    }


def case_malformed_relation_file(tmp):
    good = json.dumps([{"input": f"a{i}", "output": f"b{i}"} for i in range(12)])
    cfg = _crystals_with_relations(
        tmp,
        {"good.json": good, "bad.json": '[{"input": "a0"}]'},
        [f"{c}{i}" for c in "ab" for i in range(12)],
    )
    return cfg, ["bad.json", "is malformed", "entry 0"], "results/crystals"


def case_relation_words_do_not_tokenize(tmp):
    one = json.dumps([{"input": f"a{i}", "output": f"b{i}"} for i in range(12)])
    two = json.dumps([{"input": f"zz{i}", "output": f"yy{i}"} for i in range(12)])
    cfg = _crystals_with_relations(
        tmp, {"one.json": one, "two.json": two}, [f"{c}{i}" for c in "ab" for i in range(12)]
    )
    return (
        cfg,
        ["Only 1 relation(s) have usable pairs", "unknown_both", "crystals.model.path"],
        "results/crystals",
    )


def case_empty_corpus(tmp):
    (tmp / "empty.jsonl").write_text("")
    feats = {
        **SMALL_FEATURES,
        "corpus": {"name": "empty", "source": "local", "path": str(tmp / "empty.jsonl")},
    }
    return (
        {"stages": ["features"], "features": feats},
        ["empty.jsonl", "no document"],
        "results/features",
    )


def case_unreadable_corpus(tmp):
    feats = {
        **SMALL_FEATURES,
        "corpus": {"name": "nope", "source": "local", "path": str(tmp / "missing.parquet")},
    }
    return {"stages": ["features"], "features": feats}, ["missing.parquet"], "results/features"


# --- issue 13: numbers that make no sense, data encodings, storage faults ----------------


def case_nan_threshold(tmp):
    return (
        {"stages": ["features"], "features": {"threshold": float("nan")}},
        ["key `features.threshold` = nan", "not a finite number"],
        "config",
    )


def case_infinite_learning_rate(tmp):
    return (
        {"stages": ["simulation"], "simulation": {"lr": float("inf")}},
        ["key `simulation.lr` = inf", "not a finite number"],
        "config",
    )


def case_whole_number_as_float(tmp):
    return (
        {"stages": ["simulation"], "simulation": {"m": 3.0}},
        ["key `simulation.m` = 3.0", "without the decimal point: 3"],
        "config",
    )


def case_float_seed_in_a_list(tmp):
    return (
        {"stages": ["simulation"], "simulation": {"seeds": [0.0]}},
        ["key `simulation.seeds.0` = 0.0", "without the decimal point: 0"],
        "config",
    )


def case_max_length_above_the_model(tmp):
    return (
        {"stages": ["features"], "features": {**SMALL_FEATURES, "max_length": 600}},
        ["`features.max_length` = 600", "512 positions", "at most 512"],
        "config",
    )


def case_relation_without_file(tmp):
    return (
        {"stages": ["crystals"], "crystals": {"relations": ["country-capital", "no-such"]}},
        ["`crystals.relations` lists ['no-such']", "no JSON file"],
        "config",
    )


def _local_corpus(tmp, name, data: bytes):
    (tmp / name).write_bytes(data)
    feats = {
        **SMALL_FEATURES,
        "corpus": {"name": "mine", "source": "local", "path": str(tmp / name)},
    }
    return {"stages": ["features"], "features": feats}


def case_non_utf8_corpus(tmp):
    line = json.dumps({"text": "caf_ " * 80, "meta": {"pile_set_name": "A"}}).encode()
    return (
        _local_corpus(tmp, "latin.jsonl", line.replace(b"_", b"\xe9") + b"\n"),
        ["latin.jsonl is not UTF-8", "iconv"],
        "results/features",
    )


def case_corpus_as_json_array(tmp):
    docs = [{"text": "x " * 200, "meta": {"pile_set_name": "A"}}] * 3
    return (
        _local_corpus(tmp, "docs.json", json.dumps(docs).encode()),
        ["docs.json is a JSON list, not an object", "jq -c"],
        "results/features",
    )


def case_text_null(tmp):
    docs = [{"text": None, "meta": {"pile_set_name": "A"}}]
    return (
        _local_corpus(tmp, "null.jsonl", "".join(json.dumps(d) + "\n" for d in docs).encode()),
        ["`text` = null, not a string", "features.corpus.text_field"],
        "results/features",
    )


def case_no_feature_fires(tmp):
    _gemma_scope_params(tmp / "sae" / "layer_1", d_in=384)  # no SAE training: cheaper
    feats = {
        **SMALL_FEATURES,
        "threshold": 1e9,
        "sae": {"source": "local", "path": str(tmp / "sae" / "layer_{layer}")},
    }
    return (
        {"stages": ["features"], "features": feats},
        ["No SAE feature of layer 1 fires", "Lower `features.threshold`"],
        "results/features",
    )


# Storage faults: CI runs as root, whom write bits do not stop, so each runs Snakemake in a
# private mount namespace over a tiny tmpfs / a read-only bind mount of results/, and lists
# what is left in it (from inside, where the mount is visible) after the run.
_LIST_LEFT = 'rc=$?; find results -type f | sed "s/^/LEFT: /"; exit $rc'


def case_disk_full(tmp):
    (tmp / "results").mkdir()
    mount = f"mount -t tmpfs -o size=16k tmpfs {tmp / 'results'}"
    return (
        {"stages": ["features"], "features": SMALL_FEATURES},
        [
            "No space left on device (errno ENOSPC)",
            "results/corpus/stdlib/documents.parquet",
            "Free space",
        ],
        "results",
        mount,
    )


def case_read_only_results(tmp):
    (tmp / "results").mkdir()
    from concept_geometry import io

    io.write_json(tmp / "results" / "kept.json", {"an earlier": "result"})
    res = tmp / "results"
    mount = f"mount --bind {res} {res} && mount -o remount,ro,bind {res}"
    return (
        {"stages": ["features"], "features": SMALL_FEATURES},
        [f"{res} is not writable", "nothing was run", "--directory"],
        "results",
        mount,
    )


CASES = [
    case_unknown_key,
    case_wrong_type,
    case_impossible_size,
    case_layer_outside_model,
    case_model_missing_offline,
    case_sae_missing_offline,
    case_sae_d_in_mismatch,
    case_sae_hook_layer_mismatch,
    case_malformed_word_pairs,
    case_words_do_not_tokenize,
    case_malformed_relation_file,
    case_relation_words_do_not_tokenize,
    case_empty_corpus,
    case_unreadable_corpus,
    case_nan_threshold,
    case_infinite_learning_rate,
    case_whole_number_as_float,
    case_float_seed_in_a_list,
    case_max_length_above_the_model,
    case_relation_without_file,
    case_non_utf8_corpus,
    case_corpus_as_json_array,
    case_text_null,
    case_no_feature_fires,
    case_disk_full,
    case_read_only_results,
]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[5:] for c in CASES])
def test_bad_input_gives_one_clear_paragraph_and_no_partial_output(tmp_path, case, monkeypatch):
    cfg, needles, where, *mount = case(tmp_path)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    args = ["-n"] if where == "config" else []
    if mount:
        proc = _run_in_mount_namespace(tmp_path, path, mount[0], args)
    else:
        proc = run_snakemake(tmp_path, path, *args, check=False, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    for needle in needles:
        assert needle in out, f"{needle!r} not in:\n{out[-3000:]}"
    assert "Traceback (most recent call last)" not in out
    if where == "config":
        assert not (tmp_path / "results").exists()
    else:
        # The failing job wrote nothing: no output at all under the stage's folder except
        # outputs of jobs that finished before it (corpus, samples), each checksum-verified.
        from concept_geometry import io

        stage = tmp_path / where
        for f in stage.rglob("*") if stage.exists() else []:
            if f.is_file() and not f.name.endswith(io.SIDECAR_SUFFIX) and io.MANIFEST not in str(f):
                io.verify(f)
        assert not list(tmp_path.rglob("*.tmp-*")) and not list(tmp_path.rglob(".*.tmp-*"))
    if mount:  # what the job left in the mounted results/: only what was there before
        left = sorted(line[6:] for line in proc.stdout.splitlines() if line.startswith("LEFT: "))
        assert left == sorted(
            str(p.relative_to(tmp_path)) for p in (tmp_path / "results").rglob("*") if p.is_file()
        ), left


def _run_in_mount_namespace(workdir, configfile, mount, args):
    """Snakemake as run_snakemake does, after ``mount`` in a private mount namespace."""
    import shlex
    import shutil
    import subprocess

    from conftest import snakemake_cmd

    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare (a private mount namespace)")
    cmd = shlex.join(snakemake_cmd(workdir, configfile, *args))
    script = f"set -e; {mount}; set +e; cd {shlex.quote(str(workdir))}; {cmd}; {_LIST_LEFT}"
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_empty_sidecar_with_a_stale_incomplete_marker_gives_no_traceback(tmp_path):
    """Issue 13 §7, first row: a `.sha256` sidecar left empty (e.g. by a full disk) plus the
    incomplete marker of a killed run made every command, --unlock included, die at parse
    time with a JSONDecodeError. Now a dry run and --unlock run; a plain run finds state that
    no run record proves stale, so it touches nothing and prints the project's paragraph with
    the user's step (Snakemake then refuses the incomplete file); that step, a rerun with
    --rerun-incomplete, rebuilds the unverifiable artifact."""
    from base64 import urlsafe_b64encode

    from concept_geometry import io

    cfg = {
        "stages": ["simulation"],
        "simulation": {
            "m": 4,
            "d": 4,
            "steps": 20,
            "log_every": 10,
            "seeds": [0],
            "experiments": ["full"],
        },
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    rel = "results/simulation/runs/full/seed_0/concepts.tsv"
    target = tmp_path / rel
    target.parent.mkdir(parents=True)
    target.write_text("half a table")
    io.sidecar(target).write_text("")
    marker = tmp_path / ".snakemake" / "incomplete"
    marker.mkdir(parents=True)
    (marker / urlsafe_b64encode(rel.encode()).decode()).write_text("{}")
    for args in (["-n"], ["--unlock"], [rel], ["--rerun-incomplete", rel]):
        proc = run_snakemake(tmp_path, path, *args, check=False, timeout=300)
        out = proc.stdout + proc.stderr
        assert "Traceback (most recent call last)" not in out and "JSONDecodeError" not in out, out[
            -3000:
        ]
        if args == [rel]:  # the plain run: nothing proven stale, so nothing touched
            assert proc.returncode != 0 and "None of it was touched" in out, out[-3000:]
            assert "--rerun-incomplete" in out and target.read_text() == "half a table"
    assert proc.returncode == 0, out[-3000:]  # the user's step
    io.verify(target)  # rebuilt, with a checksum that matches
    assert target.read_text() != "half a table"


def test_one_lda_direction_and_repeated_pairs_run_to_the_figures(tmp_path):
    """Issue 13 §7 (`crystals.lda.n_components: 1` was an IndexError in the figures) and §6
    (repeated pairs are flagged in pairs.tsv, and each distinct pair is used once where the
    statistics are corrected): two relations, the first repeating one pair twice more."""
    from concept_geometry import io

    one = [{"input": f"a{i}", "output": f"b{i}"} for i in range(12)] + [
        {"input": "a0", "output": "b0"}
    ] * 2
    two = [{"input": f"c{i}", "output": f"d{i}"} for i in range(12)]
    cfg = _crystals_with_relations(
        tmp_path,
        {"one.json": json.dumps(one), "two.json": json.dumps(two)},
        [f"{c}{i}" for c in "abcd" for i in range(12)],
    )
    assert cfg["crystals"]["lda"]["n_components"] == 1
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run_snakemake(tmp_path, path)
    d = tmp_path / "results/crystals/tiny/layer_embed"
    pairs = io.read_tsv(d / "pairs.tsv")
    assert pairs.groupby("relation")["duplicate"].sum().to_dict() == {"one": 2, "two": 0}
    assert pairs["used"].all()  # faithful: the repeats stay in differences.npz
    diff = io.read_npz(d / "differences.npz")
    assert (diff["pair_id"] != np.arange(len(diff["pair_id"]))).sum() == 2
    clusters = io.read_tsv(d / "clusters.tsv").set_index(["space", "variant"])["n_pairs"]
    assert clusters["raw", "corrected"] == round(24 * 0.5)  # held-out distinct pairs only
    assert clusters["raw", "faithful"] == 26  # in sample, every row, repeats kept
    for ext in ("png", "pdf"):
        assert (d / f"figures/difference_views.{ext}").stat().st_size > 1000
