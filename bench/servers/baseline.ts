// A bare node:net WebSocket server: the floor of what Node costs per message, written as the
// cheapest correct server we know how to write, so that it is a fair floor rather than a
// shortcut. `node dist/bench/servers/baseline.js [--mode echo|broadcast]`; prints "listening PORT".
//
// What it does (and every conforming server must): checks the upgrade request's key and
// version, answers 101 with the accept key; requires masked client frames (RFC 6455 §5.1) and
// unmasks them four bytes at a time, in place; caps a frame at 16 MiB; reassembles fragmented
// messages; validates text as UTF-8 (§8.1, `buffer.isUtf8`, native); answers ping with pong and a
// close frame with a close frame, then half-closes TCP and closes when the peer does (§7.1.1:
// the server closes first). Echo mode writes the replies of one read in one write; broadcast
// mode frames each message once and writes that buffer to every other socket.
// What it leaves out: extensions, subprotocols, timers, backpressure, any API.
// Bytes not yet parsed are kept as a list and joined only when a frame spans reads.
// SIGUSR2: gc() (with --expose-gc), prints "gc".
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { createServer, type Socket } from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_FRAME = 16 * 1024 * 1024;
const broadcast = process.argv.includes('broadcast');
const sockets = new Set<Socket>();

function header(opcode: number, len: number): Buffer {
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const h = Buffer.allocUnsafe(2 + ext);
  h[0] = 0x80 | opcode;
  if (ext === 0) h[1] = len;
  else if (ext === 2) {
    h[1] = 126;
    h.writeUInt16BE(len, 2);
  } else {
    h[1] = 127;
    h.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    h.writeUInt32BE(len >>> 0, 6);
  }
  return h;
}

/** Unmasks `buf[start, start+len)` in place with `mask` (a 32-bit word, as read little-endian). */
function unmask(buf: Buffer, start: number, len: number, m0: number, m1: number, m2: number, m3: number): void {
  let i = 0;
  if (len >= 16) {
    // Word-wise over the aligned middle, bytewise at the ends.
    const abs = buf.byteOffset + start;
    const lead = (4 - (abs & 3)) & 3;
    const rot = [m0, m1, m2, m3];
    for (; i < lead; i++) buf[start + i]! ^= rot[i]!;
    const words = (len - lead) >>> 2;
    const r = lead;
    const word = (rot[r]! | (rot[(r + 1) & 3]! << 8) | (rot[(r + 2) & 3]! << 16) | (rot[(r + 3) & 3]! << 24)) | 0;
    const u32 = new Int32Array(buf.buffer, abs + lead, words);
    for (let w = 0; w < words; w++) u32[w] ^= word;
    i = lead + words * 4;
  }
  for (; i < len; i++) {
    const k = i & 3;
    buf[start + i]! ^= k === 0 ? m0 : k === 1 ? m1 : k === 2 ? m2 : m3;
  }
}

function fail(sock: Socket, code: number): void {
  const payload = Buffer.from([code >> 8, code & 0xff]);
  sock.end(Buffer.concat([header(8, 2), payload]));
  sock.removeAllListeners('data');
  sock.resume();
}

