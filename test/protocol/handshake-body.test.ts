// BodyReader: the body of a refused handshake, framed by Content-Length, chunked transfer
// coding (RFC 9112 §7.1) or the end of the connection; fed whole, in 1- and 2-byte chunks.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BodyReader } from '../../src/protocol/handshake/body.js';
import { parseResponseHead } from '../../src/protocol/handshake/http1.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

function read(head: string, body: string, size: number, limit = 4096): { body: string; done: boolean } {
  const r = new BodyReader(parseResponseHead(head).headers, limit);
  const bytes = enc(body);
  for (let i = 0; i < bytes.length && !r.done; i += size) r.push(bytes.subarray(i, i + size));
  return { body: dec(r.body), done: r.done };
}

for (const size of [1000, 1, 2]) {
  describe(`BodyReader, chunks of ${size} byte(s)`, () => {
    test('RFC 9112 §7.1: chunked bodies are decoded, extensions and trailers skipped, done at the last chunk', () => {
      const r = read('HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked', '6;ext=1\r\n<html>\r\n10\r\nnot found here..\r\n7\r\n</html>\r\n0\r\nX-Trailer: 1\r\n\r\nleftover', size);
      assert.deepEqual(r, { body: '<html>not found here..</html>', done: true });
    });
    test('Content-Length: exactly that many bytes, then done', () => {
      assert.deepEqual(read('HTTP/1.1 403 Forbidden\r\nContent-Length: 9', 'Forbidden and more', size), { body: 'Forbidden', done: true });
      assert.deepEqual(read('HTTP/1.1 403 Forbidden\r\nContent-Length: 0', 'x', size), { body: '', done: true });
    });
    test('neither: everything until the end (done only at the limit)', () => {
      assert.deepEqual(read('HTTP/1.1 400 Bad Request', 'until close', size), { body: 'until close', done: false });
      assert.deepEqual(read('HTTP/1.1 400 Bad Request', 'abcdefgh', size, 4), { body: 'abcd', done: true });
    });
    test('a chunked body cut short keeps what came; a non-hex size line stops reading', () => {
      assert.deepEqual(read('HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked', '5\r\nhel', size), { body: 'hel', done: false });
      assert.deepEqual(read('HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked', 'zz\r\nhello', size), { body: '', done: true });
    });
  });
}
