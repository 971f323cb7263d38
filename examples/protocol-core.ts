// The I/O-free core: bytes in, a message and bytes out. No sockets, no node:* imports.
import { Connection, Opcode } from 'ws13/protocol';

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
const out: Uint8Array[] = [];
const conn = new Connection({ role: 'server' }, {
  write: (data) => out.push(data.slice()),         // what a host would write to its transport
  message: (data, text) => {
    const msg = new TextDecoder().decode(data);
    console.log(`message (${text ? 'text' : 'binary'}): ${msg}`);
    conn.send(Opcode.Text, data);                  // echo it
  },
  ping: () => {},
  pong: () => {},
  error: (err) => console.log(`failed: ${err.code}`),
  shutdown: () => console.log('shutdown: the host closes the transport now'),
});

// A masked client text frame "Hello" (RFC 6455 §5.7), fed in two pieces as TCP may deliver it.
const frame = Uint8Array.of(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
conn.receiveData(frame.slice(0, 3));
conn.receiveData(frame.slice(3));
console.log(`written: ${out.map(hex).join(' | ')}`);   // 81 05 | 48 65 6c 6c 6f: unmasked, from a server

// The client closes with 1000 (masked with key 00 00 00 00); the core answers with its own close frame.
out.length = 0;
conn.receiveData(Uint8Array.of(0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8));
console.log(`written: ${out.map(hex).join(' | ')}`);   // 88 02 | 03 e8
console.log(`state: ${conn.state.kind}`);              // closed
