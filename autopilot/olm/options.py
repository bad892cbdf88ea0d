"""What a release passes to ``autopilot csv``: images, version and creation time.

Without flags the bundle is built from the checkout as it is (the Deployment's image,
pyproject's version, the ``createdAt`` of ``csv-base.yaml``), so ``--check`` is
deterministic. A release pipeline passes the operator image and every related image,
by digest, and the version; the CSV's Deployment, ``relatedImages`` and
``containerImage`` then all name exactly those.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from autopilot.olm.sources import BundleError

RELATED_IMAGE_PREFIX = "RELATED_IMAGE_"
# registry[:port]/path[:tag][@sha256:digest], lower-case repository path (OCI distribution).
IMAGE = re.compile(
    r"^[a-z0-9]+(?:[.-][a-z0-9]+)*(?::[0-9]+)?"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
RELATED_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


@dataclass(frozen=True)
class CsvOptions:
    """Release inputs; ``None`` / empty means "as in the checkout"."""

    image: str | None = None
    version: str | None = None
    related: dict[str, str] = field(default_factory=dict)
    created_at: str | None = None


def check_image(image: str, *, what: str) -> str:
    """``image`` when it is a valid image reference, else a one-line :class:`BundleError`."""
    if not IMAGE.match(image):
        raise BundleError(f"{what}: {image!r} is not an image reference "
                          "(registry/path[:tag][@sha256:<64 hex>])")
    return image


def parse_related(values: list[str]) -> dict[str, str]:
    """``NAME=IMAGE`` flags (NAME without the ``RELATED_IMAGE_`` prefix) as a mapping."""
    related: dict[str, str] = {}
    for value in values:
        name, sep, image = value.partition("=")
        name = name.removeprefix(RELATED_IMAGE_PREFIX)
        if not sep or not RELATED_NAME.match(name):
            raise BundleError(f"--related-image: {value!r} is not NAME=IMAGE "
                              "(NAME like KUBEVIRT_METRICS_EXPORTER)")
        related[name] = check_image(image, what=f"--related-image {name}")
    return related


def created_at(value: str | None, *, default: object) -> str:
    """``createdAt`` as OLM shows it (UTC, RFC 3339, seconds)."""
    raw = value if value is not None else default
    if isinstance(raw, datetime):
        stamp = raw
    else:
        try:
            stamp = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            raise BundleError(f"createdAt: {raw!r} is not an ISO 8601 time") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def with_images(deployment: dict[str, Any], options: CsvOptions) -> dict[str, Any]:
    """A copy of ``deployment`` naming the release's images.

    The last container (the controller) gets ``options.image``; every related image
    is set as its ``RELATED_IMAGE_<NAME>`` variable, added when the Deployment lacks it.
    """
    out = copy.deepcopy(deployment)
    spec = ((out.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = spec.get("containers") or []
    if not containers:
        raise BundleError("manifests/deployment.yaml: no containers")
    controller = containers[-1]
    if options.image:
        controller["image"] = check_image(options.image, what="--image")
    env = controller.setdefault("env", [])
    for name, image in options.related.items():
        key = RELATED_IMAGE_PREFIX + name
        entry = next((e for e in env if e.get("name") == key), None)
        if entry is None:
            env.append({"name": key, "value": image})
        else:
            entry.pop("valueFrom", None)
            entry["value"] = image
    return out
