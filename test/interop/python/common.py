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


def pattern(kind, size):
    """The deterministic test payload of `size` bytes: str for "text", bytes for "binary"."""
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
