// A transparent TCP relay placed between an interop client and server. It forwards bytes
// unchanged and, on the side, reads what crosses the wire: the HTTP upgrade request and
// response heads, then the header of every WebSocket frame (payloads are skipped, never
// unmasked or decoded). The permessage-deflate tests use it to see what was really agreed
// (Sec-WebSocket-Extensions) and which frames had RSV1 set, independently of both peers.

import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

/** One frame header as seen on the wire. */
export interface WireFrame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  length: number;
}

const HEAD_LIMIT = 64 * 1024;
const FRAME_LOG_LIMIT = 100_000;

/** Reads one direction of a connection: an HTTP head, then frame headers. */
export class WireReader {
  /** The HTTP head (request or response), without the final CRLFCRLF; '' until complete. */
  head = '';
  readonly frames: WireFrame[] = [];
  /** Total bytes seen in this direction. */
  bytes = 0;
  /** Frame payload bytes seen in this direction (what compression makes smaller). */
  payloadBytes = 0;
  /** Set when something could not be read (then frames stops growing). */
  problem: string | undefined;

  private headBuf: Buffer[] = [];
  private headLen = 0;
  private inHead = true;
  private hdr = Buffer.alloc(14);
  private hdrLen = 0;
  private skip = 0;

  feed(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.problem) return;
    let off = 0;
    if (this.inHead) {
      this.headBuf.push(chunk);
      this.headLen += chunk.length;
      const all = Buffer.concat(this.headBuf);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) {
        this.headBuf = [all];
        if (this.headLen > HEAD_LIMIT) this.problem = 'HTTP head too long';
        return;
      }
      this.head = all.subarray(0, end).toString('latin1');
      this.inHead = false;
      this.headBuf = [];
      // The rest of this chunk (after the head) is frame data.
      const consumedBefore = this.headLen - chunk.length;
      off = end + 4 - consumedBefore;
    }
    while (off < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - off);
        this.skip -= n;
        off += n;
        continue;
      }
      this.hdr[this.hdrLen++] = chunk[off++]!;
      const need = this.headerLength();
      if (this.hdrLen < need) continue;
      this.frameHeader();
    }
  }

  /** Bytes the current frame header needs, given the bytes read so far. */
  private headerLength(): number {
    if (this.hdrLen < 2) return 2;
    const b1 = this.hdr[1]!;
    const len7 = b1 & 0x7f;
    return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
  }

  private frameHeader(): void {
    const b0 = this.hdr[0]!;
    const b1 = this.hdr[1]!;
    const len7 = b1 & 0x7f;
    let length = len7;
    if (len7 === 126) length = this.hdr.readUInt16BE(2);
    else if (len7 === 127) length = Number(this.hdr.readBigUInt64BE(2));
    const frame: WireFrame = {
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode: b0 & 0x0f,
      masked: (b1 & 0x80) !== 0,
      length,
    };
    if (this.frames.length < FRAME_LOG_LIMIT) this.frames.push(frame);
    this.payloadBytes += length;
    this.hdrLen = 0;
    this.skip = length;
  }

  /** The value of one header of the HTTP head (several lines joined by ", "). */
  header(name: string): string | undefined {
    const values: string[] = [];
    for (const line of this.head.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name.toLowerCase()) {
        values.push(line.slice(colon + 1).trim());
      }
    }
    return values.length > 0 ? values.join(', ') : undefined;
  }
}

/** What the relay saw on one client connection. */
export interface WireConnection {
  /** Client to server. */
  up: WireReader;
  /** Server to client. */
  down: WireReader;
}

export interface WireProxy {
  /** ws://127.0.0.1:PORT (connect the client here). */
  url: string;
  connections: WireConnection[];
  close(): Promise<void>;
}

/** Starts a relay on 127.0.0.1 towards the server at `target` (a ws:// URL). */
export async function startWireProxy(target: string): Promise<WireProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const connections: WireConnection[] = [];
  const server: Server = createServer((client) => {
    const conn: WireConnection = { up: new WireReader(), down: new WireReader() };
    connections.push(conn);
    const upstream = connect({ host: hostname, port: Number(port) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('close', () => sockets.delete(s));
      // Errors end both sides; the peers report what they saw.
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      conn.up.feed(chunk);
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (chunk: Buffer) => {
      conn.down.feed(chunk);
      if (!client.write(chunk)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
    // Half-closes are forwarded as they are.
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port: own } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${own}`,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------
// Sec-WebSocket-Extensions values

/** One extension element: its name and parameters (a value, or true when it has none). */
export interface ExtensionElement {
  name: string;
  params: Record<string, string | true>;
}

/**
 * Parses a Sec-WebSocket-Extensions value (RFC 6455 §9.1) into elements, parameter
 * names lower-cased, quoted values unquoted. Enough for the values these peers send.
 */
export function parseExtensions(value: string | null | undefined): ExtensionElement[] {
  if (!value) return [];
  const out: ExtensionElement[] = [];
  for (const element of value.split(',')) {
    const parts = element.split(';').map((p) => p.trim());
    const name = parts.shift()!.toLowerCase();
    if (name === '') continue;
    const params: Record<string, string | true> = {};
    for (const p of parts) {
      if (p === '') continue;
      const eq = p.indexOf('=');
      if (eq < 0) params[p.toLowerCase()] = true;
      else params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    }
    out.push({ name, params });
  }
  return out;
}

/** The permessage-deflate agreement, in RFC 7692 terms, with defaults filled in. */
export interface DeflateAgreement {
  server_no_context_takeover: boolean;
  client_no_context_takeover: boolean;
  server_max_window_bits: number;
  client_max_window_bits: number;
}

/** Reads the agreement from a server's answer; undefined when deflate was not agreed. */
export function agreementOf(answer: string | null | undefined): DeflateAgreement | undefined {
  const pmd = parseExtensions(answer).filter((e) => e.name === 'permessage-deflate');
  if (pmd.length === 0) return undefined;
  const p = pmd[0]!.params;
  const bits = (v: string | true | undefined) => (typeof v === 'string' ? Number(v) : 15);
  return {
    server_no_context_takeover: p.server_no_context_takeover === true,
    client_no_context_takeover: p.client_no_context_takeover === true,
    server_max_window_bits: bits(p.server_max_window_bits),
    client_max_window_bits: bits(p.client_max_window_bits),
  };
}

/** A summary of the data messages in one direction, from frame headers. */
export interface MessageSummary {
  messages: number;
  compressed: number;
  /** Broken rules, e.g. RSV1 on a continuation or control frame (RFC 7692 §6). */
  violations: string[];
}

export function summarize(frames: WireFrame[], expectMasked: boolean): MessageSummary {
  const s: MessageSummary = { messages: 0, compressed: 0, violations: [] };
  frames.forEach((f, i) => {
    const where = `frame #${i + 1} (opcode ${f.opcode}, ${f.length} bytes)`;
    if (f.rsv2 || f.rsv3) s.violations.push(`${where}: RSV2/RSV3 set`);
    if (f.masked !== expectMasked) s.violations.push(`${where}: ${f.masked ? 'masked' : 'unmasked'}`);
    if (f.opcode >= 8) {
      if (f.rsv1) s.violations.push(`${where}: RSV1 on a control frame`);
    } else if (f.opcode === 0) {
      if (f.rsv1) s.violations.push(`${where}: RSV1 on a continuation frame`);
    } else {
      s.messages++;
      if (f.rsv1) s.compressed++;
    }
  });
  return s;
}
