"""What each node of a pool does when a MachineConfig or KubeletConfig changes.

The Machine Config Operator's daemon decides it from the difference between the
node's current and its next rendered configuration (its documented post-config
change actions). Written here from that documentation:

- a change of kernel arguments, kernel type, extensions, FIPS, the OS image or of
  any systemd unit: the node is drained and rebooted;
- otherwise per changed file: the kubelet CA bundle, the kubelet's pull secret and
  files under ``/etc/nmstate/openshift``: nothing; the registries configuration,
  the image signature policy, ``/etc/containers/registries.d/*`` and the no-reboot
  GPG key: CRI-O is reloaded; the user CA bundle: CRI-O is restarted; any other
  file: reboot. SSH keys (``passwd``) change without disruption.

A KubeletConfig becomes a generated MachineConfig that rewrites the kubelet's
configuration file, which is not on the no-reboot list: every node reboots.
"""

from __future__ import annotations

import posixpath
from typing import Any, Final

REBOOT: Final = "reboot"
RESTART_CRIO: Final = "restart crio"
RELOAD_CRIO: Final = "reload crio"
NONE: Final = "none"

# Worst first: a pool does the most disruptive action any change asks for.
SEVERITY: Final = (REBOOT, RESTART_CRIO, RELOAD_CRIO, NONE)

_FILES_NONE: Final = frozenset({"/etc/kubernetes/kubelet-ca.crt", "/var/lib/kubelet/config.json"})
_DIRS_NONE: Final = frozenset({"/etc/nmstate/openshift"})
_FILES_RELOAD_CRIO: Final = frozenset({
    "/etc/containers/registries.conf",
    "/etc/containers/policy.json",
    "/etc/machine-config-daemon/no-reboot/containers-gpg.pub",
})
_DIRS_RELOAD_CRIO: Final = frozenset({"/etc/containers/registries.d"})
_FILES_RESTART_CRIO: Final = frozenset(
    {"/etc/pki/ca-trust/source/anchors/openshift-config-user-ca-bundle.crt"}
)
# Spec fields whose change always means a reboot (compared as the daemon does:
# empty and absent are the same).
_REBOOT_FIELDS: Final = ("kernelArguments", "kernelType", "extensions", "fips", "osImageURL")


def worst(actions: list[str]) -> str:
    """The most disruptive of ``actions`` (``none`` for an empty list)."""
    for action in SEVERITY:
        if action in actions:
            return action
    return NONE


def machineconfig_action(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> str:
    """What a node does when its pool's config goes from ``before`` to ``after``.

    ``None`` is an absent MachineConfig (created: from nothing; deleted: to nothing).
    """
    old, new = _spec(before), _spec(after)
    for key in _REBOOT_FIELDS:
        if _normal(old.get(key)) != _normal(new.get(key)):
            return REBOOT
    old_ign, new_ign = _ignition(old), _ignition(new)
    if _by_name(old_ign, "systemd", "units", "name") != _by_name(new_ign, "systemd", "units",
                                                                  "name"):
        return REBOOT
    old_files = _by_name(old_ign, "storage", "files", "path")
    new_files = _by_name(new_ign, "storage", "files", "path")
    changed = sorted(p for p in old_files.keys() | new_files.keys()
                     if old_files.get(p) != new_files.get(p))
    actions = [_file_action(path) for path in changed]
    # Sections the daemon cannot reconcile on a running node (disks, raid, ...) are
    # refused by the MCO itself; any other Ignition change rewrites the node: reboot.
    rest_old = {k: v for k, v in old_ign.items() if k not in ("storage", "systemd", "passwd",
                                                               "ignition")}
    rest_new = {k: v for k, v in new_ign.items() if k not in ("storage", "systemd", "passwd",
                                                               "ignition")}
    if rest_old != rest_new:
        actions.append(REBOOT)
    return worst(actions)


def kubeletconfig_action(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """Reboot when the KubeletConfig's spec changes (or it comes or goes); else none."""
    return REBOOT if _spec(before) != _spec(after) else NONE


def action_for(kind: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """The node action for a change of a MachineConfig or KubeletConfig."""
    if kind == "KubeletConfig":
        return kubeletconfig_action(before, after)
    return machineconfig_action(before, after)


def _file_action(path: str) -> str:
    parent = posixpath.dirname(path)
    if path in _FILES_NONE or parent in _DIRS_NONE:
        return NONE
    if path in _FILES_RESTART_CRIO:
        return RESTART_CRIO
    if path in _FILES_RELOAD_CRIO or parent in _DIRS_RELOAD_CRIO:
        return RELOAD_CRIO
    return REBOOT


def _spec(obj: dict[str, Any] | None) -> dict[str, Any]:
    spec = (obj or {}).get("spec")
    return spec if isinstance(spec, dict) else {}


def _ignition(spec: dict[str, Any]) -> dict[str, Any]:
    config = spec.get("config")
    return config if isinstance(config, dict) else {}


def _normal(value: Any) -> Any:
    return None if value in (None, "", [], False) else value


def _by_name(config: dict[str, Any], section: str, key: str, ident: str) -> dict[str, Any]:
    """The entries of ``config[section][key]`` by their identifying field."""
    entries = (config.get(section) or {}).get(key) or []
    return {str(e.get(ident)): e for e in entries if isinstance(e, dict)}
