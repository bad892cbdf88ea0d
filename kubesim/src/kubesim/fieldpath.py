"""Field paths and field sets as structured-merge-diff defines them.

A path element is one of ``("f", name)`` (struct field or map key),
``("k", '{"port":80,"protocol":"TCP"}')`` (list-map item by its keys),
``("v", '"x"')`` (set item by value) or ``("i", 3)`` (list index). A path is a
tuple of elements; a field set is a set of paths (the "members"). The
``fieldsV1`` encoding marks a member that also has members below it with ``"."``.

The typed walks here (field set of an object, removal of items, comparison)
follow the schema's list/map semantics.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from kubesim.schema import DEDUCED, TypeSchema

PathElement = tuple[str, Any]
Path = tuple[PathElement, ...]
FieldSet = set[Path]

MISSING: Any = object()
_TYPE_RANK = {"f": 0, "k": 1, "v": 2, "i": 3}


class InvalidObject(ValueError):
    """An object does not fit its schema's list semantics (e.g. a list-map item without its key)."""


def clone(value: Any) -> Any:
    """Deep copy of a JSON value (much cheaper than ``copy.deepcopy``)."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys (the form used inside ``k:``/``v:`` elements)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


# --- ordering and printing -------------------------------------------------------------------


def _value_rank(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (3, value)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (4, canonical_json(value))


def element_sort_key(pe: PathElement) -> tuple[Any, ...]:
    """Order of path elements: fields, then keys, values, indexes (as the Go library sorts)."""
    kind, raw = pe
    if kind == "f":
        return (0, raw)
    if kind == "k":
        fields = json.loads(raw)
        return (1, tuple((name, _value_rank(fields[name])) for name in sorted(fields)))
    if kind == "v":
        return (2, _value_rank(json.loads(raw)))
    return (_TYPE_RANK.get(kind, 4), raw)


def _value_string(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    return canonical_json(value)


def element_string(pe: PathElement) -> str:
    """One element the way conflict messages print it: ``.name``, ``[port=80,protocol="TCP"]``."""
    kind, raw = pe
    if kind == "f":
        return f".{raw}"
    if kind == "k":
        fields = json.loads(raw)
        return "[" + ",".join(f"{k}={_value_string(fields[k])}" for k in sorted(fields)) + "]"
    if kind == "v":
        return f"[={_value_string(json.loads(raw))}]"
    return f"[{raw}]"


def path_string(path: Path) -> str:
    """A whole path as printed in conflicts, e.g. ``.spec.ports[port=80,protocol="TCP"].name``."""
    return "".join(element_string(pe) for pe in path)


class _Node:
    __slots__ = ("children", "member")

    def __init__(self) -> None:
        self.member = False
        self.children: dict[PathElement, _Node] = {}


def _trie(paths: Iterable[Path]) -> _Node:
    root = _Node()
    for path in paths:
        node = root
        for pe in path:
            node = node.children.setdefault(pe, _Node())
        node.member = True
    return root


def iterate_paths(paths: Iterable[Path]) -> Iterator[Path]:
    """Paths in the Go library's set order: a level's members first, then each child subtree."""
    yield from _iterate(_trie(paths), ())


def _iterate(node: _Node, prefix: Path) -> Iterator[Path]:
    ordered = sorted(node.children.items(), key=lambda item: element_sort_key(item[0]))
    for pe, child in ordered:
        if child.member:
            yield (*prefix, pe)
    for pe, child in ordered:
        if child.children:
            yield from _iterate(child, (*prefix, pe))


# --- fieldsV1 encoding -----------------------------------------------------------------------


def _element_key(pe: PathElement) -> str:
    kind, raw = pe
    if kind == "i":
        return f"i:{raw}"
    return f"{kind}:{raw}"


def _parse_element(key: str) -> PathElement:
    kind, sep, raw = key.partition(":")
    if not sep or kind not in _TYPE_RANK:
        raise InvalidObject(f"invalid fieldsV1 key {key!r}")
    if kind == "i":
        return ("i", int(raw))
    if kind in ("k", "v"):
        return (kind, canonical_json(json.loads(raw)))
    return ("f", raw)


def encode_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """Encode a field set as a ``fieldsV1`` object."""
    return _encode(_trie(paths))


def _encode(node: _Node) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if node.member and node.children:
        out["."] = {}
    for pe, child in sorted(node.children.items(), key=lambda item: element_sort_key(item[0])):
        out[_element_key(pe)] = _encode(child)
    return out


def decode_fields_v1(fields: dict[str, Any]) -> FieldSet:
    """Decode a ``fieldsV1`` object into a field set."""
    out: FieldSet = set()
    _decode(fields, (), out)
    return out


def _decode(fields: dict[str, Any], prefix: Path, out: FieldSet) -> None:
    for key, sub in fields.items():
        if key == ".":
            out.add(prefix)
            continue
        path = (*prefix, _parse_element(key))
        if not isinstance(sub, dict) or not sub:
            out.add(path)
        else:
            _decode(sub, path, out)


# --- typed walks -----------------------------------------------------------------------------


def _shape(schema: TypeSchema, value: Any) -> str:
    """ "map", "list" or "leaf": how a value of this schema is walked."""
    if schema.deduced:
        return "map" if isinstance(value, dict) else "leaf"  # unknown lists are atomic
    if schema.int_or_string:
        return "leaf"
    if schema.is_map():
        return "leaf" if schema.map_type == "atomic" else "map"
    if schema.is_list():
        return "leaf" if schema.list_type not in ("set", "map") else "list"
    return "leaf"


def list_item_element(schema: TypeSchema, item: Any) -> PathElement:
    """The path element of an item of an associative list."""
    if schema.list_type == "map":
        if not isinstance(item, dict):
            raise InvalidObject("associative list with keys has an element that's not a map type")
        keys: dict[str, Any] = {}
        elem = schema.element()
        for name in schema.list_map_keys:
            if name in item:
                keys[name] = item[name]
                continue
            prop = elem.properties.get(name)
            if prop is not None and prop.has_default:
                keys[name] = prop.default
                continue
            raise InvalidObject(
                "associative list with keys has an element that omits key field "
                f'"{name}" (and doesn\'t have default value)'
            )
        return ("k", canonical_json(keys))
    if isinstance(item, dict | list):
        raise InvalidObject("associative list without keys has an element that's a map type")
    return ("v", canonical_json(item))


def index_list(
    schema: TypeSchema, items: Any, path: Path, *, strict: bool
) -> list[tuple[PathElement, Any]]:
    """Items of an associative list with their path elements, first occurrence wins.

    ``strict`` (for applied configurations) rejects duplicate keys like the real server.
    """
    if not isinstance(items, list):
        return []
    out: list[tuple[PathElement, Any]] = []
    seen: set[PathElement] = set()
    for i, item in enumerate(items):
        try:
            pe = list_item_element(schema, item)
        except InvalidObject as exc:
            raise InvalidObject(f"{path_string(path)}: element {i}: {exc}") from None
        if pe in seen:
            if strict:
                raise InvalidObject(
                    f"{path_string(path)}: duplicate entries for key {element_string(pe)}"
                )
            continue
        seen.add(pe)
        out.append((pe, item))
    return out


def to_field_set(value: Any, schema: TypeSchema | None, *, strict: bool = False) -> FieldSet:
    """Every leaf, map key and list item of ``value`` (``ToFieldSet``).

    ``strict`` is for applied configurations: like the server, it rejects duplicate
    list-map keys and fields the schema does not declare.
    """
    out: FieldSet = set()
    _to_set(value, schema or DEDUCED, (), out, strict)
    return out


def _to_set(value: Any, schema: TypeSchema, path: Path, out: FieldSet, strict: bool) -> None:
    shape = _shape(schema, value)
    if shape == "map" and isinstance(value, dict):
        closed = strict and _closed_struct(schema)
        for key, item in value.items():
            sub, named = schema.field(key)
            child = (*path, ("f", key))
            if closed and not named:
                raise InvalidObject(f"{path_string(child)}: field not declared in schema")
            _to_set(item, sub, child, out, strict)
            if item is None or item == {} or not named:
                out.add(child)
    elif shape == "list" and isinstance(value, list):
        for pe, item in index_list(schema, value, path, strict=strict):
            child = (*path, pe)
            _to_set(item, schema.element(), child, out, strict)
            out.add(child)
    elif path:
        out.add(path)


def _closed_struct(schema: TypeSchema) -> bool:
    """A struct whose undeclared fields an applied configuration may not carry."""
    return (
        bool(schema.properties)
        and schema.additional_properties is None
        and not schema.preserve_unknown_fields
    )


def _schema_at(schema: TypeSchema, pe: PathElement) -> TypeSchema:
    if pe[0] == "f":
        return schema.field(pe[1])[0]
    return schema.element()


def ensure_named_members(paths: Iterable[Path], schema: TypeSchema | None) -> FieldSet:
    """Add every named struct field that has members below it (``EnsureNamedFieldsAreMembers``)."""
    root = schema or DEDUCED
    out: FieldSet = set(paths)
    cache: dict[Path, TypeSchema] = {(): root}
    for path in list(out):
        current = root
        for depth in range(len(path) - 1):
            pe = path[depth]
            if pe[0] == "f" and current.is_map() and pe[1] in current.properties:
                out.add(path[: depth + 1])
            prefix = path[: depth + 1]
            known = cache.get(prefix)
            if known is None:
                known = _schema_at(current, pe)
                cache[prefix] = known
            current = known
    return out


_EMPTIED: Any = object()


def remove_items(value: Any, paths: Iterable[Path], schema: TypeSchema | None) -> Any:
    """A copy of ``value`` without the members of ``paths`` (``RemoveItems``).

    A container left empty by the removal disappears (the real server stores it
    as null, which typed decoding and CR null-pruning then drop).
    """
    trie = _trie(paths)
    if trie.member:
        return {}
    result = _remove(value, trie, schema or DEDUCED)
    return {} if result is _EMPTIED else result


def _remove(value: Any, node: _Node, schema: TypeSchema) -> Any:
    shape = _shape(schema, value)
    if shape == "map" and isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            child = node.children.get(("f", key))
            if child is None:
                out[key] = item
            elif not child.member:
                kept = _remove(item, child, schema.field(key)[0])
                if kept is not _EMPTIED:
                    out[key] = kept
        return out if out else _EMPTIED
    if shape == "list" and isinstance(value, list):
        items: list[Any] = []
        for item in value:
            try:
                pe = list_item_element(schema, item)
            except InvalidObject:
                items.append(item)
                continue
            child = node.children.get(pe)
            if child is None:
                items.append(item)
            elif not child.member:
                kept = _remove(item, child, schema.element())
                items.append({} if kept is _EMPTIED else kept)
        return items if items else _EMPTIED
    if shape == "leaf" and isinstance(value, dict | list):
        return _EMPTIED  # an atomic container cannot lose parts; Go turns it into null
    return value


def values_equal(a: Any, b: Any) -> bool:
    """JSON equality (booleans are not numbers; 1 == 1.0)."""
    if a is b:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(values_equal(a[k], b[k]) for k in a)
        )
    if isinstance(a, list):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


class Comparison:
    """Fields added, modified and removed between two objects (``Compare``).

    Containers that appear or vanish are listed too, as the real library does.
    """

    def __init__(self) -> None:
        self.added: FieldSet = set()
        self.modified: FieldSet = set()
        self.removed: FieldSet = set()

    def is_same(self) -> bool:
        """True when nothing changed."""
        return not (self.added or self.modified or self.removed)


def compare(lhs: Any, rhs: Any, schema: TypeSchema | None) -> Comparison:
    """Compare an old object (``lhs``) with a new one (``rhs``)."""
    result = Comparison()
    _compare(lhs, rhs, schema or DEDUCED, (), result)
    return result


def _container_shape(schema: TypeSchema, lhs: Any, rhs: Any) -> str:
    # null on one side counts as an empty container of the other side's shape (Go derefs it).
    present = [v for v in (lhs, rhs) if v is not MISSING and v is not None]
    if not present:
        return "leaf"
    shapes = {_shape(schema, v) for v in present}
    if len(shapes) != 1:
        return "leaf"
    shape = shapes.pop()
    want: type = dict if shape == "map" else list
    if shape != "leaf" and any(not isinstance(v, want) for v in present):
        return "leaf"
    if shape != "leaf" and not any(present):
        return "leaf"  # empty on both sides: compared as a value
    return shape


def _items_of(value: Any, empty: Any) -> Any:
    return empty if value is MISSING or value is None else value


def _compare(lhs: Any, rhs: Any, schema: TypeSchema, path: Path, out: Comparison) -> None:
    if lhs is rhs and lhs is not MISSING:
        return  # the same (shared) value: nothing below it changed
    shape = _container_shape(schema, lhs, rhs)
    if shape == "map":
        left = _items_of(lhs, {})
        right = _items_of(rhs, {})
        for key in {**left, **right}:
            _compare(
                left.get(key, MISSING),
                right.get(key, MISSING),
                schema.field(key)[0],
                (*path, ("f", key)),
                out,
            )
    elif shape == "list":
        left_items = dict(index_list(schema, _items_of(lhs, []), path, strict=False))
        right_items = dict(index_list(schema, _items_of(rhs, []), path, strict=False))
        for pe in {**left_items, **right_items}:
            _compare(
                left_items.get(pe, MISSING),
                right_items.get(pe, MISSING),
                schema.element(),
                (*path, pe),
                out,
            )
    elif path:
        if lhs is MISSING:
            out.added.add(path)
        elif rhs is MISSING:
            out.removed.add(path)
        elif not values_equal(lhs, rhs):
            out.modified.add(path)
        return
    if path:
        if lhs is MISSING:
            out.added.add(path)
        elif rhs is MISSING:
            out.removed.add(path)
