"""The sub-commands of ``autopilot``: one module each, registered by :mod:`autopilot.cli`."""


class UsageError(Exception):
    """A problem with the user's input; printed as one line, exit code 2."""
