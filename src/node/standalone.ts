// Standalone mode (`listen`): a connection until its request head is in, and the request
// as hooks see it then.
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { HeadReader, type HeadResult, type RequestHead } from '../protocol/handshake/http1.js';
import type { SocketTarget } from './socket-routing.js';
import { decodeLatin1 } from './internals.js';

/**
 * A standalone connection until its request head is in. The socket's shared listeners
 * (socket-routing.ts) point here first, then at the WebSocket: nothing is added to
 * the socket for the handshake and then taken off again.
 */
export class PendingHandshake implements SocketTarget {
  readonly reader: HeadReader;
  headDone = false;
  timer: NodeJS.Timeout | undefined;
  constructor(
    readonly socket: net.Socket,
    readonly maxHeaderSize: number,
    private readonly onHead: (p: PendingHandshake, r: Exclude<HeadResult, { kind: 'more' }>) => void,
    private readonly onGone: (p: PendingHandshake) => void,
  ) {
    this.reader = new HeadReader(maxHeaderSize, decodeLatin1);
  }
  onData(chunk: Buffer): void {
    if (this.headDone) return;
    const r = this.reader.push(chunk);
    if (r.kind === 'more') return;
    this.headDone = true;
    this.onHead(this, r);
  }
  onEnd(): void {}
  onClose(): void {
    this.onGone(this);
  }
  onError(): void {}
  onDrain(): void {}
}

/** The request as hooks see it in standalone mode; header objects are built on first use. */
/** An `UpgradeRequest` (server.ts). */
export class StandaloneRequest {
  readonly method: string;
  readonly url: string;
  readonly httpVersion: string;
  #head: RequestHead;
  #headers: Record<string, string> | undefined;
  #raw: string[] | undefined;
  constructor(
    head: RequestHead,
    readonly socket: Duplex,
  ) {
    this.#head = head;
    this.method = head.method;
    this.url = head.target;
    this.httpVersion = head.httpVersion;
  }
  get headers(): Record<string, string> {
    return (this.#headers ??= this.#head.headers.toObject());
  }
  get rawHeaders(): string[] {
    return (this.#raw ??= this.#head.headers.entries.flat());
  }
}

