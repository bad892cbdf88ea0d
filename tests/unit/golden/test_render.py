"""Rendering: helpers, errors naming asset/template/line, ownership label, determinism."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from autopilot.golden.catalog import GoldenState, load_golden_state
from autopilot.golden.context import RenderContext
from autopilot.golden.lookups import OfflineLookups, SnapshotLookups
from autopilot.golden.render import RenderError, render_asset
from autopilot.golden.templating import gzip_base64, lookup, to_yaml
from tests.unit.golden.conftest import PROJECT, GoldenBuilder

CTX = RenderContext(
    hco={"metadata": {"name": "kubevirt-hyperconverged", "annotations": {"j": "{bad"}},
         "spec": {"a": [{"b": 1}]}},
    namespace="openshift-cnv",
    version="1.2.3",
)


def _render(root: Path, template: str, *, lookups: object = None) -> list[dict[str, object]]:
    (root / "assets/demo/cm.yaml.j2").write_text(template, encoding="utf-8")
    gs = load_golden_state(root)
    return render_asset(gs, gs.asset("demo-cm"), CTX, lookups=lookups or OfflineLookups())


def test_render_adds_ownership_label(make_golden: GoldenBuilder) -> None:
    gs = load_golden_state(make_golden())
    [obj] = render_asset(gs, gs.asset("demo-cm"), CTX, lookups=OfflineLookups())
    assert obj["metadata"] == {
        "name": "demo",
        "namespace": "openshift-cnv",
        "labels": {"platform.kubevirt.io/managed-by": "virt-platform-autopilot"},
    }
    assert obj["data"] == {"version": "1.2.3"}


def test_multi_doc_and_empty(make_golden: GoldenBuilder) -> None:
    root = make_golden()
    two = "---\napiVersion: v1\nkind: A\nmetadata: {name: a}\n---\napiVersion: v1\nkind: B\n" \
          "metadata: {name: b, labels: {x: y}}\n"
    objs = _render(root, two)
    assert [o["kind"] for o in objs] == ["A", "B"]
    assert objs[1]["metadata"]["labels"] == {  # type: ignore[index]
        "x": "y", "platform.kubevirt.io/managed-by": "virt-platform-autopilot"}
    assert _render(root, "{% if false %}kind: X{% endif %}\n# nothing\n") == []


def _render_error(root: Path, template: str) -> RenderError:
    with pytest.raises(RenderError) as info:
        _render(root, template)
    assert "\n" not in str(info.value)
    assert "demo-cm" in str(info.value) and "cm.yaml.j2" in str(info.value)
    return info.value


def test_undefined_variable_names_line(make_golden: GoldenBuilder) -> None:
    err = _render_error(make_golden(), "a: 1\nb: 2\nc: {{ nope.x }}\n")
    assert err.line == 3 and "undefined" in str(err) and "cm.yaml.j2:3" in str(err)


def test_missing_key_is_strict(make_golden: GoldenBuilder) -> None:
    err = _render_error(make_golden(), "a: {{ hco.spec.missing.deeper }}\n")
    assert "missing" in str(err)


def test_fail_helper(make_golden: GoldenBuilder) -> None:
    err = _render_error(make_golden(), "\n{{ fail('no profile available') }}\n")
    assert "no profile available" in str(err) and err.line == 2


def test_from_json_error_names_what(make_golden: GoldenBuilder) -> None:
    err = _render_error(
        make_golden(), "x: {{ from_json(hco.metadata.annotations.j, what='annotation j') }}\n"
    )
    assert "invalid JSON in annotation j" in str(err)


def test_read_file_refuses_escape(make_golden: GoldenBuilder) -> None:
    err = _render_error(make_golden(), "x: {{ read_file('../../etc/passwd') }}\n")
    assert "outside the golden state" in str(err)
    err = _render_error(make_golden(), "x: {{ read_file('files/none.txt') }}\n")
    assert "cannot read" in str(err)


def test_invalid_output(make_golden: GoldenBuilder) -> None:
    assert "not valid YAML" in str(_render_error(make_golden(), "a: [\n"))
    assert "needs apiVersion" in str(_render_error(make_golden(), "a: 1\n"))


def test_helpers_in_templates(make_golden: GoldenBuilder) -> None:
    root = make_golden({"files/hello.txt": "hello\n"})
    template = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: h}
data:
  b: "{{ lookup(hco, 'spec.a.0.b') }}"
  missing: "{{ lookup(hco, 'spec.z.y', 'dflt') }}"
  gz: "{{ read_file('files/hello.txt') | gzip_base64 }}"
  json: '{{ {"k": [1, 2]} | to_json }}'
  yaml: |
    {{ {"k": {"n": "on"}} | to_yaml | indent(4) }}
  parsed: "{{ from_yaml('a: 5').a }}"
  enum: "{{ crd_enum('x.y', 'spec.p') | length }}"
  exists: "{{ object_exists('v1', 'ConfigMap', 'c', 'ns') }}"
  cm: "{{ configmap_value('ns', 'c', 'k', 'fallback') }}"
  rule: "{{ recording_rule_exists('r') }}"
  rwx: "{{ rwx_storage_class() }}"
  obj: "{{ get_object('v1', 'ConfigMap', 'c', 'ns') }}"
"""
    [obj] = _render(root, template)
    data = obj["data"]
    assert isinstance(data, dict)
    assert data["b"] == "1" and data["missing"] == "dflt"
    assert gzip.decompress(base64.b64decode(data["gz"])) == b"hello\n"
    assert json.loads(data["json"]) == {"k": [1, 2]}
    assert data["yaml"] == 'k:\n  "n": "on"\n'  # YAML 1.1 readers see n as false
    assert data["parsed"] == "5"
    assert [data[k] for k in ("enum", "exists", "cm", "rule", "rwx", "obj")] == [
        "0", "False", "fallback", "False", "", "None"]
    snapshot = SnapshotLookups([
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"},
         "data": {"k": "live"}},
    ])
    [obj] = _render(root, template, lookups=snapshot)
    assert obj["data"]["cm"] == "live" and obj["data"]["exists"] == "True"  # type: ignore[index]


