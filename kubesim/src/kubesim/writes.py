"""Create, update (PUT), patch (merge/JSON/strategic/apply) and delete."""

from __future__ import annotations

import copy
import json
import random
import uuid
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from kubesim import crd_defaults, crd_validation, crds, patches, preconditions, rbac, ssa, webhooks
from kubesim.builtin_checks import builtin_causes
from kubesim.defaults import apply_builtin_defaults, apply_conversion_fields
from kubesim.errors import (
    SimError,
    already_exists,
    bad_request,
    conflict,
    forbidden,
    invalid,
    not_found,
)
from kubesim.fieldpath import InvalidObject
from kubesim.objects import (
    as_version,
    content,
    normalise_causes,
    omit_empty,
    same_object,
    tidy,
)
from kubesim.request import ApiRequest, truthy
from kubesim.state import CRD_KEY, NS_KEY, SimState, now
from kubesim.validation import (
    event_causes,
    metadata_causes,
    name_causes,
    update_metadata_causes,
)

Obj = dict[str, Any]
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_CEL_SKIPPED = {
    "reason": "FieldValueInvalid",
    "message": "Invalid value: null: some validation rules were not checked because the object "
    "was invalid; correct the existing errors to complete validation",
    "field": "<nil>",
}


class Writer:
    """Write operations on one :class:`SimState` (runs on the server loop)."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self._yaml = YAML(typ="safe", pure=True)

    # -- helpers --------------------------------------------------------------------------

    def _schema(self, req: ApiRequest) -> Any:
        return self.state.type_schema(req.rtype, req.version)

    def _require_namespace(self, req: ApiRequest) -> None:
        if req.rtype.namespaced and not self.state.namespace_exists(req.namespace):
            raise not_found("namespaces", "", req.namespace)

    def _check_body_identity(self, req: ApiRequest, body: Obj, *, name: str) -> None:
        meta = body.get("metadata") or {}
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        given = meta.get("name") or ""
        if name and given and given != name:
            raise bad_request(f"the name of the object ({given}) does not match the name on "
                              f"the URL ({name})")
        ns = meta.get("namespace") or ""
        if req.rtype.namespaced and ns and ns != req.namespace:
            raise bad_request("the namespace of the provided object does not match the "
                              "namespace sent on the request")
        api_version = body.get("apiVersion")
        if api_version and api_version != req.api_version and req.verb != "patch":
            raise bad_request(f"the API version in the data ({api_version}) does not match the "
                              f"expected API version ({req.api_version})")
        kind = body.get("kind")
        if kind and kind != req.rtype.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected kind "
                              f"({req.rtype.kind})")

    def _invalid(self, req: ApiRequest, name: str, causes: list[dict[str, Any]]) -> SimError:
        rt = req.rtype
        causes = normalise_causes(causes)
        if rt.has_cel_rules.get(req.version) and _CEL_SKIPPED not in causes:
            causes.append(dict(_CEL_SKIPPED))
        if rt.plural == "events" and rt.group in ("", "events.k8s.io"):
            return invalid("Event", "", name, causes)
        return invalid(rt.kind, rt.group, name, causes)

    def _finish(self, req: ApiRequest, old: Obj | None, new: Obj, *, operation: str,
                status_write: bool = False) -> Obj:
        """Default, validate, admit and store ``new`` (a private copy); returns the result."""
        uid = preconditions.given_uid(new)  # before the stored identity replaces it
        name = _set_identity(req, old, new)
        _carry_status(req, old, new, status_write=status_write)
        new = self._normalised(req, old, new)
        self._validate(req, old, new, name, uid=uid)
        self._authorise_and_admit(req, old, new, operation, name)
        _bump_generation(req, old, new, status_write=status_write)
        return self._store(req, old, new, name)

    def _normalised(self, req: ApiRequest, old: Obj | None, new: Obj) -> Obj:
        """``new`` defaulted, pruned and converted as storage keeps it (a new object)."""
        rt = req.rtype
        new = omit_empty(rt.key, apply_conversion_fields(rt.key, self._defaulted(req, new)))
        if rt.key == CRD_KEY and old is None:
            new["status"] = crds.initial_status(new)
        return new

    def _validate(self, req: ApiRequest, old: Obj | None, new: Obj, name: str, *,
                  uid: str) -> None:
        """422 Invalid with every cause found: names, metadata, built-in and schema rules.

        ``uid``: the one the written object named, which must be the stored one.
        """
        rt = req.rtype
        causes: list[dict[str, Any]] = []
        if old is None:
            causes += name_causes(rt.key, name) + metadata_causes(new)
        else:
            causes += update_metadata_causes(rt.key, new, preconditions.uid_causes(uid, old))
        causes += event_causes(rt.key, new)
        causes += builtin_causes(rt.key, new, old)
        if rt.key == CRD_KEY:
            causes += crds.crd_causes(new)
        schema = self._schema(req)
        if rt.crd_name and schema is not None and not causes:
            causes += crd_validation.validate(new, schema)
        if causes:
            raise self._invalid(req, name, causes)

    def _authorise_and_admit(self, req: ApiRequest, old: Obj | None, new: Obj,
                             operation: str, name: str) -> None:
        """RBAC escalation checks, admission webhooks, then the name's availability."""
        rt = req.rtype
        if rt.group == rbac.GROUP:
            rbac.check_write(self.state.store, req.identity, resource=rt.plural,
                             namespace=req.namespace, obj=new, named=req.verb != "create")
        self._admit(req, new, operation, old=old)
        # Storage finds the name taken only after validation and admission, as on a
        # real server (an invalid or refused create of an existing name is 422/403).
        if old is None and self.state.store.get(rt.key, req.namespace, name) is not None:
            raise already_exists(rt.plural, rt.group, name)

    def _store(self, req: ApiRequest, old: Obj | None, new: Obj, name: str) -> Obj:
        """Commit ``new`` (unless unchanged or a dry run); a finished deletion removes it."""
        rt = req.rtype
        if old is not None and same_object(as_version(old, req), new):
            return as_version(old, req)
        new = tidy(new)
        if req.dry_run:
            return new
        if old is not None and new["metadata"].get("deletionTimestamp") \
                and not new["metadata"].get("finalizers"):
            gone = self.state.store.commit(rt.key, new, change="DELETED", old=old)
            self._after_delete(rt.key, gone)
            return gone
        stored = self.state.store.commit(rt.key, new, change="ADDED" if old is None
                                         else "MODIFIED", old=old)
        if rt.key == CRD_KEY:
            self.state.crd_written(stored, name=name)
        return stored

    def _defaulted(self, req: ApiRequest, obj: Obj) -> Obj:
        obj = apply_builtin_defaults(req.rtype.key, obj)
        schema = self._schema(req)
        if req.rtype.crd_name and schema is not None:
            obj = crd_defaults.prune_unknown(obj, schema)
            obj = crd_defaults.apply_defaults(obj, schema)
        return obj

    def _admit(self, req: ApiRequest, obj: Obj | None, operation: str, *,
               old: Obj | None = None) -> None:
        denial = self.state.controls.admission_denial(req.rtype.kind, operation)
        if denial is not None:
            raise SimError(denial.code,
                           f'admission webhook "{denial.webhook}" denied the request: '
                           f"{denial.message}", reason="Forbidden" if denial.code == 403
                           else None)
        if req.webhooks_reviewed:
            return
        review = webhooks.Review(
            operation=operation, rtype=req.rtype, version=req.version,
            namespace=req.namespace,
            name="" if req.in_collection else req.name or str(
                ((obj or old or {}).get("metadata") or {}).get("name") or ""),
            subresource=req.subresource, obj=obj,
            old=as_version(old, req) if old is not None else None, user=req.user,
            groups=req.groups, dry_run=req.dry_run)
        hooks = webhooks.matching(self.state.store, review)
        if hooks:
            raise webhooks.ReviewNeeded(review, hooks)

    def _after_delete(self, key: tuple[str, str], obj: Obj) -> None:
        name = obj["metadata"]["name"]
        if key == CRD_KEY:
            self.state.crd_written(None, name=name)
        elif key == NS_KEY:
            self.state.namespace_deleted(name)

    # -- verbs ----------------------------------------------------------------------------

    def create(self, req: ApiRequest, body: Any) -> tuple[int, Obj]:
        """POST to a collection."""
        if not isinstance(body, dict):
            raise bad_request("the body of the request was in an unknown format")
        self._check_body_identity(req, body, name="")
        new = copy.deepcopy(body)
        meta = new.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = str(meta["generateName"]) + "".join(
                random.choice(_NAME_CHARS) for _ in range(5))
        name = meta.get("name") or ""
        req.name = name
        self._require_namespace(req)
        new["apiVersion"], new["kind"] = req.api_version, req.rtype.kind
        new = self._record(req, None, new)
        return 201, self._finish(req, None, new, operation="CREATE")

    def _live(self, req: ApiRequest) -> Obj:
        old = self.state.store.get(req.rtype.key, req.namespace, req.name)
        if old is None:
            raise not_found(req.rtype.plural, req.rtype.group, req.name)
        return old

    def update(self, req: ApiRequest, body: Any) -> tuple[int, Obj]:
        """PUT of a whole object (optimistic concurrency on resourceVersion)."""
        if not isinstance(body, dict):
            raise bad_request("the body of the request was in an unknown format")
        self._check_body_identity(req, body, name=req.name)
        old = self._live(req)
        preconditions.check_update(req.rtype, old, body)
        given = (body.get("metadata") or {}).get("resourceVersion")
        if given and given != old["metadata"]["resourceVersion"]:
            raise conflict(req.rtype.plural, req.rtype.group, req.name)
        new = copy.deepcopy(body)
        new["apiVersion"], new["kind"] = req.api_version, req.rtype.kind
        if req.subresource == "status":
            new = {**copy.deepcopy(old), "status": new.get("status")}
        new = self._record(req, as_version(old, req), new)
        return 200, self._write_existing(req, old, new)

    def _write_existing(self, req: ApiRequest, old: Obj, new: Obj) -> Obj:
        if req.subresource == "status":
            # The status subresource changes status (and managedFields) only.
            keep = copy.deepcopy(as_version(old, req))
            keep["status"] = new.get("status")
            keep["metadata"]["managedFields"] = new["metadata"].get("managedFields")
            if preconditions.given_uid(new):  # validated like any write's
                keep["metadata"]["uid"] = new["metadata"]["uid"]
            return self._finish(req, old, keep, operation="UPDATE", status_write=True)
        return self._finish(req, old, new, operation="UPDATE")

    def _parse_apply(self, raw: bytes) -> Obj:
        text = raw.decode("utf-8", errors="replace")
        try:
            data = json.loads(text)
        except ValueError:
            try:
                data = self._yaml.load(text)
            except YAMLError as exc:
                raise bad_request(f"error decoding YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise bad_request("the body of the request was in an unknown format")
        return data

    def patch(self, req: ApiRequest, raw: bytes, content_type: str) -> tuple[int, Obj]:
        """PATCH with any of the four patch types."""
        ctype = content_type.split(";", 1)[0].strip()
        if ctype == patches.APPLY:
            return self._apply(req, raw)
        if ctype not in (patches.MERGE, patches.JSON_PATCH, patches.STRATEGIC):
            raise SimError(415, 'the body of the request was in an unknown format - accepted '
                           'media types include: application/json-patch+json, '
                           'application/merge-patch+json, application/apply-patch+yaml',
                           reason="UnsupportedMediaType")
        try:
            body = json.loads(raw or b"null")
        except ValueError as exc:
            raise bad_request(f"error decoding patch: {exc}") from exc
        old = self._live(req)
        live = copy.deepcopy(as_version(old, req))
        if ctype == patches.JSON_PATCH:
            patched = patches.json_patch(live, body)
        elif ctype == patches.MERGE:
            patched = patches.merge_patch(live, body)
        else:
            patched = patches.strategic_merge_patch(live, body)
        if not isinstance(patched, dict):
            raise bad_request("the patch produced something that is not an object")
        given = (patched.get("metadata") or {}).get("resourceVersion")
        if given and given != old["metadata"]["resourceVersion"]:
            raise conflict(req.rtype.plural, req.rtype.group, req.name)
        self._check_body_identity(req, patched, name=req.name)
        new = self._record(req, as_version(old, req), copy.deepcopy(patched))
        return 200, self._write_existing(req, old, new)

    def _apply(self, req: ApiRequest, raw: bytes) -> tuple[int, Obj]:
        manager = req.query.get("fieldManager") or ""
        if not manager:
            raise SimError(
                422, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                "required for apply patch",
                details={"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                    {"reason": "FieldValueRequired",
                     "message": "Required value: is required for apply patch",
                     "field": "fieldManager"}]})
        applied = self._parse_apply(raw)
        self._check_body_identity(req, applied, name=req.name)
        api_version = applied.get("apiVersion")
        if api_version and api_version != req.api_version:
            raise bad_request(f"the API version in the data ({api_version}) does not match the "
                              f"expected API version ({req.api_version})")
        meta = applied.setdefault("metadata", {})
        meta.setdefault("name", req.name)
        if req.rtype.namespaced:
            meta["namespace"] = req.namespace
        force = truthy(req.query.get("force"))
        old = self.state.store.get(req.rtype.key, req.namespace, req.name)
        if old is None:
            # A uid says the caller expected an object: none is created in its place.
            preconditions.check_apply_create(req.rtype, req.name, applied)
            # An apply that creates is authorised as `create` on that name too, as on a
            # real server (so `create` limited by resourceNames covers it).
            if not rbac.allowed(self.state.store, req.identity, verb="create",
                                group=req.rtype.group, resource=req.rtype.plural,
                                namespace=req.namespace, name=req.name):
                raise forbidden(user=req.user, verb="create", plural=req.rtype.plural,
                                group=req.rtype.group, namespace=req.namespace, name=req.name)
            self._require_namespace(req)
            causes = name_causes(req.rtype.key, req.name)
            if causes:
                raise self._invalid(req, req.name, causes)
        given = meta.get("resourceVersion")
        # A resourceVersion guards an existing object only: an apply that finds none
        # creates it, as on a real server.
        if given and old is not None and given != old["metadata"]["resourceVersion"]:
            raise conflict(req.rtype.plural, req.rtype.group, req.name)
        try:
            new = ssa.server_side_apply(
                live=copy.deepcopy(as_version(old, req)) if old is not None else None,
                applied=applied, manager=manager, force=force, schema=self._schema(req),
                now=now())
        except ssa.ApplyConflict as exc:
            raise SimError(409, exc.message, reason="Conflict",
                           details={"causes": normalise_causes(list(exc.causes))}) from exc
        except InvalidObject as exc:
            raise self._typed_patch_error(req, exc) from exc
        if preconditions.given_uid(applied):  # validated against the stored one
            new["metadata"]["uid"] = preconditions.given_uid(applied)
        if old is None:
            return 201, self._finish(req, None, new, operation="CREATE")
        return 200, self._write_existing(req, old, new)

    def _record(self, req: ApiRequest, old: Obj | None, new: Obj) -> Obj:
        # Non-apply writes are defaulted before field ownership is computed, so the writer
        # owns the defaults too (unlike apply), as on a real server.
        new = self._defaulted(req, omit_empty(req.rtype.key, new))
        try:
            return ssa.record_update(old=old, new=new, manager=req.manager(), operation="Update",
                                     schema=self._schema(req), now=now(),
                                     subresource=req.subresource)
        except InvalidObject as exc:
            raise self._typed_patch_error(req, exc) from exc

    def _typed_patch_error(self, req: ApiRequest, exc: Exception) -> SimError:
        where = f"{req.namespace}/{req.name}" if req.namespace else req.name
        gvk = f"{req.api_version}, Kind={req.rtype.kind}"
        return SimError(500, f"failed to create typed patch object ({where}; {gvk}): {exc}",
                        reason="InternalError")

    def delete(self, req: ApiRequest, body: Any) -> tuple[int, Obj]:
        """DELETE one object (finalizers honoured: it waits with a deletionTimestamp)."""
        old = self._live(req)
        preconditions.check_delete(req.rtype, old, body)
        self._admit(req, None, "DELETE", old=old)
        if old["metadata"].get("finalizers"):
            if old["metadata"].get("deletionTimestamp"):
                return 200, as_version(old, req)
            new = copy.deepcopy(old)
            new["metadata"]["deletionTimestamp"] = now()
            if req.dry_run:
                return 200, as_version(new, req)
            return 200, as_version(self.state.store.commit(req.rtype.key, new,
                                                            change="MODIFIED", old=old), req)
        if req.dry_run:
            return 200, self._deleted_answer(req, old)
        gone = self.state.store.commit(req.rtype.key, old, change="DELETED", old=old)
        self._after_delete(req.rtype.key, gone)
        return 200, self._deleted_answer(req, gone)

    def _deleted_answer(self, req: ApiRequest, obj: Obj) -> Obj:
        # Namespaces and CRDs answer with the object; the others with a Success Status.
        if req.rtype.key == NS_KEY:
            # As the real server answers: Terminating, until the namespace controller
            # (here: at once) has emptied it.
            terminating = copy.deepcopy(obj)
            terminating["metadata"].setdefault("deletionTimestamp", now())
            terminating["status"] = {**(terminating.get("status") or {}),
                                     "phase": "Terminating"}
            return as_version(terminating, req)
        if req.rtype.key == CRD_KEY:
            return as_version(obj, req)
        details: Obj = {"name": obj["metadata"]["name"]}
        if req.rtype.group:
            details["group"] = req.rtype.group
        details["kind"] = req.rtype.plural
        details["uid"] = obj["metadata"]["uid"]
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": details}


TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


def _set_identity(req: ApiRequest, old: Obj | None, new: Obj) -> str:
    """Type, name, namespace and server-kept metadata of ``new``; returns its name.

    An update keeps the stored uid, creation time, resourceVersion, generation and
    deletion mark whatever the body says; a create starts them afresh.
    """
    rt = req.rtype
    meta = new.setdefault("metadata", {})
    new["apiVersion"] = req.api_version
    new["kind"] = rt.kind
    name = str(meta.get("name") or req.name)
    meta["name"] = name
    if rt.namespaced:
        meta["namespace"] = req.namespace
    else:
        meta.pop("namespace", None)
    if old is not None:
        ometa = old["metadata"]
        for k in ("uid", "creationTimestamp", "resourceVersion"):
            meta[k] = ometa[k]
        for k in ("generation", "deletionTimestamp"):
            if k in ometa:
                meta[k] = ometa[k]
            else:
                meta.pop(k, None)
        return name
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now()
    for k in ("resourceVersion", "deletionTimestamp", "generation"):
        meta.pop(k, None)
    if rt.generation:
        meta["generation"] = 1
    return name


def _carry_status(req: ApiRequest, old: Obj | None, new: Obj, *, status_write: bool) -> None:
    """With a status subresource, a main-resource write keeps the stored status."""
    rt = req.rtype
    if not rt.status_subresource or status_write:
        return
    if old is not None and "status" in old:
        new["status"] = old["status"]
    elif old is not None or rt.crd_name or rt.key == CRD_KEY:
        new.pop("status", None)


def _bump_generation(req: ApiRequest, old: Obj | None, new: Obj, *, status_write: bool) -> None:
    """``metadata.generation`` + 1 when what it tracks changed (every kind that keeps one).

    It reads and writes the final object's metadata: the steps before may have
    replaced ``new`` with a copy.
    """
    rt = req.rtype
    meta = new["metadata"]
    if rt.generation and old is not None and not status_write and \
            content(old, rt.status_subresource) != content(new, rt.status_subresource):
        meta["generation"] = int(old["metadata"].get("generation") or 0) + 1
    if rt.key == ("apps", "daemonsets"):
        # The template's own generation: it moves only when the pod template changes.
        template = int(((old or {}).get("metadata", {}).get("annotations") or {}).get(
            TEMPLATE_GENERATION, "0"))
        if old is None or _template(old) != _template(new):
            template += 1
        meta.setdefault("annotations", {})[TEMPLATE_GENERATION] = str(template)


def _template(obj: Obj) -> Any:
    return (obj.get("spec") or {}).get("template")
