"""User-facing errors: each carries one paragraph that names the culprit and the fix."""


class ConceptGeometryError(Exception):
    """An error caused by the user's input (config, files, models), not by a bug.

    Scripts print its message as one paragraph, without a traceback, and exit non-zero.
    """


class ConfigError(ConceptGeometryError):
    """The config does not match the schema or is impossible to run."""


class CorruptArtifactError(ConceptGeometryError):
    """A cached artifact fails its integrity check (truncated or altered)."""


class MissingResourceError(ConceptGeometryError):
    """A model, SAE, tokenizer or corpus cannot be found (offline, bad path)."""


class InputDataError(ConceptGeometryError):
    """Input data is malformed: word-pair files, corpora, tokenization failures."""


# The fix every config error ends with (one wording for every stage's checks).
CONFIG_HINT = (
    "Edit the config file (config/config.yaml, or the one given with --configfile); "
    "every key is documented in config/README.md."
)
