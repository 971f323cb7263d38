"""Helpers shared by the Python interop peers (echo_server.py, client.py).

Runs under Debian's /usr/bin/python3 with python3-websockets 10.4 (legacy asyncio API).
Every line written to stdout is one JSON object, so that the Node tests can parse it.
"""

import hashlib
import json
import sys

# Messages up to this many bytes are reported with their full content; larger ones
# only by type, length and SHA-256.
INLINE_LIMIT = 4096

# The 32-byte unit of the deterministic text pattern; test/interop/peers.ts builds the
# same one. 23 ASCII bytes + "€" (3) + "🚀" (4) + "é" (2).
TEXT_UNIT = "0123456789abcdefghijklm\u20ac\U0001F680\u00e9"
assert len(TEXT_UNIT.encode("utf-8")) == 32

# Byte i of the binary pattern is (i * 31 + 7) & 0xff; the sequence has period 256.
BINARY_BLOCK = bytes((i * 31 + 7) & 0xFF for i in range(256))


def emit(**event):
    """Writes one event as a JSON line and flushes at once."""
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def describe(message):
    """A JSON-friendly summary of a received message."""
    if isinstance(message, str):
        data = message.encode("utf-8")
        out = {"type": "text", "length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        if len(data) <= INLINE_LIMIT:
            out["text"] = message
    else:
        data = bytes(message)
        out = {"type": "binary", "length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        if len(data) <= INLINE_LIMIT:
            out["hex"] = data.hex()
    return out


def random_bytes(size):
    """Incompressible bytes, the same as randomBytes() in peers.ts: xorshift32 from a
    fixed seed, one byte (the low 8 bits) per step."""
    out = bytearray(size)
    x = 0x9E3779B9
    for i in range(size):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x & 0xFF
    return bytes(out)


def pattern(kind, size):
    """The deterministic test payload of `size` bytes: str for "text", bytes for "binary"
    and "random"."""
    if kind == "random":
        return random_bytes(size)
    if kind == "binary":
        reps = size // 256 + 1
        return (BINARY_BLOCK * reps)[:size]
    if kind == "text":
        if size % 32 != 0:
            raise ValueError("text pattern size must be a multiple of 32 bytes")
        return TEXT_UNIT * (size // 32)
    raise ValueError("unknown pattern kind: %r" % (kind,))


def split_evenly(message, parts):
    """Splits a str (on character boundaries) or bytes into `parts` non-empty-ish pieces."""
    parts = max(1, parts)
    n = len(message)
    step = max(1, -(-n // parts))
    pieces = [message[i : i + step] for i in range(0, n, step)]
    return pieces or [message[:0]]


def parse_max_size(value):
    """'none' or '0' means no limit; otherwise an int number of bytes."""
    if value is None:
        return None
    if str(value).lower() in ("none", "0"):
        return None
    return int(value)


def parse_subprotocols(value):
    """A comma-separated list; empty string or None means no subprotocols."""
    if not value:
        return None
    return [p for p in value.split(",") if p]


def deflate_factory(value, server):
    """The permessage-deflate extension factory for --deflate VALUE: "default" (the
    library's compression="deflate" defaults) or JSON with the RFC 7692 parameter names
    (null: not set). Returns a list for the `extensions` argument, or None for defaults."""
    from websockets.extensions.permessage_deflate import (
        ClientPerMessageDeflateFactory,
        ServerPerMessageDeflateFactory,
    )

    if value == "default":
        return None
    cfg = json.loads(value)
    kwargs = dict(
        server_no_context_takeover=bool(cfg.get("server_no_context_takeover")),
        client_no_context_takeover=bool(cfg.get("client_no_context_takeover")),
        server_max_window_bits=cfg.get("server_max_window_bits"),
        client_max_window_bits=cfg.get("client_max_window_bits"),
    )
    if server:
        return [ServerPerMessageDeflateFactory(**kwargs)]
    return [ClientPerMessageDeflateFactory(**kwargs)]


def deflate_report(ws, server):
    """What this side agreed to: the Sec-WebSocket-Extensions answer and the parameters of
    the permessage-deflate extension object (in RFC 7692 names)."""
    header = ws.response_headers.get("Sec-WebSocket-Extensions")
    agreed = None
    for ext in ws.extensions:
        if ext.name == "permessage-deflate":
            local = {
                "no_context_takeover": ext.local_no_context_takeover,
                "max_window_bits": ext.local_max_window_bits,
            }
            remote = {
                "no_context_takeover": ext.remote_no_context_takeover,
                "max_window_bits": ext.remote_max_window_bits,
            }
            srv, cli = (local, remote) if server else (remote, local)
            agreed = {
                "server_no_context_takeover": srv["no_context_takeover"],
                "client_no_context_takeover": cli["no_context_takeover"],
                "server_max_window_bits": srv["max_window_bits"],
                "client_max_window_bits": cli["max_window_bits"],
            }
    return {"extensions": header or "", "agreed": agreed}
