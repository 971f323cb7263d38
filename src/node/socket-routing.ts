// A transport's listeners, shared by all connections: each finds its target through the
// socket, so no connection makes closures of its own.
import type { Duplex } from 'node:stream';
import { Socket } from 'node:net';

/** What a transport's shared listeners call: a connection, or the server's handshake before it. */
export interface SocketTarget {
  onData(chunk: Buffer): void;
  onEnd(): void;
  onClose(): void;
  onError(err: Error): void;
  onDrain(): void;
}

/** The target of a transport's shared listeners (below). */
const kTarget = Symbol('ws13.target');
type Routed = Duplex & { [kTarget]: SocketTarget };

function onSocketData(this: Routed, chunk: Buffer): void {
  this[kTarget].onData(chunk);
}
function onSocketEnd(this: Routed): void {
  this[kTarget].onEnd();
}
function onSocketClose(this: Routed): void {
  this[kTarget].onClose();
}
function onSocketError(this: Routed, err: Error): void {
  this[kTarget].onError(err);
}
function onSocketDrain(this: Routed): void {
  this[kTarget].onDrain();
}

/**
 * Points the transport's listeners at `target`, adding them the first time.
 * They are never removed: one function each for all connections, no closures, and no
 * `removeListener`, whose `delete` would turn the socket's listener table into a
 * dictionary (about 200 bytes more per connection).
 */
export function routeSocket(socket: Duplex, target: SocketTarget): void {
  const s = socket as Duplex & { [kTarget]?: SocketTarget };
  const first = s[kTarget] === undefined;
  s[kTarget] = target;
  if (!first) return;
  socket.on('data', onSocketData);
  // A net.Socket that is not half-open ends its side when the peer ends, and 'close'
  // follows, which reports the end: an 'end' listener would only cost memory.
  if (!(socket instanceof Socket) || socket.allowHalfOpen) socket.on('end', onSocketEnd);
  socket.on('close', onSocketClose);
  socket.on('error', onSocketError);
}

/** Calls the target's `onDrain` at the transport's next 'drain' (once). */
export function awaitDrain(socket: Duplex): void {
  socket.once('drain', onSocketDrain);
}
