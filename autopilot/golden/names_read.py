"""Which names a template's source mentions, recorded as Jinja2 compiles it.

:func:`autopilot.golden.kinds.rendered_objects` renders every asset in several
variants of the context that differ in a few names only (the topology, the cluster
lookups); a template that mentions none of them renders the same in all, so once is
enough. The names come from the lexer's token stream, which the compile reads anyway
(a Jinja2 extension's public hook): every ``name`` token, keywords, attributes and
filters included, a superset of the variables read, so a doubt always means "renders
differently".
"""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import Environment
from jinja2.ext import Extension
from jinja2.lexer import TOKEN_NAME, Token, TokenStream

# What makes a template read another one, whose names this template's stream lacks.
OTHER_TEMPLATES = frozenset({"include", "import", "extends", "from"})
_ATTRIBUTE = "autopilot_names_read"


class NamesRead(Extension):
    """Records the names in each template's token stream, by template name."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.extend(**{_ATTRIBUTE: {}})

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        """Pass every token on, noting the names (as they pass: the parser may stop
        pulling at the end of the template, before this generator would finish)."""
        names: set[str] = set()
        if stream.name is not None:
            getattr(self.environment, _ATTRIBUTE)[stream.name] = names
        for token in stream:
            if token.type == TOKEN_NAME:
                names.add(str(token.value))
            yield token


def names_read(environment: Environment, template: str) -> frozenset[str] | None:
    """The names ``template``'s source mentions, or None when it was not compiled
    with :class:`NamesRead` (then any name may be read)."""
    recorded = getattr(environment, _ATTRIBUTE, {}).get(template)
    if recorded is None:
        return None
    return frozenset(recorded)
