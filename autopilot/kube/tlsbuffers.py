"""Smaller TLS read buffers: one per open connection, and the controller keeps ~35 open.

asyncio gives every TLS connection a 256 KiB read buffer (``SSLProtocol.max_size``),
allocated and zero-filled when the connection opens, so resident for its whole
life. The controller holds one connection per watch (one per watched kind, about
35) plus a few for requests: 9 MB of its memory at rest were these buffers. A TLS
record carries at most 16 KiB of data; OpenSSL decrypts it once all of it has
arrived, whatever the size of the reads that brought it, so an 8 KiB buffer only
means two or three reads a record on long answers. The size also bounds what
each read adds at once to the connection's incoming memory BIO, whose buffer
keeps its largest size: measured at cold start (48 connections), RSS was about
0.8 MB lower with 16 KiB than with 32 KiB, and 1.8 MB lower with 8 KiB.
"""

from __future__ import annotations

from asyncio import sslproto

TLS_READ_BUFFER = 8 * 1024


def use_smaller_tls_read_buffers() -> None:
    """Make new TLS connections of this process use :data:`TLS_READ_BUFFER` (idempotent)."""
    protocol = getattr(sslproto, "SSLProtocol", None)
    # The attribute exists since Python 3.11's TLS rewrite; elsewhere leave it alone.
    current = getattr(protocol, "max_size", None)
    if isinstance(current, int) and current > TLS_READ_BUFFER:
        protocol.max_size = TLS_READ_BUFFER  # type: ignore[union-attr]
