"""Cross-field checks of the config section ``simulation`` (run at start-up)."""

from __future__ import annotations

from ..errors import CONFIG_HINT as _HINT
from ..errors import ConfigError

MAX_M = 10  # 3^10 contexts x 2^10 outputs = 6e7 exact conditionals (~0.5 GB float64)


def check_simulation_config(config: dict) -> None:
    """Raise ConfigError naming the key when ``config['simulation']`` cannot run."""
    sim = config.get("simulation") or {}
    if not sim:
        return
    m = sim["m"]
    if m > MAX_M:
        raise ConfigError(
            f"Invalid config: key `simulation.m` = {m} is too large for exact enumeration: "
            f"the study computes all 3^m x 2^m = {3**m * 2**m:.2e} exact conditionals "
            f"(limit m <= {MAX_M}). Lower `simulation.m`. {_HINT}"
        )
    if not sim["cpt_low"] < sim["cpt_high"]:
        raise ConfigError(
            f"Invalid config: keys `simulation.cpt_low` = {sim['cpt_low']} and "
            f"`simulation.cpt_high` = {sim['cpt_high']} must satisfy cpt_low < cpt_high. "
            f"{_HINT}"
        )
    if sim["log_every"] > sim["steps"]:
        raise ConfigError(
            f"Invalid config: key `simulation.log_every` = {sim['log_every']} exceeds "
            f"`simulation.steps` = {sim['steps']}; the training curve would have no point. "
            f"{_HINT}"
        )
    enabled = set(sim["experiments"])
    for q in sim["concept_fracs"] if "incomplete_concepts" in enabled else []:
        if q * 2**m < 4:
            raise ConfigError(
                f"Invalid config: key `simulation.concept_fracs` holds {q}, which keeps "
                f"{q * 2**m:.1f} of the 2^m = {2**m} outputs; at least 4 are needed for "
                f"any steering vector pair. Raise it or raise `simulation.m`. {_HINT}"
            )
    for q in sim["context_fracs"] if "incomplete_contexts" in enabled else []:
        if q * 3**m < 2:
            raise ConfigError(
                f"Invalid config: key `simulation.context_fracs` holds {q}, which keeps fewer "
                f"than 2 of the 3^m = {3**m} contexts. Raise it. {_HINT}"
            )
