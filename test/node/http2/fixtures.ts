// Shared by the HTTP/2 tests: a self-signed certificate for 127.0.0.1/localhost (openssl),
// and HTTP/2 servers listening on loopback.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';

let cached: { key: Buffer; cert: Buffer; certFile: string; keyFile: string } | undefined;

/** A key and certificate (made once per process with openssl, valid a day). */
export function selfSigned(): { key: Buffer; cert: Buffer; certFile: string; keyFile: string } {
  if (cached) return cached;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws13-h2-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { stdio: 'ignore', timeout: 20_000 },
  );
  cached = { key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile), certFile, keyFile };
  return cached;
}

export function listen(srv: http2.Http2Server | http2.Http2SecureServer): Promise<number> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve((srv.address() as { port: number }).port));
  });
}

/** Closes `srv`, destroying sessions still open (HTTP/2 servers wait for them otherwise). */
export function closeServer(srv: http2.Http2Server | http2.Http2SecureServer, sessions: Set<http2.Http2Session>): Promise<void> {
  for (const s of sessions) s.destroy();
  return new Promise((r) => srv.close(() => r()));
}

/** Tracks a server's sessions so that the test can end them. */
export function trackSessions(srv: http2.Http2Server | http2.Http2SecureServer): Set<http2.Http2Session> {
  const set = new Set<http2.Http2Session>();
  srv.on('session', (s: http2.Http2Session) => {
    set.add(s);
    s.once('close', () => set.delete(s));
  });
  return set;
}

let caCached: { ca: Buffer; caFile: string; key: Buffer; cert: Buffer } | undefined;

/**
 * A leaf certificate for 127.0.0.1/localhost signed by a throwaway CA (openssl): for clients
 * such as rustls (Deno) that refuse a self-signed certificate used as its own CA.
 */
export function caSigned(): { ca: Buffer; caFile: string; key: Buffer; cert: Buffer } {
  if (caCached) return caCached;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws13-h2-ca-'));
  const f = (n: string): string => path.join(dir, n);
  const run = (args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore', timeout: 20_000 });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1',
    '-subj', '/CN=ws13 test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', '/CN=localhost']);
  fs.writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('leaf.pem'),
    '-days', '1', '-extfile', f('ext.cnf')]);
  caCached = { ca: fs.readFileSync(f('ca.pem')), caFile: f('ca.pem'), key: fs.readFileSync(f('leaf.key')), cert: fs.readFileSync(f('leaf.pem')) };
  return caCached;
}
