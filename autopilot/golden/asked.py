"""What the templates ask of the cluster by a literal name, read from their source.

A template calling ``crd_enum("<CRD name>", ...)`` reads that CRD whole. The
controller's watch of every CRD keeps only what kind tracking needs of each, so
the CRDs named here are kept whole by that same watch and answer the lookup: no
watch of their own. A name the scan cannot see (computed at render time) still
works; its lookup starts a watch of that CRD alone.
"""

from __future__ import annotations

from jinja2 import TemplateSyntaxError, nodes

from autopilot.golden.catalog import GoldenState


def crds_read_by_name(golden: GoldenState) -> frozenset[str]:
    """The CRD names the golden state's templates pass to ``crd_enum`` as literals."""
    if golden.env is None:
        return frozenset()
    names: set[str] = set()
    for asset in golden.assets:
        try:
            tree = golden.env.parse((golden.root / asset.path).read_text(encoding="utf-8"))
        except (OSError, TemplateSyntaxError):
            continue  # the loader reports a bad template; nothing to learn here
        for call in tree.find_all(nodes.Call):
            first = call.args[0] if call.args else None
            if (isinstance(call.node, nodes.Name) and call.node.name == "crd_enum"
                    and isinstance(first, nodes.Const) and isinstance(first.value, str)):
                names.add(first.value)
    return frozenset(names)
