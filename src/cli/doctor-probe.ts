// ws13 doctor's probe: connects (DNS, TCP, TLS), performs the opening handshake with the
// core's ClientHandshake, reads the answer, and moves frames with the core's encoder and
// FrameParser. Everything observed, nothing judged: doctor.ts explains.
import dns from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import {
  ClientHandshake,
  FrameParser,
  HeadReader,
  encodeMaskedFrame,
  type ClientDecision,
  type FrameSink,
  type MaskSource,
  type ResponseHead,
} from '../protocol/index.js';
import { readErrorBody } from '../node/client.js';
import { connectRequest } from '../node/dial/proxy.js';

export interface Timings {
  dnsMs?: number;
  connectMs?: number;
  proxyMs?: number;
  tlsMs?: number;
  handshakeMs?: number;
  pingMs?: number;
  totalMs?: number;
}

export interface Settings {
  url: URL;
  secure: boolean;
  protocols: string[];
  origin: string | undefined;
  headers: Array<[string, string]>;
  deflate: boolean;
  insecure: boolean;
  ca: Buffer | undefined;
  timeout: number;
  /** An HTTP(S) proxy to reach the server through (a CONNECT tunnel), or undefined. */
  proxy: URL | undefined;
}

export interface TlsInfo {
  protocol: string | null;
  cipher: string;
  authorized: boolean;
  authorizationError: string | undefined;
  cert: tls.PeerCertificate | undefined;
  alpn: string | false;
}

/** One handshake attempt, as far as it got. */
export interface Attempt {
  timings: Timings;
  address?: string;
  /** The step that failed and why. */
  failed?: { step: 'dns' | 'tcp' | 'proxy' | 'tls' | 'handshake'; code: string | undefined; message: string; firstBytes?: Buffer };
  /** The proxy's answer to CONNECT, when going through one. */
  proxy?: { url: URL; status: number | undefined; statusText: string; head: string | undefined; ms?: number };
  tls?: TlsInfo;
  /** The client handshake (request bytes, key, what an answer must hold), from the core. */
  hs: ClientHandshake;
  request: string;
  head?: string;
  decision?: ClientDecision;
  res?: ResponseHead;
  body?: string;
  socket?: net.Socket;
  rest?: Buffer;
}

export const ms = (start: number): number => Math.round((performance.now() - start) * 100) / 100;

function withTimeout<T>(p: Promise<T>, timeout: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(Object.assign(new Error(`${what} took longer than ${timeout} ms`), { code: 'ETIMEDOUT' })), timeout);
    }),
  ]).finally(() => clearTimeout(t));
}

/** What a connection attempt records, for the HTTP/1.1 probe and the HTTP/2 one alike. */
export interface Connection {
  timings: Timings;
  address?: string;
  failed?: Attempt['failed'];
  proxy?: Attempt['proxy'];
  tls?: TlsInfo;
}

/**
 * DNS, TCP (each address in turn), the proxy's tunnel and TLS (offering `alpn`), recorded in
 * `a`: the stream to speak HTTP on, or undefined with `a.failed` set. Certificate problems
 * are recorded, not fatal, so the handshake behind them is still checked.
 */
export async function dial(s: Settings, a: Connection, alpn: string[]): Promise<net.Socket | undefined> {
  const url = s.url;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = Number(url.port || (s.secure ? 443 : 80));
  // Through a proxy, DNS and TCP are the proxy's; the server is reached by CONNECT.
  const via = s.proxy;
  const dialHost = via ? via.hostname.replace(/^\[|\]$/g, '') : host;
  const dialPort = via ? Number(via.port || (via.protocol === 'https:' ? 443 : 80)) : port;

  // DNS.
  let addresses: string[];
  if (net.isIP(dialHost)) {
    addresses = [dialHost];
    a.timings.dnsMs = 0;
  } else {
    const t = performance.now();
    try {
      addresses = (await withTimeout(dns.promises.lookup(dialHost, { all: true }), s.timeout, 'the DNS lookup')).map((r) => r.address);
      a.timings.dnsMs = ms(t);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      a.failed = { step: 'dns', code: e.code, message: e.message };
      return undefined;
    }
  }

  // TCP, trying each address in turn.
  let socket: net.Socket | undefined;
  let lastErr: NodeJS.ErrnoException | undefined;
  const tTcp = performance.now();
  for (const address of addresses) {
    const sock = net.connect({ host: address, port: dialPort });
    sock.setNoDelay(true);
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          sock.once('connect', resolve);
          sock.once('error', reject);
        }),
        s.timeout,
        'the TCP connection',
      );
      socket = sock;
      a.address = address;
      break;
    } catch (err) {
      sock.destroy();
      lastErr = err as NodeJS.ErrnoException;
    }
  }
  if (!socket) {
    a.failed = { step: 'tcp', code: lastErr?.code, message: lastErr?.message ?? 'no address' };
    return undefined;
  }
  a.timings.connectMs = ms(tTcp);
  socket.on('error', () => {});
  if (via) {
    const tunnel = await connectThrough(socket, via, host, port, s.timeout, a);
    if (!tunnel) return undefined;
    socket = tunnel;
  }
  if (!s.secure) return socket;

  const tTls = performance.now();
  const t = tls.connect({
    socket,
    ...(net.isIP(host) ? {} : { servername: host }),
    rejectUnauthorized: false,
    ALPNProtocols: alpn,
    ...(s.ca ? { ca: s.ca } : {}),
  });
  // A server that answers TLS with plain HTTP: keep its first bytes to say so.
  let first: Buffer | undefined;
  socket.once('data', (d: Buffer) => (first ??= d));
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        t.once('secureConnect', resolve);
        t.once('error', reject);
      }),
      s.timeout,
      'the TLS handshake',
    );
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    t.destroy();
    a.failed = { step: 'tls', code: e.code, message: e.message, ...(first ? { firstBytes: first } : {}) };
    return undefined;
  }
  t.on('error', () => {});
  a.timings.tlsMs = ms(tTls);
  const cert = t.getPeerCertificate(false);
  a.tls = {
    protocol: t.getProtocol(),
    cipher: t.getCipher().name,
    authorized: t.authorized,
    authorizationError: t.authorizationError === undefined || t.authorizationError === null ? undefined : String(t.authorizationError),
    cert: cert && Object.keys(cert).length > 0 ? cert : undefined,
    alpn: t.alpnProtocol ?? false,
  };
  return t;
}

