"""Smaller TLS read buffers: one per open connection, and the controller keeps ~35 open.

asyncio gives every TLS connection a 256 KiB read buffer (``SSLProtocol.max_size``),
allocated and zero-filled when the connection opens, so resident for its whole
life. The controller holds one connection per watch (one per watched kind, about
35) plus a few for requests: 9 MB of its memory at rest were these buffers. A TLS
record carries at most 16 KiB of data, so a 32 KiB buffer still takes a whole
record (and more) per read; long answers take more reads of the same size.
"""

from __future__ import annotations

from asyncio import sslproto

TLS_READ_BUFFER = 32 * 1024


def use_smaller_tls_read_buffers() -> None:
    """Make new TLS connections of this process use :data:`TLS_READ_BUFFER` (idempotent)."""
    protocol = getattr(sslproto, "SSLProtocol", None)
    # The attribute exists since Python 3.11's TLS rewrite; elsewhere leave it alone.
    current = getattr(protocol, "max_size", None)
    if isinstance(current, int) and current > TLS_READ_BUFFER:
        protocol.max_size = TLS_READ_BUFFER  # type: ignore[union-attr]
