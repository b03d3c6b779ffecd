# Stage features: paths (declared once), input functions and final targets of the rules
# in features.smk, which includes this file first.

FEATURES = SETTINGS.features
CORPUS_FILE = "results/corpus/{corpus}/documents.parquet"
FEATURES_BASE = "results/features/{model}/{corpus}"
FEATURES_DIR = f"{FEATURES_BASE}/layer_{{layer}}"  # one layer's features artifacts
SAE_DIR = "results/sae/{model}/{saeset}/layer_{layer}"  # + .info.json, .decoder.npy
SAE_SAMPLE = f"{FEATURES_BASE}/sae_sample/layer_{{layer}}.npy"


def sae_path(saeset, suffix=""):
    """SAE_DIR of one SAE set (`features` or `galaxy`) + suffix (.info.json, .decoder.npy)."""
    return SAE_DIR.replace("{saeset}", saeset) + suffix


def sae_fingerprint(saeset, layers):
    """Fingerprints of a local SAE's folder per layer (a params entry; None otherwise)."""
    sae = SETTINGS.sae(saeset)
    path = sae.resolved.get("path")
    if sae.source != "local" or not path:
        return None
    return [fingerprint(path.replace("{layer}", str(layer))) for layer in layers]


def corpus_fingerprint():
    """Fingerprint of a local corpus file (features.corpus.path), else None."""
    return fingerprint(FEATURES.corpus_path)


def sae_identity(model, saeset, layer):
    """What the SAE of one layer is (recorded with its files, checked where they are read):
    a params entry of the rules that write it, so a change also reruns them."""
    sae = SETTINGS.sae(saeset)
    settings = {
        "sae": sae.resolved,
        "sae_files": sae_fingerprint(saeset, [layer]),
        "model": FEATURES.model.spec,
        "model_files": fingerprint(FEATURES.model.spec),
        "seed": SETTINGS.seed,
    }
    if sae.source == "train":
        keys = ("corpus", "max_length", "drop_special_tokens", "heldout_fraction")
        settings.update(
            {k: FEATURES.raw[k] for k in keys}, n_tokens=FEATURES.n_train_tokens
        )
        settings["corpus_file"] = corpus_fingerprint()
    label = {
        "train": f"trained:{saeset}",
        "pretrained": f"{sae.spec.get('release')}/{sae.spec.get('sae_id')}",
        "local": str(sae.spec.get("path")),
    }[sae.source]
    return {
        "model": model,
        "layer": str(layer),
        "sae": label.replace("{layer}", str(layer)),
        "config": settings_hash(settings),
    }


def features_identity(model, corpus, layer):
    """What a features artifact of one layer is (firings, co-occurrence, decoder, meta)."""
    sae = sae_identity(model, "features", layer)
    keys = ("corpus", "threshold", "chunk_size", "max_length", "drop_special_tokens")
    settings = {k: FEATURES.raw[k] for k in keys + ("heldout_fraction",)}
    settings.update(sae_config=sae["config"], seed=SETTINGS.seed)
    settings["corpus_file"] = corpus_fingerprint()
    return {**sae, "corpus": corpus, "config": settings_hash(settings)}


def top_contexts_identity(model, corpus, layer):
    """What a layer's top_contexts.npz is: the features identity's fields, its hash also
    covering features.top_contexts (which leaves firings and what follows them unchanged).
    """
    ident = features_identity(model, corpus, layer)
    settings = {
        "features": ident["config"],
        "top_contexts": FEATURES.raw["top_contexts"],
    }
    return {**ident, "config": settings_hash(settings)}


def _sae_trained(wc):
    """Only SAE training needs a GPU and much memory; a local or pretrained SAE is converted
    on the CPU (65k Gemma Scope: 2.6 GiB peak, benchmarks/rehearsal_needs.tsv)."""
    return SETTINGS.sae(wc.saeset).source == "train"


def _sae_inputs(wc):
    if SETTINGS.sae(wc.saeset).source != "train":
        return {}
    return {
        "sample": SAE_SAMPLE.format(
            model=wc.model, corpus=FEATURES.corpus, layer=wc.layer
        )
    }


def _decoder_inputs(wc):
    # Pretrained SAEs are read straight from the hub cache: no copy of e.g. 26 x 65k Gemma Scope SAEs.
    if SETTINGS.sae(wc.saeset).source == "pretrained":
        return {}
    return {"sae": sae_path(wc.saeset).format(model=wc.model, layer=wc.layer)}


def features_layer_files(name):
    """The file `name` of every layer of the features stage (features.layers)."""
    return expand(
        f"{FEATURES_DIR}/{name}",
        model=FEATURES.model.name,
        corpus=FEATURES.corpus,
        layer=FEATURES.layers,
    )


def features_targets():
    """Final outputs of the features (data) stage."""
    names = (
        "firings.npz",
        "cooccurrence.npz",
        "decoder.npy",
        "meta.json",
        "top_contexts.npz",
    )
    return [f for name in names for f in features_layer_files(name)] + [
        *rules.features_summary.output
    ]
