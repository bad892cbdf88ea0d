"""The sub-commands of ``autopilot``: one module each, registered by ``autopilot.cli``.

Exit codes, the same for every command:

- ``0`` done, and nothing to report;
- ``1`` done, and there is something to report: a ``--check`` found a stale file,
  ``plan`` found changes, ``render`` found assets it cannot render, ``explain`` found
  no asset for the object;
- ``2`` not done: bad flags or input the user can fix (files, kubeconfig, an
  unreachable API server), reported as one line;
- ``3`` not done: an unexpected internal error, reported as one line;
- ``130`` interrupted (Ctrl-C).
"""

from __future__ import annotations

import re

EXIT_OK = 0
EXIT_NO = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130

# ``:func:`a.b.c``` and ``:class:`~a.b.C``` (a leading ~ shows only the last part).
_ROLE = re.compile(r":[a-z]+:`(~?)([^`]+)`")


class UsageError(Exception):
    """A problem with the user's input; printed as one line, exit code 2."""


def plain_help(doc: str | None) -> str | None:
    """A module docstring as ``--help`` text: Sphinx roles and double backticks removed."""
    if doc is None:
        return None

    def role(match: re.Match[str]) -> str:
        target = match.group(2)
        return target.rsplit(".", 1)[-1] if match.group(1) else target

    return _ROLE.sub(role, doc).replace("``", "")
