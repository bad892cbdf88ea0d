"""A self-signed serving certificate for loopback (kubectl only sends tokens over TLS)."""

from __future__ import annotations

import atexit
import shutil
import ssl
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

_lock = threading.Lock()
_cached: ServingCert | None = None


@dataclass(frozen=True)
class ServingCert:
    """PEM files of the certificate (its own CA) and its key."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        """TLS context for the server side."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.cert), str(self.key))
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """TLS context trusting this certificate (for test clients)."""
        return ssl.create_default_context(cafile=str(self.cert))


class TlsUnavailable(RuntimeError):
    """No ``openssl`` to make a certificate with."""


def serving_cert() -> ServingCert:
    """The process-wide certificate for 127.0.0.1/localhost, made once with ``openssl``."""
    global _cached
    with _lock:
        if _cached is not None and _cached.cert.is_file():
            return _cached
        openssl = shutil.which("openssl")
        if openssl is None:
            raise TlsUnavailable("openssl is not installed; cannot make a serving certificate")
        folder = Path(tempfile.mkdtemp(prefix="kubesim-tls-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        cert, key = folder / "tls.crt", folder / "tls.key"
        cmd = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
               "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out", str(cert),
               "-days", "3650", "-subj", "/CN=kubesim",
               "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
               "-addext", "basicConstraints=critical,CA:TRUE",
               "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
               "-addext", "extendedKeyUsage=serverAuth"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        if proc.returncode != 0:
            raise TlsUnavailable(f"openssl failed: {proc.stderr.strip().splitlines()[-1:]}")
        _cached = ServingCert(cert, key)
        return _cached
