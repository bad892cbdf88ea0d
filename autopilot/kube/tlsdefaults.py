"""aiohttp's default TLS contexts, emptied of the system trust store the controller never uses.

aiohttp builds two TLS contexts when it is imported, for requests that bring none
of their own: a verifying one and one that does not verify, and both load the
system CA bundle (about 140 certificates, 0.8 MB of OpenSSL objects each). The
controller brings its own context to every request (the kubeconfig's CA, or the
system's when the kubeconfig names none: :func:`autopilot.kube.client._ssl_context`),
so the two are dead weight: 1.6 MB resident for the life of the process.

:func:`release_default_trust_stores` swaps them for contexts with the same settings
and an empty store. The non-verifying one behaves as before (it reads no
certificate); a request relying on the verifying one now fails verification:
the controller trusts nothing it was not told to trust. Called by ``autopilot
run`` before its loop starts, so the freed memory serves what the start allocates.
"""

from __future__ import annotations

import ssl

from aiohttp import connector

# aiohttp's private names for them (aiohttp 3.9 - 3.14); missing ones are left alone.
VERIFYING = "_SSL_CONTEXT_VERIFIED"
NOT_VERIFYING = "_SSL_CONTEXT_UNVERIFIED"


def _context(*, verify: bool) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies hostnames and chains by default
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.options |= ssl.OP_NO_COMPRESSION
    ctx.set_alpn_protocols(("http/1.1",))  # what aiohttp's own set
    return ctx


def release_default_trust_stores() -> int:
    """Replace aiohttp's default contexts that hold certificates; returns how many were."""
    replaced = 0
    for name, verify in ((VERIFYING, True), (NOT_VERIFYING, False)):
        current = getattr(connector, name, None)
        if isinstance(current, ssl.SSLContext) and current.cert_store_stats()["x509"]:
            setattr(connector, name, _context(verify=verify))
            replaced += 1
    return replaced
