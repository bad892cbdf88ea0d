"""RBAC as kube-apiserver enforces it: authorization and escalation prevention.

Identities in ``system:masters`` pass everything (the real server's superuser
group); every other identity is authorised by the Roles, ClusterRoles and their
bindings stored in kubesim, with the matching rules of the real RBAC authorizer
(``*`` for verbs, groups and resources, ``*/sub`` for subresources, resourceNames
only for named requests). Writing a Role/ClusterRole or a binding is refused
unless the writer holds every permission it grants, or has ``escalate`` on the
role / ``bind`` on the referenced role, as on a real server.

Not modelled: aggregated ClusterRoles (no controller fills their rules, as with a
bare kube-apiserver) and non-resource URLs (every kubesim non-resource path is
public to authenticated users, like the real discovery roles).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from kubesim.errors import SimError, qualified
from kubesim.store import Store

SUPERUSER_GROUP = "system:masters"
GROUP = "rbac.authorization.k8s.io"
CLUSTER_ROLES = (GROUP, "clusterroles")
CLUSTER_BINDINGS = (GROUP, "clusterrolebindings")
ROLES = (GROUP, "roles")
BINDINGS = (GROUP, "rolebindings")

Rule = dict[str, Any]


@dataclass(frozen=True)
class Identity:
    """Who sends a request."""

    user: str
    groups: tuple[str, ...] = ()

    @property
    def superuser(self) -> bool:
        """Members of ``system:masters`` bypass RBAC."""
        return SUPERUSER_GROUP in self.groups


def service_account_user(namespace: str, name: str) -> str:
    """The user name a service account authenticates as."""
    return f"system:serviceaccount:{namespace}:{name}"


def service_account_of(user: str) -> tuple[str, str] | None:
    """(namespace, name) when ``user`` is a service account's user name."""
    parts = user.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        return parts[2], parts[3]
    return None


def _subject_matches(subject: Any, who: Identity, binding_namespace: str) -> bool:
    if not isinstance(subject, dict):
        return False
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return bool(name == who.user)
    if kind == "Group":
        return name in who.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return who.user == service_account_user(namespace, str(name))
    return False


def _role_rules(store: Store, ref: Any, namespace: str) -> list[Rule]:
    if not isinstance(ref, dict):
        return []
    if ref.get("kind") == "ClusterRole":
        role = store.get(CLUSTER_ROLES, "", str(ref.get("name")))
    elif ref.get("kind") == "Role" and namespace:
        role = store.get(ROLES, namespace, str(ref.get("name")))
    else:
        role = None
    rules = (role or {}).get("rules") or []
    return [r for r in rules if isinstance(r, dict)]


def rules_of(store: Store, who: Identity, namespace: str) -> Iterator[Rule]:
    """Every rule granted to ``who`` cluster-wide, plus in ``namespace`` when given."""
    bound: list[tuple[Any, str]] = [(crb, "") for crb in store.iter(CLUSTER_BINDINGS)]
    if namespace:
        bound += [(rb, namespace) for rb in store.iter(BINDINGS, namespace)]
    for binding, ns in bound:
        if any(_subject_matches(s, who, ns) for s in binding.get("subjects") or []):
            yield from _role_rules(store, binding.get("roleRef"), ns)


def _has(values: Any, wanted: str, wildcard: str = "*") -> bool:
    return isinstance(values, list) and (wildcard in values or wanted in values)


