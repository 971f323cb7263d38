// A raw WebSocket peer for tests: crafted bytes over a real TCP socket on 127.0.0.1.
// It deliberately shares no code with src/, so that the tests check ws13 against an
// independent reading of RFC 6455 §5.2.
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';

export const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function accept(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

export interface FrameSpec {
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  opcode: number;
  payload?: Buffer | string;
  /** A 4-byte mask key, `true` for a random one, or false/undefined for none. */
  mask?: Buffer | boolean;
  /** Force the length encoding (7, 16 or 64 bits) instead of the minimal one. */
  lengthBits?: 7 | 16 | 64;
  /** Write this length in the header instead of the payload's (for hostile tests). */
  declaredLength?: number | bigint;
}

/** Encodes one frame exactly as specified, including invalid ones. */
export function frame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  const len = spec.declaredLength ?? payload.length;
  const bits = spec.lengthBits ?? (len < 126 ? 7 : len < 65536 ? 16 : 64);
  const maskKey = spec.mask === true ? randomBytes(4) : spec.mask ? spec.mask : undefined;
  const head: number[] = [];
  head.push(
    (spec.fin === false ? 0 : 0x80) |
      (spec.rsv1 ? 0x40 : 0) |
      (spec.rsv2 ? 0x20 : 0) |
      (spec.rsv3 ? 0x10 : 0) |
      (spec.opcode & 0x0f),
  );
  const m = maskKey ? 0x80 : 0;
  if (bits === 7) head.push(m | Number(len));
  else if (bits === 16) head.push(m | 126, (Number(len) >> 8) & 0xff, Number(len) & 0xff);
  else {
    head.push(m | 127);
    const big = BigInt(len);
    for (let i = 7; i >= 0; i--) head.push(Number((big >> BigInt(i * 8)) & 0xffn));
  }
  const out: Buffer[] = [Buffer.from(head)];
  if (maskKey) {
    out.push(maskKey);
    const masked = Buffer.alloc(payload.length);
    for (let i = 0; i < payload.length; i++) masked[i] = payload[i]! ^ maskKey[i & 3]!;
    out.push(masked);
  } else out.push(payload);
  return Buffer.concat(out);
}

/** A close frame body: 2-byte code and a reason. */
export function closePayload(code: number, reason: string | Buffer = ''): Buffer {
  const r = typeof reason === 'string' ? Buffer.from(reason) : reason;
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

export interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  maskKey?: Buffer;
  /** Unmasked payload. */
  payload: Buffer;
  /** How the payload length was encoded on the wire: 7, 16 or 64 bits (set by parseFrames). */
  lengthBits?: 7 | 16 | 64;
}

/** Parses as many whole frames as `buf` holds; returns them and the bytes left over. */
export function parseFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off]!;
    const b1 = buf[off + 1]!;
    let len = b1 & 0x7f;
    let p = off + 2;
    let lengthBits: 7 | 16 | 64 = 7;
    if (len === 126) {
      if (buf.length - p < 2) break;
      len = buf.readUInt16BE(p);
      p += 2;
      lengthBits = 16;
    } else if (len === 127) {
      if (buf.length - p < 8) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
      lengthBits = 64;
    }
    const masked = (b1 & 0x80) !== 0;
    let maskKey: Buffer | undefined;
    if (masked) {
      if (buf.length - p < 4) break;
      maskKey = Buffer.from(buf.subarray(p, p + 4));
      p += 4;
    }
    if (buf.length - p < len) break;
    const payload = Buffer.from(buf.subarray(p, p + len));
    if (maskKey) for (let i = 0; i < payload.length; i++) payload[i]! ^= maskKey[i & 3]!;
    frames.push({
      fin: (b0 & 0x80) !== 0,
      rsv: (b0 >> 4) & 7,
      opcode: b0 & 0x0f,
      masked,
      ...(maskKey ? { maskKey } : {}),
      payload,
      lengthBits,
    });
    off = p + len;
  }
  return { frames, rest: buf.subarray(off) };
}

/**
 * A raw TCP connection that records everything it receives and lets a test wait for
 * frames, bytes, or the peer closing TCP.
 */
