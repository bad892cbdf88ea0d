"""What a write naming an object's uid (or a delete's preconditions) is answered.

A real kube-apiserver checks the uid in four places, each worded its own way:

- PUT: a uid in the body is a storage precondition, checked before anything else
  about the object (409, with the etcd key in the message);
- PATCH (any type): the patched object's uid must be the stored one; a change is a
  validation error like any immutable field (422);
- an apply that would create: a uid means the caller expected an object, so none
  is created (409 "uid mismatch");
- DELETE: ``preconditions.uid`` / ``preconditions.resourceVersion`` (409; namespaces
  and CRDs, which have delete code of their own, word it as storage does).

A POST ignores the uid of its body (the new object gets a fresh one).
"""

from __future__ import annotations

from typing import Any

from kubesim.errors import SimError, cannot_fulfil
from kubesim.state import CRD_KEY, NS_KEY
from kubesim.types import ResourceType

Obj = dict[str, Any]

# Built-in resources whose etcd prefix is not their plural (older names kept).
_ETCD_PREFIXES = {("", "services"): "services/specs", ("", "nodes"): "minions"}
# Resources whose delete checks the preconditions in their own words.
_OWN_DELETE = (NS_KEY, CRD_KEY)


def given_uid(obj: Any) -> str:
    """The uid an object in a request names ("" when none)."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    uid = meta.get("uid") if isinstance(meta, dict) else None
    return "" if uid is None else str(uid)


def storage_key(rtype: ResourceType, namespace: str, name: str) -> str:
    """The object's etcd key as kube-apiserver builds it (a storage error shows it)."""
    if rtype.crd_name or rtype.key == CRD_KEY:
        prefix = f"{rtype.group}/{rtype.plural}"  # API extensions live under their group
    else:
        prefix = _ETCD_PREFIXES.get(rtype.key, rtype.plural)
    return "/".join(["/registry", prefix, *([namespace] if namespace else []), name])


def check_update(rtype: ResourceType, old: Obj, body: Any) -> None:
    """PUT: a uid in the body must be the stored object's (409 as storage words it)."""
    uid = given_uid(body)
    stored = old["metadata"]["uid"]
    if not uid or uid == stored:
        return
    meta = old["metadata"]
    key = storage_key(rtype, meta.get("namespace") or "", meta["name"])
    raise cannot_fulfil(
        rtype.plural, rtype.group, meta["name"],
        f"StorageError: invalid object, Code: 4, Key: {key}, ResourceVersion: 0, "
        f"AdditionalErrorMsg: Precondition failed: UID in precondition: {uid}, "
        f"UID in object meta: {stored}")


def check_apply_create(rtype: ResourceType, name: str, applied: Obj) -> None:
    """An apply finding no object: a uid in it refuses the create (409)."""
    uid = given_uid(applied)
    if uid:
        raise cannot_fulfil(rtype.plural, rtype.group, name,
                            f"uid mismatch: the provided object specified uid {uid}, and no "
                            "existing object was found")


def uid_causes(given: str, old: Obj) -> list[dict[str, Any]]:
    """The validation cause of a patched object whose uid is not the stored one (the
    update's metadata checks repeat it: see ``validation.update_metadata_causes``)."""
    if not given or given == old["metadata"]["uid"]:
        return []
    return [{"reason": "FieldValueInvalid",
             "message": f'Invalid value: "{given}": field is immutable', "field": "metadata.uid"}]


def check_delete(rtype: ResourceType, old: Obj, options: Any) -> None:
    """A delete's preconditions against the stored object (uid first, then version)."""
    pre = options.get("preconditions") if isinstance(options, dict) else None
    if not isinstance(pre, dict):
        return
    meta = old["metadata"]
    # A precondition present but empty still has to match (the server compares pointers).
    for field, stored in (("uid", meta["uid"]), ("resourceVersion", meta["resourceVersion"])):
        wanted = pre.get(field)
        if wanted is not None and str(wanted) != stored:
            raise _delete_refused(rtype, meta["name"], field, str(wanted), stored)


def _delete_refused(rtype: ResourceType, name: str, field: str, wanted: str,
                    stored: str) -> SimError:
    if rtype.key in _OWN_DELETE:
        what = "UID" if field == "uid" else "ResourceVersion"
        return cannot_fulfil(rtype.plural, rtype.group, name,
                             f"Precondition failed: {what} in precondition: {wanted}, "
                             f"{what} in object meta: {stored}")
    if field == "uid":
        why = (f"the UID in the precondition ({wanted}) does not match the UID in record "
               f"({stored}). The object might have been deleted and then recreated")
    else:
        why = (f"the ResourceVersion in the precondition ({wanted}) does not match the "
               f"ResourceVersion in record ({stored}). The object might have been modified")
    # Named by kind here: the generic delete path builds its conflict from the kind.
    return cannot_fulfil(rtype.kind, rtype.group, name, why)
