"""RFC 6901 JSON pointers: parsing, escaping and the protected-path check.

JSON pointers are case-sensitive and have no ``.``/``..`` semantics; ``/Kind``
is a different member than ``/kind``. The protected-path check is nevertheless
deliberately paranoid: it refuses a pointer if *any* plausible reading of it
(as written, with empty segments dropped, with dot segments resolved) is at,
under or above a protected location. Over-refusing a pointer to a literal
``..`` key costs nothing; under-refusing could let a patch rename an object.
"""

from __future__ import annotations

from collections.abc import Iterable

Segments = tuple[str, ...]


class PointerSyntaxError(ValueError):
    """The text is not an RFC 6901 JSON pointer."""


def parse_pointer(text: str) -> Segments:
    """Split a pointer into decoded reference tokens (``~1`` -> ``/``, ``~0`` -> ``~``).

    ``""`` is the whole document (no tokens); anything else must start with ``/``
    and may use ``~`` only as ``~0`` or ``~1``.
    """
    if text == "":
        return ()
    if not text.startswith("/"):
        raise PointerSyntaxError(f"{text!r} does not start with '/'")
    tokens = text[1:].split("/")
    for token in tokens:
        rest = token.replace("~0", "").replace("~1", "")
        if "~" in rest:
            raise PointerSyntaxError(f"{text!r} uses '~' other than '~0' or '~1'")
    # Order matters (RFC 6901 §4): ~1 first, so "~01" decodes to "~1", not "/".
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in tokens)


def escape_token(token: str) -> str:
    """Escape one reference token for use in a pointer."""
    return token.replace("~", "~0").replace("/", "~1")


def format_pointer(segments: Iterable[str | int]) -> str:
    """Join tokens back into a pointer string."""
    return "".join("/" + escape_token(str(s)) for s in segments)


def array_index(token: str) -> int | None:
    """The array index a token names (RFC 6901: digits, no leading zeros), else None."""
    if token == "0":
        return 0
    if token and token.isascii() and token.isdigit() and token[0] != "0":
        return int(token)
    return None


def _readings(segments: Segments) -> list[Segments]:
    """The pointer as written, without empty tokens, and with dot tokens resolved."""
    compact = tuple(s for s in segments if s != "")
    resolved: list[str] = []
    for s in compact:
        if s == "..":
            if resolved:
                resolved.pop()
        elif s != ".":
            resolved.append(s)
    return [segments, compact, tuple(resolved)]


def _related(a: Segments, b: Segments) -> bool:
    """True if one path is a prefix of (or equal to) the other."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def touches(segments: Segments, protected: Iterable[Segments]) -> Segments | None:
    """The protected path this pointer is at, under or above, if any.

    "Above" counts because replacing or removing ``/metadata`` (or the root)
    rewrites ``/metadata/name`` too.
    """
    protected = tuple(protected)
    for reading in _readings(segments):
        for guarded in protected:
            if _related(reading, guarded):
                return guarded
    return None
