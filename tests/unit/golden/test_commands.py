"""The render, features and rbac commands."""

from __future__ import annotations

import json
from pathlib import Path

from ruamel.yaml import YAML

from autopilot.golden.catalog import GoldenState
from tests.support.cmd import run_command
from tests.unit.golden.conftest import PROJECT, GoldenBuilder

HCO = str(PROJECT / "examples" / "hco.yaml")


def asset_table(status_output: str) -> list[str]:
    """The asset table of `render --output status` (the alias table follows a blank line)."""
    return status_output.split("\n\n", 1)[0].splitlines()


def test_render_status_table(golden: GoldenState) -> None:
    result = run_command("render", "--hco-file", HCO, "--output", "status")
    lines = asset_table(result.out)
    assert lines[0].split() == ["NAME", "GROUP/FEATURE", "STATE", "REASON"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {a.name for a in golden.assets}
    assert rows["hco-golden-config"][1:3] == ["framework/framework", "INCLUDED"]
    assert all(row[2] in ("INCLUDED", "EXCLUDED", "ERROR") for row in rows.values())
    assert result.code == (1 if any(r[2] == "ERROR" for r in rows.values()) else 0)


def test_render_yaml_is_multi_doc(golden: GoldenState) -> None:
    result = run_command("render", "--hco-file", HCO)
    docs = [d for d in YAML(typ="safe").load_all(result.out) if d is not None]
    assert docs, result.err
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("HyperConverged", "kubevirt-hyperconverged") in kinds
    assert ("MachineConfig", "90-worker-swap-online") in kinds
    assert ("Service", "virt-platform-autopilot-metrics") in kinds
    for doc in docs:
        assert doc["metadata"]["labels"]["platform.kubevirt.io/managed-by"] == \
            "virt-platform-autopilot"
    hco = next(d for d in docs if d["kind"] == "HyperConverged")
    assert hco["metadata"]["annotations"]["platform.kubevirt.io/golden-state-version"] == \
        golden.version
    assert "certConfig" not in json.dumps(hco)


def test_render_json_single_asset() -> None:
    result = run_command("render", "--hco-file", HCO, "--output", "json", "--asset",
                         "monitoring-uiplugin")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["kind"] == "List"
    [plugin] = data["items"]
    assert plugin["spec"]["type"] == "Monitoring"
    assert plugin["spec"]["monitoring"]["perses"] == {"enabled": True}
    assert plugin["spec"]["monitoring"]["incidents"] == {"enabled": True}  # example opts in


def test_render_idle_hco(tmp_path: Path) -> None:
    hco = tmp_path / "hco.yaml"
    hco.write_text("apiVersion: hco.kubevirt.io/v1\nkind: HyperConverged\n"
                   "metadata: {name: kubevirt-hyperconverged, namespace: ns}\n")
    result = run_command("render", "--hco-file", str(hco), "--output", "status")
    assert result.code == 0
    assert "not enabled" in result.err
    assert all("autopilot disabled" in line for line in asset_table(result.out)[1:])
    shown = run_command("render", "--hco-file", str(hco), "--show-excluded")
    assert "# asset hco-golden-config: excluded (autopilot disabled)" in shown.out


def test_render_user_errors_are_one_line(tmp_path: Path, make_golden: GoldenBuilder) -> None:
    cases = [
        ("--hco-file", str(tmp_path / "missing.yaml")),
        ("--hco-file", HCO, "--asset", "no-such-asset"),
        ("--hco-file", HCO, "--golden-state", str(make_golden({"catalog/demo.yaml": "a: ["}))),
    ]
    for argv in cases:
        result = run_command("render", *argv)
        assert result.code == 2, argv
        assert result.err.count("\n") == 1 and result.err.startswith("autopilot: error: ")
        assert "Traceback" not in result.err


def test_features_generate_and_check(project_copy: Path) -> None:
    gs = str(project_copy / "golden_state")
    readme = str(project_copy / "README.md")
    args = ("--golden-state", gs, "--readme", readme)
    assert run_command("features", *args).code == 0
    assert run_command("features", "--check", *args).code == 0
    text = (project_copy / "README.md").read_text()
    section = text.split("<!-- features:begin -->")[1].split("<!-- features:end -->")[0]
    assert "| Feature | Maturity | Switch | Assets |" in section
    assert "| SWAP | GA | always | `swap-worker-machineconfig` |" in section
    data = json.loads((project_copy / "golden_state" / "features.json").read_text())
    assert {"framework", "observability", "swap"} <= {f["name"] for f in data["features"]}
    # stale README
    (project_copy / "README.md").write_text(text.replace("| SWAP |", "| Swap |"))
    stale = run_command("features", "--check", *args)
    assert stale.code == 1 and "README.md" in stale.err and stale.err.count("\n") == 1
    assert run_command("features", *args).code == 0
    # stale JSON
    (project_copy / "golden_state" / "features.json").write_text("{}\n")
    stale = run_command("features", "--check", *args)
    assert stale.code == 1 and "features.json" in stale.err
    # a second generation is a no-op
    assert run_command("features", *args).code == 0
    before = (project_copy / "README.md").read_text()
    assert run_command("features", *args).code == 0
    assert (project_copy / "README.md").read_text() == before


def test_rbac_generate_and_check(project_copy: Path) -> None:
    gs = str(project_copy / "golden_state")
    manifests = project_copy / "manifests"
    out = manifests / "rbac" / "clusterrole.yaml"
    out.unlink()
    args = ("--golden-state", gs, "--manifests", str(manifests))
    assert run_command("rbac", "--check", *args).code == 1
    assert run_command("rbac", *args).code == 0
    assert run_command("rbac", "--check", *args).code == 0
    role = YAML(typ="safe").load(out.read_text())
    assert role["kind"] == "ClusterRole" and role["metadata"]["name"] == "virt-platform-autopilot"
    rules = role["rules"]
    for rule in rules:
        assert "*" not in rule["apiGroups"] + rule["resources"] + rule["verbs"]
    def verbs(group: str, resource: str, names: bool = False) -> set[str]:
        return {
            v for r in rules
            if group in r["apiGroups"] and resource in r["resources"]
            and bool(r.get("resourceNames")) == names
            for v in r["verbs"]
        }
    # Cluster-scoped: read anything (the informers), write only the rendered names.
    assert verbs("machineconfiguration.openshift.io", "machineconfigs") == {
        "get", "list", "watch"}
    assert verbs("machineconfiguration.openshift.io", "machineconfigs", names=True) == {
        "create", "update", "patch"}
    # Leases come from the namespaced leader-election Role, never the ClusterRole.
    assert verbs("coordination.k8s.io", "leases") == set()
    # Namespaced kinds: never written cluster-wide (their Roles do, per namespace).
    assert verbs("hco.kubevirt.io", "hyperconvergeds") == {"get", "list", "watch"}
    assert verbs("apps", "daemonsets") | verbs("apps", "daemonsets", names=True) == {
        "get", "list", "watch"}
    tomb = [r for r in rules if "nodehealthchecks" in r["resources"] and "delete" in r["verbs"]]
    assert [t["resourceNames"] for t in tomb] == [["virt-node-health-check"]]
    out.write_text(out.read_text().replace("  - watch\n", "  - watch\n  - deletecollection\n", 1))
    stale = run_command("rbac", "--check", *args)
    assert stale.code == 1 and "is stale" in stale.err, stale.err
    assert "least privilege:" in stale.err and "verbs deletecollection" in stale.err


def test_render_honours_disabled_resources(tmp_path: Path) -> None:
    text = (PROJECT / "examples" / "hco.yaml").read_text()
    hco = YAML(typ="safe").load(text)
    hco["metadata"]["annotations"]["platform.kubevirt.io/disabled-resources"] = (
        "- kind: MachineConfig\n  name: 90-worker-*\n"
    )
    path = tmp_path / "hco.yaml"
    path.write_text(json.dumps(hco))
    plain = run_command("render", "--hco-file", str(path))
    assert "90-worker-swap-online" not in plain.out
    shown = run_command("render", "--hco-file", str(path), "--show-excluded")
    assert "# excluded by platform.kubevirt.io/disabled-resources" in shown.out
    assert "90-worker-swap-online" in shown.out
    status = run_command("render", "--hco-file", str(path), "--output", "status")
    row = next(line for line in status.out.splitlines() if line.startswith("swap-worker"))
    assert "1 object(s) excluded by disabled-resources" in row
    hco["metadata"]["annotations"]["platform.kubevirt.io/disabled-resources"] = "{not: a list"
    path.write_text(json.dumps(hco))
    broken = run_command("render", "--hco-file", str(path))
    assert "disabled-resources ignored" in broken.err  # fails open
    assert "90-worker-swap-online" in broken.out
