"""The one exception type a user sees: a single clear sentence, exit code 2 from the CLI."""


class AvgenError(Exception):
    """A user-facing error: bad input, a missing file, an unsupported value.

    The message is one sentence that names the bad value and what is allowed.
    The CLI prints it on stderr and exits with code 2; the API lets it propagate.
    """


class OutputExistsError(AvgenError):
    """An output file exists (or appeared while generating) and ``overwrite`` was not given."""
