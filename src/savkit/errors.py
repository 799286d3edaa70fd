"""The one exception type for bad input: the CLI turns it into one line on stderr and exit code 2."""


class SavkitError(Exception):
    """Bad input or an unusable dataset; the message says what, where and what to do."""
