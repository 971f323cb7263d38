#!/usr/bin/python3
"""WebSocket echo server peer for the ws13 interop tests (python3-websockets 10.4).

Listens on 127.0.0.1:0 and reports on stdout, one JSON object per line:

  {"event": "listening", "port": N}                    once, when ready
  {"event": "connection", "subprotocol": S|null, "path": P}
  {"event": "message", "type": "text"|"binary", "length": N, "sha256": H, "text"|"hex": ...}
  {"event": "ping", "hex": H}          a ping arrived from the client (payload in hex)
  {"event": "pong", "hex": H}          the pong for our own ping (--ping-after-first) arrived
  {"event": "pong_timeout", "hex": H}  ... or did not, within 10 s
  {"event": "closed", "code": C, "reason": R}   close code/reason received from the client
  {"event": "error", "type": T, "message": M}

Options:
  --subprotocols a,b          subprotocols the server supports (in preference order)
  --max-size N                max incoming message size in bytes ('none' = unlimited)
  --close-after-first C R     on the first message, close with code C and reason R (no echo)
  --ping-after-first HEX      on the first message, send a ping with this payload (no echo)
  --fragment-echo N           echo each message as a fragmented message of N pieces
  --lifetime S                exit after S seconds whatever happens (safety net)
  --deflate default|JSON      enable permessage-deflate (see common.py); the connection
                              event then also has "extensions" and "agreed"
"""

import argparse
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websockets  # noqa: E402
from websockets.legacy.server import WebSocketServerProtocol  # noqa: E402

from common import (  # noqa: E402
    deflate_factory,
    deflate_report,
    describe,
    emit,
    parse_max_size,
    parse_subprotocols,
    split_evenly,
)


class RecordingServerProtocol(WebSocketServerProtocol):
    """Reports every ping received: the library answers a ping by calling pong(payload)."""

    async def pong(self, data=b""):
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        emit(event="ping", hex=payload.hex())
        await super().pong(data)


def make_handler(args):
    async def handler(ws):
        if args.deflate is None:
            emit(event="connection", subprotocol=ws.subprotocol, path=ws.path)
        else:
            emit(event="connection", subprotocol=ws.subprotocol, path=ws.path, **deflate_report(ws, server=True))
        first = True
        try:
            async for message in ws:
                emit(event="message", **describe(message))
                if first and args.close_after_first:
                    code, reason = args.close_after_first
                    await ws.close(int(code), reason)
                    break
                if first and args.ping_after_first is not None:
                    first = False
                    payload = bytes.fromhex(args.ping_after_first)
                    waiter = await ws.ping(payload)
                    try:
                        await asyncio.wait_for(waiter, 10)
                        emit(event="pong", hex=payload.hex())
                    except asyncio.TimeoutError:
                        emit(event="pong_timeout", hex=payload.hex())
                    continue
                first = False
                if args.fragment_echo > 1 and len(message) > 0:
                    await ws.send(split_evenly(message, args.fragment_echo))
                else:
                    await ws.send(message)
        except websockets.ConnectionClosed:
            pass
        except Exception as exc:  # reported, so that the Node test can show it
            emit(event="error", type=type(exc).__name__, message=str(exc))
        await ws.wait_closed()
        emit(event="closed", code=ws.close_code, reason=ws.close_reason)

    return handler


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--subprotocols", default="")
    parser.add_argument("--max-size", default=str(2 ** 20))
    parser.add_argument("--close-after-first", nargs=2, metavar=("CODE", "REASON"))
    parser.add_argument("--ping-after-first", metavar="HEX")
    parser.add_argument("--fragment-echo", type=int, default=1)
    parser.add_argument("--lifetime", type=float, default=120.0)
    parser.add_argument("--deflate", default=None, help='"default" or JSON (see common.py)')
    args = parser.parse_args()

    compression = {}
    if args.deflate is None:
        compression = {"compression": None}
    else:
        extensions = deflate_factory(args.deflate, server=True)
        if extensions is not None:
            compression = {"compression": None, "extensions": extensions}

    async with websockets.serve(
        make_handler(args),
        "127.0.0.1",
        0,
        subprotocols=parse_subprotocols(args.subprotocols),
        max_size=parse_max_size(args.max_size),
        create_protocol=RecordingServerProtocol,
        close_timeout=5,
        ping_interval=None,
        **compression,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        emit(event="listening", port=port)
        await asyncio.sleep(args.lifetime)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
