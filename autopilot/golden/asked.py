"""What the templates ask of the cluster by a literal name, read from their source.

A template calling ``crd_enum("<CRD name>", ...)`` reads that CRD whole. The
controller's watch of every CRD keeps only what kind tracking needs of each, so
the CRDs named here are kept whole by that same watch and answer the lookup: no
watch of their own. A name the scan cannot see (computed at render time) still
works; its lookup starts a watch of that CRD alone.
"""

from __future__ import annotations

import re

from autopilot.golden.catalog import GoldenState

# A call with a quoted first argument. Read from the text, not a parse of each template
# (a parse of every template costs the start some 50 ms); a call in a comment only
# keeps one more CRD whole, which is harmless.
_CRD_ENUM = re.compile(r"""\bcrd_enum\(\s*(["'])([^"'\s]+)\1""")


def crds_read_by_name(golden: GoldenState) -> frozenset[str]:
    """The CRD names the golden state's templates pass to ``crd_enum`` as literals."""
    names: set[str] = set()
    for asset in golden.assets:
        try:
            text = (golden.root / asset.path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # the loader reports an unreadable template; nothing to learn here
        names.update(match.group(2) for match in _CRD_ENUM.finditer(text))
    return frozenset(names)
