"""Label selectors (equality and set-based) and field selectors."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubesim.errors import SimError

_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|[^\s!=(),]+)")


@dataclass(frozen=True)
class Requirement:
    """One label requirement: ``key op values``."""

    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether ``labels`` satisfy the requirement."""
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        # "!=" and "notin" match objects without the key too.
        return not present or value not in self.values


def _split_top(text: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _bad(selector: str, why: str) -> SimError:
    return SimError(400, f'unable to parse requirement: {why} in selector "{selector}"')


def parse_label_selector(selector: str) -> list[Requirement]:
    """Parse ``a=b,c!=d,e in (x,y),!f,g`` into requirements (400 on bad syntax)."""
    reqs: list[Requirement] = []
    for part in _split_top(selector or ""):
        m = re.fullmatch(r"([^\s!=(),]+)\s+(in|notin)\s*\(([^)]*)\)", part)
        if m:
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append(Requirement(m.group(1), m.group(2), values))
            continue
        m = re.fullmatch(r"!\s*([^\s!=(),]+)", part)
        if m:
            reqs.append(Requirement(m.group(1), "!"))
            continue
        m = re.fullmatch(r"([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)", part)
        if m:
            op = "!=" if m.group(2) == "!=" else "="
            reqs.append(Requirement(m.group(1), op, (m.group(3),)))
            continue
        if re.fullmatch(r"[^\s!=(),]+", part):
            reqs.append(Requirement(part, "exists"))
            continue
        raise _bad(selector, f"invalid requirement {part!r}")
    return reqs


def _field_value(obj: dict[str, Any], path: str) -> str:
    if path.startswith("involvedObject.") and "involvedObject" not in obj and "regarding" in obj:
        # events.k8s.io events are selected by the fields of the core Event they are stored as.
        path = "regarding." + path.split(".", 1)[1]
    cur: Any = obj
    for seg in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(seg)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_field_selector(selector: str) -> list[tuple[str, str, str]]:
    """``metadata.name=x,involvedObject.kind!=Pod`` -> [(path, op, value)]."""
    out: list[tuple[str, str, str]] = []
    for part in _split_top(selector or ""):
        m = re.fullmatch(r"([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)", part)
        if not m:
            raise SimError(400, f'invalid selector: \'{selector}\'; can\'t understand \'{part}\'')
        out.append((m.group(1), "!=" if m.group(2) == "!=" else "=", m.group(3).strip()))
    return out


Matcher = Callable[[dict[str, Any]], bool]


def make_matcher(label_selector: str | None, field_selector: str | None) -> Matcher | None:
    """One predicate for both selectors, or None when nothing is selected on."""
    labels = parse_label_selector(label_selector or "")
    fields = parse_field_selector(field_selector or "")
    if not labels and not fields:
        return None

    def match(obj: dict[str, Any]) -> bool:
        obj_labels = (obj.get("metadata") or {}).get("labels") or {}
        if not all(r.matches(obj_labels) for r in labels):
            return False
        for path, op, value in fields:
            actual = _field_value(obj, path)
            if (actual == value) != (op == "="):
                return False
        return True

    return match


def matches_label_selector(selector: Any, labels: dict[str, str]) -> bool:
    """Whether ``labels`` satisfy a structured ``LabelSelector`` (absent: everything)."""
    if not isinstance(selector, dict):
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if (op == "In" and not (present and labels[key] in values)) or \
                (op == "NotIn" and present and labels[key] in values) or \
                (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True