function serve(sock: Socket): void {
  sock.setNoDelay(true);
  sock.on('close', () => sockets.delete(sock));
  sock.on('error', () => sock.destroy());
  let head: Buffer | undefined;
  let handshaken = false;
  let pending: Buffer | undefined; // unparsed bytes carried over from the previous read
  let fragments: Buffer[] | undefined;
  let fragOpcode = 0;
  let closing = false;

  sock.on('data', (chunk: Buffer) => {
    if (!handshaken) {
      head = head ? Buffer.concat([head, chunk]) : chunk;
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 8192) sock.destroy();
        return;
      }
      const text = head.toString('latin1', 0, end);
      const key = /\r\nsec-websocket-key:[ \t]*([A-Za-z0-9+/]{22}==)[ \t]*\r?$/im.exec(text + '\r')?.[1];
      if (!key || !/\r\nsec-websocket-version:[ \t]*13[ \t]*\r?$/im.test(text + '\r') || !/^GET /.test(text)) {
        sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const accept = createHash('sha1').update(key + GUID).digest('base64');
      sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      sockets.add(sock);
      handshaken = true;
      chunk = head.subarray(end + 4);
      head = undefined;
      if (chunk.length === 0) return;
    }
    if (closing) return;
    let buf = chunk;
    if (pending) {
      buf = Buffer.concat([pending, chunk]);
      pending = undefined;
    }
    const out: Buffer[] = [];
    let off = 0;
    const n = buf.length;
    while (n - off >= 2) {
      const b0 = buf[off]!;
      const b1 = buf[off + 1]!;
      if ((b1 & 0x80) === 0 || (b0 & 0x70) !== 0) return fail(sock, 1002); // §5.1 masked; no extensions
      let len = b1 & 0x7f;
      let p = off + 2;
      if (len === 126) {
        if (n - p < 2) break;
        len = buf.readUInt16BE(p);
        p += 2;
      } else if (len === 127) {
        if (n - p < 8) break;
        const hi = buf.readUInt32BE(p);
        len = hi * 2 ** 32 + buf.readUInt32BE(p + 4);
        p += 8;
      }
      if (len > MAX_FRAME) return fail(sock, 1009);
      if (n - p < 4 + len) break;
      const opcode = b0 & 0x0f;
      const fin = (b0 & 0x80) !== 0;
      unmask(buf, p + 4, len, buf[p]!, buf[p + 1]!, buf[p + 2]!, buf[p + 3]!);
      const payload = buf.subarray(p + 4, p + 4 + len);
      off = p + 4 + len;
      if (opcode >= 8) {
        if (!fin || len > 125) return fail(sock, 1002);
        if (opcode === 8) {
          // §5.5.1: answer with a close frame (echoing the code), then the server closes TCP first.
          let code = 1000;
          if (len >= 2) code = payload.readUInt16BE(0);
          if (len === 1 || (len > 2 && !isUtf8(payload.subarray(2)))) code = 1002;
          if (out.length) sock.write(out.length === 1 ? out[0]! : Buffer.concat(out));
          closing = true;
          sockets.delete(sock);
          return fail(sock, code);
        }
        if (opcode === 9) out.push(header(10, len), Buffer.from(payload));
        else if (opcode !== 10) return fail(sock, 1002);
        continue;
      }
      let message: Buffer;
      let msgOpcode: number;
      if (opcode === 0) {
        if (!fragments) return fail(sock, 1002);
        fragments.push(Buffer.from(payload));
        if (!fin) continue;
        message = Buffer.concat(fragments);
        msgOpcode = fragOpcode;
        fragments = undefined;
      } else if (opcode === 1 || opcode === 2) {
        if (fragments) return fail(sock, 1002);
        if (!fin) {
          fragments = [Buffer.from(payload)];
          fragOpcode = opcode;
          continue;
        }
        message = payload;
        msgOpcode = opcode;
      } else return fail(sock, 1002);
      if (msgOpcode === 1 && !isUtf8(message)) return fail(sock, 1007);
      out.push(header(msgOpcode, message.length), message);
    }
    if (off < n) pending = off === 0 ? buf : buf.subarray(off);
    if (out.length === 0) return;
    if (!broadcast) {
      if (out.length === 2 && out[1]!.length > 16384) {
        // A large payload goes out beside its header (one writev), not copied behind it.
        sock.cork();
        sock.write(out[0]!);
        sock.write(out[1]!);
        sock.uncork();
      } else sock.write(Buffer.concat(out));
      return;
    }
    const data = Buffer.concat(out);
    for (const other of sockets) if (other !== sock) other.write(data);
  });
}

const server = createServer(serve);
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`listening ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  process.stdout.write('gc\n');
});
