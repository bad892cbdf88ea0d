"""The state one kubesim serves: types, objects, schemas and the test controls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from kubesim import crds
from kubesim import schema as sschema
from kubesim.controls import Controls
from kubesim.store import Store
from kubesim.types import Registry, ResourceType

CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
NS_KEY = ("", "namespaces")
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def now() -> str:
    """RFC 3339 timestamp with second precision, as metadata carries it."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SimState:
    """Registry + store + schema cache; CRD writes change what is served."""

    def __init__(self, controls: Controls) -> None:
        self.controls = controls
        self.registry = Registry()
        self.store = Store()
        self._schemas: dict[tuple[str, str, str], Any] = {}
        self.closing = False
        # Scheduled soon after a CRD write (the names controller of the real server).
        self.schedule: Callable[[Callable[[], None]], None] = lambda fn: fn()

    # -- schemas --------------------------------------------------------------------------

    def type_schema(self, rtype: ResourceType, version: str) -> Any:
        """The structural schema of one version (None when unknown)."""
        key = (rtype.group, version, rtype.kind) if not rtype.crd_name else \
            (rtype.crd_name, version, "")
        if key not in self._schemas:
            if rtype.crd_name:
                raw = rtype.openapi.get(version) or {}
                self._schemas[key] = sschema.schema_from_openapi(raw) if raw else None
            else:
                self._schemas[key] = sschema.builtin_schema(rtype.group, version, rtype.kind)
        return self._schemas[key]

    # -- CRDs -----------------------------------------------------------------------------

    def crd_written(self, crd: dict[str, Any] | None, *, name: str) -> None:
        """Follow a CRD create/update/delete: serve, re-define or withdraw its resource."""
        for key in [k for k in self._schemas if k[0] == name]:
            del self._schemas[key]
        if crd is None:
            old = self._type_of_crd(name)
            if old is not None:
                self.registry.remove(old.key)
                self.store.drop_resource(old.key)
                for w in self.store.watchers(old.key):
                    w.queue.put_nowait(None)
            return
        conditions = (crd.get("status") or {}).get("conditions") or []
        established = any(c.get("type") == "Established" and c.get("status") == "True"
                          for c in conditions)
        if not established:
            self.schedule(lambda: self._establish(name))
            return
        rtype = crds.resource_type(crd)
        if rtype is None:
            old = self._type_of_crd(name)
            if old is not None:
                self.registry.remove(old.key)
            return
        self.registry.add(rtype)

    def _type_of_crd(self, name: str) -> ResourceType | None:
        for t in self.registry.all():
            if t.crd_name == name:
                return t
        return None

    def _establish(self, name: str) -> None:
        crd = self.store.get(CRD_KEY, "", name)
        if crd is None:
            return
        stamp = now()
        status = crds.established_status(crd, stamp)
        fields: dict[str, Any] = {"f:acceptedNames": {f"f:{k}": {} for k in
                                                      status["acceptedNames"]},
                                  "f:conditions": {}}
        for cond in status["conditions"]:
            fields["f:conditions"][f'k:{{"type":"{cond["type"]}"}}'] = {
                ".": {}, "f:lastTransitionTime": {}, "f:message": {}, "f:reason": {},
                "f:status": {}, "f:type": {}}
        managed = [m for m in crd["metadata"].get("managedFields") or []
                   if m.get("manager") != "kube-apiserver"]
        managed.append({"manager": "kube-apiserver", "operation": "Update",
                        "apiVersion": "apiextensions.k8s.io/v1", "time": stamp,
                        "fieldsType": "FieldsV1", "fieldsV1": {"f:status": fields},
                        "subresource": "status"})
        new = {**crd, "metadata": {**crd["metadata"], "managedFields": managed},
               "status": status}
        self.store.commit(CRD_KEY, new, change="MODIFIED", old=crd)
        rtype = crds.resource_type(new)
        if rtype is not None:
            self.registry.add(rtype)

    # -- namespaces -----------------------------------------------------------------------

    def namespace_exists(self, name: str) -> bool:
        """Whether the namespace object exists."""
        return self.store.get(NS_KEY, "", name) is not None

    def namespace_deleted(self, name: str) -> None:
        """Remove everything in a deleted namespace (no Terminating phase here)."""
        for rtype in self.registry.all():
            if not rtype.namespaced:
                continue
            for obj in list(self.store.iter(rtype.key, name)):
                self.store.commit(rtype.key, obj, change="DELETED", old=obj)
