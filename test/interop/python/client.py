#!/usr/bin/python3
"""WebSocket client peer for the ws13 interop tests (python3-websockets 10.4).

Usage: client.py URL [--subprotocols a,b] [--max-size N] [--deflate default|JSON] < steps.json

Reads a JSON array of steps on stdin, connects to URL, runs the steps in order and
reports on stdout, one JSON object per line:

  {"event": "open", "subprotocol": S|null}
        with --deflate also "extensions" (the server's answer) and "agreed" (see common.py)
  {"event": "message", "type": ..., "length": N, "sha256": H, "text"|"hex": ...}   (recv)
  {"event": "many", "items": ["t:...", "b:<hex>", ...]}                            (recv_many)
  {"event": "ping", "hex": H}       a ping arrived from the server (at any time)
  {"event": "pong", "hex": H}       the pong for our ping step arrived
  {"event": "pong_timeout", "hex": H}
  {"event": "closed", "code": C, "reason": R}   close code/reason received from the server
  {"event": "error", "type": T, "message": M}
  {"event": "done"}                 last line, always

Steps (the same little language as the Node client runner in peers.ts):
  {"op": "send", "text": S} | {"op": "send", "hex": H}
  {"op": "send_fragments", "text": [S, ...]}        text message, one frame per string
  {"op": "send_fragments", "hex": [H, ...], "binary": B}
        one frame per chunk; with "binary": false this is a text message whose chunks may
        split a UTF-8 sequence (sent frame by frame, since send() can't express that)
  {"op": "send_pattern", "kind": "text"|"binary", "size": N}
  {"op": "send_many", "count": N, "prefix": P}      alternately text P+i (even i) and binary
  {"op": "recv"} | {"op": "recv_many", "count": N}
  {"op": "ping", "hex": H} | {"op": "wait_ping", "hex": H}
  {"op": "close", "code": C, "reason": R} | {"op": "wait_closed"}
"""

import argparse
import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websockets  # noqa: E402
from websockets.frames import OP_CONT, OP_TEXT  # noqa: E402
from websockets.legacy.client import WebSocketClientProtocol  # noqa: E402

from common import (  # noqa: E402
    deflate_factory,
    deflate_report,
    describe,
    emit,
    parse_max_size,
    parse_subprotocols,
    pattern,
)

STEP_TIMEOUT = 15.0


class RecordingClientProtocol(WebSocketClientProtocol):
    """Reports every ping received: the library answers a ping by calling pong(payload)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pings_seen = []
        self.ping_event = asyncio.Event()

    async def pong(self, data=b""):
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        emit(event="ping", hex=payload.hex())
        self.pings_seen.append(payload.hex())
        self.ping_event.set()
        await super().pong(data)


def many_item(i, prefix):
    text = "%s%d" % (prefix, i)
    return text if i % 2 == 0 else text.encode("utf-8")


def item_label(message):
    if isinstance(message, str):
        return "t:" + message
    return "b:" + bytes(message).hex()


async def run_step(ws, step):
    op = step["op"]
    if op == "send":
        if "text" in step:
            await ws.send(step["text"])
        else:
            await ws.send(bytes.fromhex(step["hex"]))
    elif op == "send_fragments":
        if "text" in step:
            await ws.send(list(step["text"]))
        elif step.get("binary", True):
            await ws.send([bytes.fromhex(h) for h in step["hex"]])
        else:
            # A text message whose fragments may cut a UTF-8 sequence in two.
            chunks = [bytes.fromhex(h) for h in step["hex"]]
            for i, chunk in enumerate(chunks):
                opcode = OP_TEXT if i == 0 else OP_CONT
                await ws.write_frame(i == len(chunks) - 1, opcode, chunk)
    elif op == "send_pattern":
        await ws.send(pattern(step["kind"], int(step["size"])))
    elif op == "send_many":
        for i in range(int(step["count"])):
            await ws.send(many_item(i, step["prefix"]))
    elif op == "recv":
        message = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
        emit(event="message", **describe(message))
    elif op == "recv_many":
        items = []
        for _ in range(int(step["count"])):
            items.append(item_label(await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)))
        emit(event="many", items=items)
    elif op == "ping":
        payload = bytes.fromhex(step["hex"])
        waiter = await ws.ping(payload)
        try:
            await asyncio.wait_for(waiter, STEP_TIMEOUT)
            emit(event="pong", hex=payload.hex())
        except asyncio.TimeoutError:
            emit(event="pong_timeout", hex=payload.hex())
    elif op == "wait_ping":
        want = step["hex"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STEP_TIMEOUT
        while want not in ws.pings_seen:
            ws.ping_event.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise asyncio.TimeoutError("no ping with payload %s" % want)
            await asyncio.wait_for(ws.ping_event.wait(), remaining)
    elif op == "close":
        await ws.close(int(step["code"]), step.get("reason", ""))
        emit(event="closed", code=ws.close_code, reason=ws.close_reason)
    elif op == "wait_closed":
        try:
            while True:
                message = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
                emit(event="message", **describe(message))
        except websockets.ConnectionClosed:
            pass
        await asyncio.wait_for(ws.wait_closed(), STEP_TIMEOUT)
        emit(event="closed", code=ws.close_code, reason=ws.close_reason)
    else:
        raise ValueError("unknown step op: %r" % (op,))


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--subprotocols", default="")
    parser.add_argument("--max-size", default=str(2 ** 20))
    parser.add_argument("--deflate", default=None, help='"default" or JSON (see common.py)')
    args = parser.parse_args()
    steps = json.loads(sys.stdin.read() or "[]")

    compression = {}
    if args.deflate is None:
        compression = {"compression": None}
    else:
        extensions = deflate_factory(args.deflate, server=False)
        if extensions is not None:
            compression = {"compression": None, "extensions": extensions}

    try:
        ws = await asyncio.wait_for(
            websockets.connect(
                args.url,
                subprotocols=parse_subprotocols(args.subprotocols),
                max_size=parse_max_size(args.max_size),
                create_protocol=RecordingClientProtocol,
                close_timeout=5,
                ping_interval=None,
                **compression,
            ),
            STEP_TIMEOUT,
        )
    except Exception as exc:
        emit(event="error", type=type(exc).__name__, message=str(exc))
        emit(event="done")
        return 1

    if args.deflate is None:
        emit(event="open", subprotocol=ws.subprotocol)
    else:
        emit(event="open", subprotocol=ws.subprotocol, **deflate_report(ws, server=False))
    status = 0
    try:
        for step in steps:
            await run_step(ws, step)
    except Exception as exc:
        emit(event="error", type=type(exc).__name__, message=str(exc))
        status = 1
    finally:
        if not ws.closed:
            await ws.close()
    emit(event="done")
    return status


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
