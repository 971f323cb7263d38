// A bare node:net WebSocket server: the floor of what Node costs per message.
// `node dist/bench/servers/baseline.js [--mode echo|broadcast]`; prints "listening PORT".
// Minimal on purpose: answers any upgrade request, parses masked client frames; echo mode
// sends each data frame's payload back unmasked with the same opcode, one write per read;
// broadcast mode frames each message once and writes that buffer to every other socket.
// No validation, no fragmentation handling, no control frames beyond dropping the
// connection on close, no permessage-deflate. SIGUSR2: gc() (with --expose-gc), prints "gc".
import { createServer, type Socket } from 'node:net';
import { acceptKey } from '../common.js';

const broadcast = process.argv.includes('broadcast');
const sockets = new Set<Socket>();

function serve(sock: Socket): void {
  sock.setNoDelay(true);
  sock.on('close', () => sockets.delete(sock));
  let head: Buffer | undefined = Buffer.alloc(0);
  let pending = Buffer.alloc(0);

  sock.on('data', (chunk: Buffer) => {
    if (head) {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const text = head.subarray(0, end).toString('latin1');
      const key = /\r\nsec-websocket-key:\s*(\S+)/i.exec(text)?.[1] ?? '';
      sock.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
      );
      sockets.add(sock);
      chunk = head.subarray(end + 4);
      head = undefined;
    }
    const buf = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
    const out: Buffer[] = [];
    let off = 0;
    for (;;) {
      if (buf.length - off < 2) break;
      const b0 = buf[off]!;
      const b1 = buf[off + 1]!;
      let len = b1 & 0x7f;
      let p = off + 2;
      if (len === 126) {
        if (buf.length - p < 2) break;
        len = buf.readUInt16BE(p);
        p += 2;
      } else if (len === 127) {
        if (buf.length - p < 8) break;
        len = Number(buf.readBigUInt64BE(p));
        p += 8;
      }
      if (buf.length - p < 4 + len) break;
      const opcode = b0 & 0x0f;
      if (opcode === 8) {
        sock.destroy();
        return;
      }
      const mask = buf.subarray(p, p + 4);
      p += 4;
      const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
      const frame = Buffer.allocUnsafe(2 + ext + len);
      frame[0] = 0x80 | opcode;
      if (ext === 0) frame[1] = len;
      else if (ext === 2) {
        frame[1] = 126;
        frame.writeUInt16BE(len, 2);
      } else {
        frame[1] = 127;
        frame.writeBigUInt64BE(BigInt(len), 2);
      }
      for (let i = 0; i < len; i++) frame[2 + ext + i] = buf[p + i]! ^ mask[i & 3]!;
      out.push(frame);
      off = p + len;
    }
    pending = off < buf.length ? Buffer.from(buf.subarray(off)) : Buffer.alloc(0);
    if (out.length === 0) return;
    const data = out.length === 1 ? out[0]! : Buffer.concat(out);
    if (!broadcast) sock.write(data);
    else for (const other of sockets) if (other !== sock) other.write(data);
  });
  sock.on('error', () => sock.destroy());
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
