"""A minimal valid golden state (one feature, one ConfigMap asset) for tests to break."""

from __future__ import annotations

from pathlib import Path

MINIMAL_CATALOG = """\
features:
  - name: demo
    title: Demo
    maturity: TP
    switch: always
    assets: [demo-cm]
assets:
  - name: demo-cm
    path: assets/demo/cm.yaml.j2
    order: 5
"""
MINIMAL_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: demo
  namespace: {{ namespace }}
data:
  version: "{{ version }}"
"""
MINIMAL_FILES: dict[str, str] = {
    "VERSION": "1.2.3\n",
    "catalog/demo.yaml": MINIMAL_CATALOG,
    "assets/demo/cm.yaml.j2": MINIMAL_TEMPLATE,
}


def write_golden_state(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write ``files`` (relative path -> text or bytes) under ``root``; returns ``root``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return root