def _resource_matches(rule: Rule, resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for given in rule.get("resources") or []:
        if given in ("*", combined):
            return True
        if subresource and given == f"*/{subresource}":
            return True
    return False


def rule_allows(rule: Rule, *, verb: str, group: str, resource: str, subresource: str,
                name: str) -> bool:
    """Whether one PolicyRule grants this resource request."""
    names = rule.get("resourceNames") or []
    return (_has(rule.get("verbs"), verb) and _has(rule.get("apiGroups"), group)
            and _resource_matches(rule, resource, subresource)
            and (not names or name in names))


def allowed(store: Store, who: Identity, *, verb: str, group: str, resource: str,
            subresource: str = "", namespace: str = "", name: str = "") -> bool:
    """The RBAC authorizer's verdict on one resource request."""
    if who.superuser:
        return True
    return any(rule_allows(r, verb=verb, group=group, resource=resource,
                           subresource=subresource, name=name)
               for r in rules_of(store, who, namespace))


# -- escalation prevention -----------------------------------------------------------------


def _atoms(rule: Rule) -> Iterator[Rule]:
    """A rule broken into single-verb, single-resource (single-name) rules."""
    for verb in rule.get("verbs") or []:
        for url in rule.get("nonResourceURLs") or []:
            yield {"verbs": [verb], "nonResourceURLs": [url]}
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                atom = {"verbs": [verb], "apiGroups": [group], "resources": [resource]}
                names = rule.get("resourceNames") or []
                if not names:
                    yield atom
                for name in names:
                    yield {**atom, "resourceNames": [name]}


def _covers(owner: Rule, atom: Rule) -> bool:
    if not _has(owner.get("verbs"), atom["verbs"][0]):
        return False
    if "nonResourceURLs" in atom:
        url = atom["nonResourceURLs"][0]
        return any(u == "*" or u == url or (u.endswith("*") and url.startswith(u[:-1]))
                   for u in owner.get("nonResourceURLs") or [])
    if not _has(owner.get("apiGroups"), atom["apiGroups"][0]):
        return False
    resource = atom["resources"][0]
    resources = owner.get("resources") or []
    if not ("*" in resources or resource in resources or (
            "/" in resource and "*/" + resource.split("/", 1)[1] in resources)):
        return False
    owned_names = owner.get("resourceNames") or []
    wanted = atom.get("resourceNames") or []
    return not owned_names or bool(wanted and wanted[0] in owned_names)


def missing_rules(owned: Iterable[Rule], granted: Iterable[Rule]) -> list[Rule]:
    """The atoms of ``granted`` that no rule in ``owned`` covers."""
    owners = list(owned)
    return [a for rule in granted if isinstance(rule, dict) for a in _atoms(rule)
            if not any(_covers(o, a) for o in owners)]


def _go_rule(rule: Rule) -> str:
    # The real server lists missing rules in Go's %+v-like compact form.
    parts = []
    for key, label in (("apiGroups", "APIGroups"), ("resources", "Resources"),
                       ("resourceNames", "ResourceNames"), ("nonResourceURLs",
                                                            "NonResourceURLs"),
                       ("verbs", "Verbs")):
        if rule.get(key):
            parts.append(label + ":[" + " ".join(f'"{v}"' for v in rule[key]) + "]")
    return "{" + ", ".join(parts) + "}"


def check_write(store: Store, who: Identity, *, resource: str, namespace: str,
                obj: dict[str, Any], named: bool = True) -> None:
    """Refuse a role or binding that grants more than ``who`` holds (raises 403).

    ``named``: the request names the object in its path (not a POST to the collection);
    ``escalate`` limited to resourceNames only covers such requests, as on a real server.
    """
    if who.superuser:
        return
    name = str((obj.get("metadata") or {}).get("name") or "")
    if resource in ("clusterroles", "roles"):
        if allowed(store, who, verb="escalate", group=GROUP, resource=resource,
                   namespace=namespace, name=name if named else ""):
            return
        granted = [r for r in obj.get("rules") or [] if isinstance(r, dict)]
    else:
        ref = obj.get("roleRef") or {}
        ref_resource = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
        if allowed(store, who, verb="bind", group=GROUP, resource=ref_resource,
                   namespace=namespace, name=str(ref.get("name") or "")):
            return
        found = (store.get(CLUSTER_ROLES, "", str(ref.get("name"))) if
                 ref_resource == "clusterroles" else
                 store.get(ROLES, namespace, str(ref.get("name"))))
        if found is None:
            raise _refused(resource, name, f'{qualified(ref_resource, GROUP)} '
                                           f'"{ref.get("name")}" not found')
        granted = _role_rules(store, ref, namespace)
    missing = missing_rules(rules_of(store, who, namespace), granted)
    if missing:
        groups = " ".join(f'"{g}"' for g in who.groups)
        raise _refused(resource, name, f'user "{who.user}" (groups=[{groups}]) is attempting '
                       f"to grant RBAC permissions not currently held:\n"
                       + "\n".join(_go_rule(m) for m in missing))


def _refused(resource: str, name: str, why: str) -> SimError:
    return SimError(403, f'{qualified(resource, GROUP)} "{name}" is forbidden: {why}',
                    details={"name": name, "group": GROUP, "kind": resource})
