// Helpers for the CLI tests: run ws13 as a subprocess (bounded in time), start `ws13 serve`,
// and small servers built to fail a WebSocket handshake in one particular way.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();
const closers: Array<() => void> = [];

/** Stops every child and server started by these helpers. */
export async function cleanup(): Promise<void> {
  for (const c of closers.splice(0)) c();
  await Promise.all(
    [...children].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const t = setTimeout(() => {
            c.kill('SIGKILL');
            resolve();
          }, 2000);
          c.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}

/**
 * Runs `ws13 args...` to completion within `timeout` ms. `input` is written to stdin, which
 * is then ended unless `keepStdin`. Colour variables are cleared unless given in `env`.
 */
export function run(
  args: string[],
  opts: { input?: string; keepStdin?: boolean; env?: Record<string, string>; timeout?: number } = {},
): Promise<RunResult> {
  const env = { ...process.env };
  delete env['NO_COLOR'];
  delete env['FORCE_COLOR'];
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...env, ...opts.env } });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  child.stdin.on('error', () => {});
  if (opts.input !== undefined) child.stdin.write(opts.input);
  if (!opts.keepStdin) child.stdin.end();
  const timeout = opts.timeout ?? 30_000;
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ws13 ${args.join(' ')} did not finish in ${timeout} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeout);
    child.once('close', (code) => {
      clearTimeout(t);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts `ws13 serve --port 0 ...` and resolves the URL it prints. */
export function serve(args: string[]): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`ws13 serve printed no URL: ${out}`)), 5000);
    child.stdout!.on('data', (c) => {
      out += c;
      const m = /listening on (wss?:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ child, url: m[1]!, output: () => out });
      }
    });
    child.stderr!.on('data', (c) => (out += c));
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`ws13 serve exited with ${code}: ${out}`));
    });
  });
}

function listen(server: net.Server): Promise<number> {
  closers.push(() => server.close());
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

/** A raw TCP server: reads the request head, then `answer(head, socket)`. */
export async function rawServer(answer: (head: string, key: string, socket: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = '';
    const onData = (c: Buffer): void => {
      buf += c.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const head = buf.slice(0, end);
      const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1] ?? '';
      answer(head, key, socket);
    };
    socket.on('data', onData);
  });
  closers.push(() => {
    for (const s of sockets) s.destroy();
  });
  return listen(server);
}

export function accept(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** A plain HTTP server (no upgrade handling): `handler` answers every request. */
export async function httpServer(handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  closers.push(() => server.closeAllConnections());
  return listen(server);
}

/** A self-signed certificate for 127.0.0.1 and localhost, made with openssl now. */
export async function selfSigned(): Promise<{ dir: string; cert: string; key: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws13-cli-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await new Promise<void>((resolve, reject) =>
    execFile(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
      { timeout: 20_000 },
      (err) => (err ? reject(err) : resolve()),
    ),
  );
  closers.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { dir, cert, key };
}

export const ESC = '\x1b[';
