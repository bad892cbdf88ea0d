"""The Prometheus text format (0.0.4), rendered so that the runbooks can grep it.

Rendered here rather than by ``generate_latest`` because the runbooks grep the text:
labels must come in the declared order (kind, name, namespace) and integral values
must print as integers (``} 1``, not ``} 1.0``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from prometheus_client.metrics_core import Metric

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_TYPE_NAMES = {
    "counter": "counter",
    "gauge": "gauge",
    "histogram": "histogram",
    "summary": "summary",
    "info": "gauge",
    "stateset": "gauge",
    "gaugehistogram": "histogram",
    "unknown": "untyped",
}


def format_value(value: float) -> str:
    """Print a sample value; integral values without a fractional part."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    # Below 2**53 every integral float is exact, so int() loses nothing.
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render_text(families: Iterable[Metric]) -> bytes:
    """Render metric families in the Prometheus text format.

    Labels keep their declared order; ``_created`` samples (an OpenMetrics
    notion) are left out.
    """
    lines: list[str] = []
    for family in families:
        name = family.name + "_total" if family.type == "counter" else family.name
        if family.type == "info":
            name = family.name + "_info"
        lines.append(f"# HELP {name} {_escape_help(family.documentation)}")
        lines.append(f"# TYPE {name} {_TYPE_NAMES.get(family.type, 'untyped')}")
        for sample in family.samples:
            if sample.name == family.name + "_created":
                continue
            labels = ",".join(f'{k}="{_escape_label(v)}"' for k, v in sample.labels.items())
            label_text = "{" + labels + "}" if labels else ""
            line = f"{sample.name}{label_text} {format_value(sample.value)}"
            if sample.timestamp is not None:
                line += f" {int(float(sample.timestamp) * 1000)}"
            lines.append(line)
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
