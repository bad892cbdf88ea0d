"""``autopilot rbac --check`` refuses a wider grant, in generated and hand-edited manifests.

Each case copies the project, widens one manifest the way a careless edit would, and
expects exit 1 with a one-line reason naming the file; the shipped manifests pass.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.unit.golden.test_commands import run_command

PROJECT = Path(__file__).resolve().parents[2]

Edit = Callable[[Path], None]


def _copy(tmp: Path) -> Path:
    root = tmp / "project"
    for part in ("golden_state", "manifests", "bundle"):
        shutil.copytree(PROJECT / part, root / part)
    return root


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in YAML(typ="safe", pure=True).load_all(path.read_text()) if d]


def _write(path: Path, docs: list[dict[str, Any]]) -> None:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    with path.open("w") as out:
        yaml.dump_all(docs, out)


def _add_rule(rel: str, rule: dict[str, Any], *, kind: str | None = None) -> Edit:
    def edit(root: Path) -> None:
        path = root / "manifests" / rel
        docs = _docs(path)
        target = next(d for d in docs if kind is None or d["kind"] == kind)
        target["rules"].append(rule)
        _write(path, docs)
    return edit


def _rebind(role: str) -> Edit:
    def edit(root: Path) -> None:
        path = root / "manifests" / "clusterrolebinding.yaml"
        [doc] = _docs(path)
        doc["roleRef"]["name"] = role
        _write(path, [doc])
    return edit


CASES: dict[str, tuple[Edit, str]] = {
    "escalate on a ClusterRole": (_add_rule("rbac/clusterrole.yaml", {
        "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
        "verbs": ["escalate"], "resourceNames": ["kubevirt-metrics-exporter"]}),
        "verbs escalate"),
    "cluster-wide create on DaemonSets": (_add_rule("rbac/clusterrole.yaml", {
        "apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": ["create"],
        "resourceNames": ["kubevirt-metrics-exporter"]}),
        "cluster-wide create on namespaced daemonsets.apps"),
    "unnamed create on DaemonSets in a Role": (_add_rule("rbac/namespaced.yaml", {
        "apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": ["create"]},
        kind="Role"), "create on daemonsets.apps without resourceNames"),
    "a wildcard verb": (_add_rule("rbac/clusterrole.yaml", {
        "apiGroups": [""], "resources": ["nodes"], "verbs": ["*"]}), "a wildcard"),
    "a wildcard resource in the hand-written Lease Role": (_add_rule(
        "rbac/leader-election-role.yaml", {"apiGroups": ["coordination.k8s.io"],
                                           "resources": ["*"], "verbs": ["get"]}),
        "a wildcard"),
    "secrets": (_add_rule("rbac/clusterrole.yaml", {
        "apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}), "secrets (sensitive)"),
    "token minting": (_add_rule("rbac/namespaced.yaml", {
        "apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"],
        "resourceNames": ["virt-platform-autopilot"]}, kind="Role"),
        "serviceaccounts/token (sensitive)"),
    "pods/exec": (_add_rule("rbac/clusterrole.yaml", {
        "apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get"]}),
        "pods/exec (sensitive)"),
    "impersonate": (_add_rule("rbac/clusterrole.yaml", {
        "apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}),
        "verbs impersonate"),
    "unnamed bind": (_add_rule("rbac/clusterrole.yaml", {
        "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
        "verbs": ["bind"]}), "bind without resourceNames"),
    "binding to cluster-admin": (_rebind("cluster-admin"),
                                 "binds ClusterRole cluster-admin, which the manifests do not"),
}


def test_the_shipped_manifests_pass() -> None:
    result = run_command("rbac", "--check")
    assert (result.code, result.err) == (0, "")


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_wider_grant_fails_the_check(tmp_path: Path, case: str) -> None:
    root = _copy(tmp_path)
    edit, reason = CASES[case]
    edit(root)
    result = run_command("rbac", "--check", "--golden-state", str(root / "golden_state"),
                         "--manifests", str(root / "manifests"))
    assert result.code == 1, result.err
    lines = [line for line in result.err.splitlines() if "least privilege" in line]
    assert any(reason in line for line in lines), result.err
    assert all(str(root / "manifests") in line for line in lines), result.err


def test_a_wider_grant_in_the_csv_fails_the_check(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "bundle" / "manifests" / "virt-platform-autopilot.clusterserviceversion.yaml"
    [csv] = _docs(path)
    [cluster] = csv["spec"]["install"]["spec"]["clusterPermissions"]
    cluster["rules"].append({"apiGroups": ["apps"], "resources": ["daemonsets"],
                             "verbs": ["create", "patch"]})
    _write(path, [csv])
    result = run_command("rbac", "--check", "--golden-state", str(root / "golden_state"),
                         "--manifests", str(root / "manifests"))
    assert result.code == 1
    assert "clusterPermissions: rule" in result.err and "daemonsets.apps" in result.err
