// Helpers for the Node API integration tests: bounded waits and a raw TCP peer that speaks
// just enough RFC 6455 to play a misbehaving client (written for these tests, no src/ imports).
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function expectedAccept(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** Rejects after `ms` with a message naming what was awaited. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

/** The arguments of the next `event` on `emitter`, bounded in time. */
export function next<T extends unknown[] = unknown[]>(emitter: EventEmitter, event: string, ms = 3000): Promise<T> {
  return within(
    new Promise<T>((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args as T))),
    ms,
    `'${event}'`,
  );
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Collects `n` 'message' events. */
export function messages(emitter: EventEmitter, n: number, ms = 3000): Promise<Array<[unknown, boolean]>> {
  const got: Array<[unknown, boolean]> = [];
  return within(
    new Promise((resolve) => {
      const on = (data: unknown, isBinary: boolean): void => {
        got.push([data, isBinary]);
        if (got.length === n) {
          emitter.off('message', on);
          resolve(got);
        }
      };
      emitter.on('message', on);
    }),
    ms,
    `${n} messages`,
  );
}

/** One client-to-server frame, masked. */
export function maskedFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0), fin = true): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const key = randomBytes(4);
  let head: Buffer;
  if (data.length < 126) head = Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | data.length]);
  else if (data.length < 65536) {
    head = Buffer.alloc(4);
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = 0x80 | 126;
    head.writeUInt16BE(data.length, 2);
  } else throw new Error('test frames stay under 64 KiB');
  const masked = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) masked[i] = data[i]! ^ key[i & 3]!;
  return Buffer.concat([head, key, masked]);
}

/** A server-to-client frame as read off the wire (unmasked). */
export interface RawFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/**
 * A raw client over node:net: sends a hand-written upgrade request, exposes the response
 * head, then parses the frames the server sends.
 */
export class RawClient {
  readonly socket: net.Socket;
  head = '';
  frames: RawFrame[] = [];
  closed = false;
  #buf = Buffer.alloc(0);
  #headDone = false;
  #waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk]);
      this.#parse();
      this.#wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  /** Connects and sends `request` (defaults to a valid upgrade for `path`). */
  static async connect(port: number, opts: { path?: string; request?: string; key?: string; headers?: string[] } = {}): Promise<RawClient> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await within(new Promise<void>((r, j) => socket.once('connect', r).once('error', j)), 3000, 'TCP connect');
    const c = new RawClient(socket);
    const key = opts.key ?? randomBytes(16).toString('base64');
    const request =
      opts.request ??
      [
        `GET ${opts.path ?? '/'} HTTP/1.1`,
        `Host: 127.0.0.1:${port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${key}`,
        'Sec-WebSocket-Version: 13',
        ...(opts.headers ?? []),
        '',
        '',
      ].join('\r\n');
    socket.write(request);
    return c;
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  #parse(): void {
    if (!this.#headDone) {
      const i = this.#buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      this.head = this.#buf.subarray(0, i).toString('latin1');
      this.#buf = this.#buf.subarray(i + 4);
      this.#headDone = true;
      // Frames only follow a 101; a refusal's body is kept as-is in `rest`.
      if (!this.head.startsWith('HTTP/1.1 101')) return;
    }
    if (!this.head.startsWith('HTTP/1.1 101')) return;
    for (;;) {
      const b = this.#buf;
      if (b.length < 2) return;
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      if (b.length < off + len) return;
      this.frames.push({ fin: (b[0]! & 0x80) !== 0, opcode: b[0]! & 0x0f, payload: Buffer.from(b.subarray(off, off + len)) });
      this.#buf = b.subarray(off + len);
    }
  }

  /** Bytes after the head that were not frames (a refusal's body). */
  get rest(): string {
    return this.#buf.toString('utf8');
  }

  /** Waits until `pred` holds, re-checking on every read and on close. */
  async until(pred: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await within(new Promise<void>((r) => this.#waiters.push(r)), left, what).catch(() => {});
    }
  }

  async waitHead(ms = 3000): Promise<string> {
    await this.until(() => this.#headDone, ms, 'the response head');
    return this.head;
  }

  async waitClosed(ms = 3000): Promise<void> {
    await this.until(() => this.closed, ms, 'the TCP close');
  }

  send(opcode: number, payload?: Buffer | string, fin = true): void {
    this.socket.write(maskedFrame(opcode, payload, fin));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Parses a response head into status and lower-case headers (repeated ones as arrays). */
export function parseHead(head: string): { status: number; headers: Record<string, string[]> } {
  const [statusLine, ...lines] = head.split('\r\n');
  const status = Number(statusLine!.split(' ')[1]);
  const headers: Record<string, string[]> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    const k = l.slice(0, i).trim().toLowerCase();
    (headers[k] ??= []).push(l.slice(i + 1).trim());
  }
  return { status, headers };
}