def test_gzip_base64_is_fixed_bytes() -> None:
    blob = base64.b64decode(gzip_base64("abc"))
    assert blob[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # mtime 0, no name
    assert gzip.decompress(blob) == b"abc"
    assert gzip_base64("abc") == gzip_base64(b"abc")


def test_lookup_helper() -> None:
    data = {"a": {"b": [{"c": 1}, None]}}
    assert lookup(data, "a.b.0.c") == 1
    assert lookup(data, "a.b.1.c", "d") == "d"
    assert lookup(data, "a.b.5", "d") == "d"
    assert lookup(data, "a.x.y") is None
    assert to_yaml({"a": "yes"}) == 'a: "yes"'


_DUMP_ALL = """
import hashlib, json, sys
from pathlib import Path
from autopilot.golden.catalog import load_golden_state
from autopilot.golden.kinds import all_on_contexts
from autopilot.golden.lookups import OfflineLookups
from autopilot.golden.render import render_asset, render_text
from autopilot.golden.templating import to_yaml
gs = load_golden_state(Path(sys.argv[1]))


class Lookups(OfflineLookups):
    # A cluster with a default StorageClass: without one the LokiStack refuses to
    # render on purpose (tests/content covers that refusal).
    def default_storage_class(self):
        return "standard"


hashes, errors, objects = {}, {}, 0
for i, ctx in enumerate(all_on_contexts(gs)):
    for asset in gs.assets:
        key = f"{i}/{asset.name}"
        try:
            text = render_text(gs, asset, ctx, lookups=Lookups())
            objs = render_asset(gs, asset, ctx, lookups=Lookups())
        except Exception as exc:
            errors[key] = f"{type(exc).__name__}: {exc}"
            continue
        objects += len(objs)
        text += "".join(to_yaml(o) for o in objs)
        hashes[key] = hashlib.sha256(text.encode()).hexdigest()
print(json.dumps({"hashes": hashes, "errors": errors, "objects": objects}, sort_keys=True))
"""


def test_rendering_is_byte_identical_across_processes(golden: GoldenState) -> None:
    runs = [
        subprocess.run(
            [sys.executable, "-c", _DUMP_ALL, str(golden.root)],
            capture_output=True, text=True, check=True, cwd=PROJECT, timeout=60,
            env={"PYTHONHASHSEED": str(seed), "PATH": "/usr/bin:/bin"},
        ).stdout
        for seed in (1, 2)
    ]
    first = json.loads(runs[0])
    # A render that fails in every process is not "deterministic": it is broken.
    assert first["errors"] == {}, first["errors"]
    assert first["objects"] > len(golden.assets), "the all-on contexts render almost nothing"
    assert len(first["hashes"]) == 4 * len(golden.assets)
    assert runs[0] == runs[1]


def test_templates_compile_once_per_load_and_never_per_render(
    make_golden: GoldenBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_golden()
    gs = load_golden_state(root)
    env = gs.environment()
    compiled: list[str | None] = []
    real_compile = env.compile

    def counting_compile(*args: object, **kwargs: object) -> object:
        compiled.append(str(kwargs.get("name") or (args[1] if len(args) > 1 else "")))
        return real_compile(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(env, "compile", counting_compile)
    asset = gs.asset("demo-cm")
    first = render_asset(gs, asset, CTX, lookups=OfflineLookups())
    # A changed file is not read again: the golden state is what was loaded.
    (root / asset.path).write_text("{{ fail('read again') }}\n", encoding="utf-8")
    for _ in range(3):
        assert render_asset(gs, asset, CTX, lookups=OfflineLookups()) == first
    assert compiled == []
    # A new load reads the file anew (and compiles it there).
    with pytest.raises(RenderError, match="read again"):
        fresh = load_golden_state(root)
        render_asset(fresh, fresh.asset("demo-cm"), CTX, lookups=OfflineLookups())