export class RawPeer {
  readonly socket: net.Socket;
  // Bytes received and not yet parsed are store[start, end). The store at least doubles when
  // it fills, so a 16 MiB frame arriving in 64 KiB reads costs linear time, not a
  // Buffer.concat per read (quadratic: seconds of copying, enough to time out under load).
  private store: Buffer = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  private framesSeen: Frame[] = [];
  private waiters: Array<() => void> = [];
  /** True once the peer sent FIN (we read EOF). */
  ended = false;
  /** True once the socket is fully closed. */
  closed = false;
  /** Raw bytes received before frame parsing started (e.g. an HTTP head). */
  httpHead: string | undefined;
  private inFrames = false;
  private received: Buffer[] = [];

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.received.push(d);
      this.append(d);
      this.pump();
    });
    socket.on('end', () => {
      this.ended = true;
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.ended = true;
      this.notify();
    });
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host, () => resolve(new RawPeer(s)));
      s.setNoDelay(true);
      s.once('error', reject);
    });
  }

  private get buf(): Buffer {
    return this.store.subarray(this.start, this.end);
  }

  private append(d: Buffer): void {
    if (this.end + d.length > this.store.length) {
      const live = this.end - this.start;
      const next = Buffer.allocUnsafe(Math.max(2 * (live + d.length), 65536));
      this.store.copy(next, 0, this.start, this.end);
      this.store = next;
      this.start = 0;
      this.end = live;
    }
    d.copy(this.store, this.end);
    this.end += d.length;
  }

  private pump(): void {
    if (!this.inFrames) {
      const i = this.buf.indexOf('\r\n\r\n');
      if (i < 0) return this.notify();
      this.httpHead = this.buf.subarray(0, i + 4).toString('latin1');
      this.start += i + 4;
      this.inFrames = true;
    }
    const { frames, rest } = parseFrames(this.buf);
    this.framesSeen.push(...frames);
    this.start = this.end - rest.length;
    this.notify();
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Treat incoming bytes as frames from the start (for a peer that already did its handshake). */
  startFrames(): void {
    this.inFrames = true;
    this.pump();
  }

  /** Every byte received on this connection so far, in order (HTTP head included). */
  rawBytes(): Buffer {
    if (this.received.length > 1) this.received = [Buffer.concat(this.received)];
    return this.received[0] ?? Buffer.alloc(0);
  }

  /** Bytes received but not yet parsed (incomplete frame, or the head before it is complete). */
  pending(): Buffer {
    return this.buf;
  }

  write(data: Buffer | string): void {
    this.socket.write(data);
  }

  /** Writes `data` in pieces of `size` bytes, each in its own write, waiting `delayMs` between. */
  async writeChunked(data: Buffer, size = 1, delayMs = 0): Promise<void> {
    for (let i = 0; i < data.length; i += size) {
      this.socket.write(data.subarray(i, i + size));
      if (delayMs) await sleep(delayMs);
      else if ((i / size) % 64 === 63) await new Promise((r) => setImmediate(r));
    }
  }

  /** Waits until `cond()` holds or the timeout passes (then rejects with `what`). */
  waitFor<T>(cond: () => T | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const v = cond();
        if (v !== undefined && v !== false) {
          clearTimeout(timer);
          resolve(v as T);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const loop = (): void => {
        if (!check()) this.waiters.push(loop);
      };
      loop();
    });
  }

  /** Resolves with the HTTP response head once it is complete. */
  head(timeoutMs = 5000): Promise<string> {
    return this.waitFor(() => this.httpHead, 'HTTP head', timeoutMs);
  }

  /** Resolves with the next frame not yet taken. */
  nextFrame(timeoutMs = 5000): Promise<Frame> {
    return this.waitFor(() => this.framesSeen.shift(), 'a frame', timeoutMs);
  }

  /** All frames received and not yet taken by nextFrame. */
  takeFrames(): Frame[] {
    const f = this.framesSeen;
    this.framesSeen = [];
    return f;
  }

  /** Resolves when the peer has closed TCP (EOF). */
  waitEnd(timeoutMs = 5000): Promise<true> {
    return this.waitFor(() => this.ended || undefined, 'TCP close by peer', timeoutMs) as Promise<true>;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * A raw TCP server on 127.0.0.1 (port 0 by default) for testing clients: every accepted
 * socket is wrapped in a RawPeer, whose `httpHead` is then the client's request head.
 */
export class RawServer {
  readonly server: net.Server;
  /** Every peer accepted so far, in order. */
  readonly peers: RawPeer[] = [];
  private queue: RawPeer[] = [];
  private waiters: Array<() => void> = [];

  private constructor(server: net.Server) {
    this.server = server;
    server.on('connection', (s: net.Socket) => {
      s.setNoDelay(true);
      const peer = new RawPeer(s);
      this.peers.push(peer);
      this.queue.push(peer);
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
  }

  static listen(port = 0, host = '127.0.0.1'): Promise<RawServer> {
    return new Promise((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(port, host, () => resolve(new RawServer(server)));
    });
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** `ws://127.0.0.1:<port><path>` */
  url(path = '/'): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  /** Resolves with the next accepted connection not yet taken. */
  accept(timeoutMs = 5000): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a connection')), timeoutMs);
      const loop = (): void => {
        const p = this.queue.shift();
        if (p) {
          clearTimeout(timer);
          resolve(p);
        } else this.waiters.push(loop);
      };
      loop();
    });
  }

  /** Destroys every accepted socket and stops listening. */
  close(): Promise<void> {
    for (const p of this.peers) p.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Client handshake bytes with the seed's fixed key unless told otherwise. */
export function upgradeRequest(
  opts: { path?: string; host?: string; key?: string; extra?: string[]; omit?: string[] } = {},
): string {
  const key = opts.key ?? 'dGhlIHNhbXBsZSBub25jZQ==';
  const lines = [
    `GET ${opts.path ?? '/'} HTTP/1.1`,
    `Host: ${opts.host ?? '127.0.0.1'}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
  ].filter((l) => !(opts.omit ?? []).some((o) => l.toLowerCase().startsWith(o.toLowerCase() + ':')));
  return [...lines, ...(opts.extra ?? []), '', ''].join('\r\n');
}

/** Splits an HTTP head into status line and lower-cased header list. */
export function parseHead(head: string): { statusLine: string; status: number; headers: Array<[string, string]> } {
  const lines = head.split('\r\n').filter((l) => l.length > 0);
  const statusLine = lines[0] ?? '';
  const headers = lines.slice(1).map((l): [string, string] => {
    const i = l.indexOf(':');
    return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
  });
  return { statusLine, status: Number(statusLine.split(' ')[1]), headers };
}

export function header(h: Array<[string, string]>, name: string): string[] {
  return h.filter(([n]) => n === name.toLowerCase()).map(([, v]) => v);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
