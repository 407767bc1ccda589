"""The package's error base class: the CLI turns these into a message and exit status 2."""


class MediamixError(ValueError):
    """Bad input to mediamix: the message says what was wrong, where, and what is allowed."""