/** Connects, handshakes, and reads the answer: everything observed, and the core's judgement kept for doctor.ts to explain. */
export async function attempt(s: Settings, override: { origin?: string | null } = {}): Promise<Attempt> {
  const url = s.url;
  const origin = override.origin === null ? undefined : (override.origin ?? s.origin);
  const hs = new ClientHandshake({
    host: url.host,
    target: (url.pathname || '/') + url.search,
    protocols: s.protocols,
    origin,
    headers: s.headers,
    perMessageDeflate: s.deflate,
    nonce: randomBytes(16),
  });
  const a: Attempt = { timings: {}, hs, request: hs.request };
  const t0 = performance.now();
  const stream = await dial(s, a, ['http/1.1']);
  if (!stream) return a;

  // The handshake.
  const tHs = performance.now();
  stream.write(hs.request);
  const reader = new HeadReader(65536);
  let firstBytes: Buffer | undefined;
  try {
    const r = await withTimeout(
      new Promise<{ head: string; rest: Uint8Array }>((resolve, reject) => {
        const onData = (chunk: Buffer): void => {
          firstBytes ??= chunk;
          const r = reader.push(chunk);
          if (r.kind === 'more') return;
          stream.off('data', onData);
          stream.off('close', onClose);
          stream.pause();
          if (r.kind === 'done') resolve({ head: r.head, rest: r.rest });
          else reject(Object.assign(new Error(r.kind === 'malformed' ? 'the answer is not HTTP (a bare LF)' : 'the answer head is over 64 KiB'), { code: r.kind }));
        };
        const onClose = (): void =>
          reject(Object.assign(new Error('the server closed the connection without a complete answer'), { code: 'ECLOSED' }));
        stream.on('data', onData);
        stream.once('close', onClose);
        // A tunnel was paused while the proxy's answer was read.
        stream.resume();
      }),
      s.timeout,
      'the answer',
    );
    a.timings.handshakeMs = ms(tHs);
    a.head = r.head;
    a.rest = Buffer.from(r.rest);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    stream.destroy();
    a.failed = { step: 'handshake', code: e.code, message: e.message, ...(firstBytes ? { firstBytes } : {}) };
    return a;
  }
  // The core's judgement of the answer; the explanations below go header by header.
  const decision = hs.receiveHead(a.head, a.rest);
  if (decision.kind === 'fail' && !decision.response) {
    stream.destroy();
    a.failed = { step: 'handshake', code: 'malformed', message: decision.error.message, firstBytes: Buffer.from(a.head, 'latin1') };
    return a;
  }
  const res = decision.response!;
  a.decision = decision;
  a.res = res;
  if (res.status === 101) {
    a.socket = stream;
  } else {
    // Up to 4 KiB, decoded when chunked: the client's own reading (node/client.ts).
    a.body = await readErrorBody(stream, a.rest ?? Buffer.alloc(0), res.headers);
    stream.destroy();
  }
  a.timings.totalMs = ms(t0);
  return a;
}

