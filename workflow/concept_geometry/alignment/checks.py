"""Cross-field checks of the `alignment` config section (run at start-up)."""

from __future__ import annotations

from ..errors import ConfigError

TRAIN = "train"


def check_alignment_config(config: dict) -> None:
    """Unique model names; no `concepts` for the toy model; heads divide d_model; filler
    sentences need filler words."""
    section = config.get("alignment", {})
    models = section.get("models", [])
    names = [m["name"] for m in models]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(
            f"Invalid config: key `alignment.models` names {dup} more than once; each model "
            f"writes results/alignment/<name>/, so give every entry its own `name`."
        )
    for m in models:
        if m["path"] == TRAIN and "concepts" in m:
            raise ConfigError(
                f"Invalid config: key `alignment.models[{m['name']}].concepts` is set, but its "
                f"`path: train` model takes its concept pairs from its own vocabulary. Remove "
                f"`concepts` from that entry (or point `path` at a real model)."
            )
    toy = section.get("toy")
    if any(m["path"] == TRAIN for m in models) and toy:
        if toy["d_model"] % toy["heads"]:
            raise ConfigError(
                f"Invalid config: key `alignment.toy.heads` = {toy['heads']} does not divide "
                f"`alignment.toy.d_model` = {toy['d_model']}. Choose heads that divide d_model."
            )
        if toy.get("filler_prob", 0) > 0 and toy.get("fillers", 0) == 0:
            raise ConfigError(
                f"Invalid config: `alignment.toy.filler_prob` = {toy['filler_prob']} but "
                f"`alignment.toy.fillers` = 0, so there are no filler words to write filler "
                f"sentences with. Set `fillers` > 0 or `filler_prob: 0`."
            )
        if (toy["d_model"] // toy["heads"]) % 2:
            raise ConfigError(
                f"Invalid config: `alignment.toy.d_model / heads` = "
                f"{toy['d_model'] // toy['heads']} is odd; Llama's rotary embedding needs an even "
                f"head size. Change `alignment.toy.d_model` or `alignment.toy.heads`."
            )