/** Asks the proxy for a tunnel (RFC 9110 §9.3.6); records its answer; the socket on 2xx. */
async function connectThrough(raw: net.Socket, via: URL, host: string, port: number, timeout: number, a: Connection): Promise<net.Socket | undefined> {
  const t = performance.now();
  let sock: net.Socket = raw;
  a.proxy = { url: via, status: undefined, statusText: '', head: undefined };
  try {
    if (via.protocol === 'https:') {
      const name = via.hostname.replace(/^\[|\]$/g, '');
      const ts = tls.connect({ socket: raw, ...(net.isIP(name) ? {} : { servername: name }) });
      await withTimeout(new Promise<void>((resolve, reject) => (ts.once('secureConnect', resolve), ts.once('error', reject))), timeout, 'TLS to the proxy');
      ts.on('error', () => {});
      sock = ts;
    }
    sock.write(connectRequest(host, port, via));
    const reader = new HeadReader(16384);
    const r = await withTimeout(
      new Promise<{ head: string; rest: Uint8Array }>((resolve, reject) => {
        const onData = (c: Buffer): void => {
          const x = reader.push(c);
          if (x.kind === 'more') return;
          sock.off('data', onData);
          sock.pause();
          if (x.kind === 'done') resolve(x);
          else reject(Object.assign(new Error('the proxy did not answer CONNECT in HTTP'), { code: x.kind }));
        };
        sock.on('data', onData);
        sock.once('close', () => reject(Object.assign(new Error('the proxy closed the connection without answering CONNECT'), { code: 'ECLOSED' })));
      }),
      timeout,
      'the proxy\'s answer to CONNECT',
    );
    const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)/.exec(r.head);
    a.proxy.head = r.head;
    a.proxy.status = m ? Number(m[1]) : undefined;
    a.proxy.statusText = m?.[2] ?? '';
    a.timings.proxyMs = ms(t);
    if (!m || a.proxy.status! < 200 || a.proxy.status! > 299) {
      a.failed = { step: 'proxy', code: m ? m[1] : 'malformed', message: m ? `CONNECT ${host}:${port} answered ${m[1]} ${m[2]}`.trim() : 'the proxy did not answer CONNECT in HTTP' };
      sock.destroy();
      return undefined;
    }
    if (r.rest.length) sock.unshift(Buffer.from(r.rest));
    return sock;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    sock.destroy();
    a.failed = { step: 'proxy', code: e.code, message: e.message };
    return undefined;
  }
}

/** Mask keys from the CSPRNG (RFC 6455 §5.3: unpredictable). */
const maskSource: MaskSource = (dst, offset) => dst.set(randomBytes(4), offset);

/** A masked client frame (RFC 6455 §5.2, §5.3), from the core's encoder. */
export function clientFrame(opcode: number, payload: Uint8Array): Uint8Array {
  return encodeMaskedFrame(opcode, payload, true, 0, maskSource);
}

export interface Frame {
  opcode: number;
  payload: Buffer;
}

/**
 * The server's frames, parsed by the core's FrameParser. Leniently: the doctor reports what
 * comes back, so no frame is judged here (a Connection would fail on what it may only note).
 */
export class FrameReader implements FrameSink {
  readonly frames: Frame[] = [];
  readonly #parser = new FrameParser(this);
  #opcode = 0;
  #parts: Buffer[] = [];
  /** @throws WebSocketError for a frame length no server can mean (2^63 and up). */
  push(chunk: Uint8Array): void {
    this.#parser.push(chunk);
    this.#parser.parse();
  }
  frameHeader(_fin: boolean, _rsv: number, opcode: number): boolean {
    this.#opcode = opcode;
    this.#parts = [];
    return true;
  }
  framePayload(data: Uint8Array): boolean {
    // A view into the received chunk: copied to outlive it.
    this.#parts.push(Buffer.from(data));
    return true;
  }
  frameEnd(): boolean {
    this.frames.push({ opcode: this.#opcode, payload: Buffer.concat(this.#parts) });
    return true;
  }
}

/** Reads server frames until `want` says stop; resolves the matching frame or undefined on timeout or close. */
export function readFrames(s: Duplex, reader: FrameReader, timeout: number, want: (opcode: number, payload: Buffer) => boolean): Promise<Frame | undefined> {
  return new Promise((resolve) => {
    let finished = false;
    const finish = (v: Frame | undefined): void => {
      if (finished) return;
      finished = true;
      clearTimeout(t);
      s.off('data', onData);
      s.off('close', onClose);
      s.pause();
      resolve(v);
    };
    const scan = (): void => {
      for (let f = reader.frames.shift(); f; f = reader.frames.shift()) if (want(f.opcode, f.payload)) return finish(f);
    };
    const onData = (c: Buffer): void => {
      try {
        reader.push(c);
      } catch {
        return finish(undefined);
      }
      scan();
    };
    const onClose = (): void => finish(undefined);
    const t = setTimeout(() => finish(undefined), timeout);
    s.on('data', onData);
    s.once('close', onClose);
    s.resume();
    scan();
  });
}
