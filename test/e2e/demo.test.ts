// End to end: the `npm start` demo in Debian's Chromium, driven by playwright-core.
// Runs the compiled demo as a child process (as `npm start` does), restarts it, and checks the
// page: handshake inspector, WebCrypto check of the Accept, chat between two pages,
// permessage-deflate and the subprotocol as the browser sees them, reconnection.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { freePort } from '../support/ports.js';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, peerTest } from '../support/peers-available.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAIN = fileURLToPath(new URL('../../src/demo/main.js', import.meta.url));
const SHOTS = fileURLToPath(new URL('../../../test-artifacts/e2e/', import.meta.url));


interface Running {
  child: ChildProcess;
  output: () => string;
}

/** Starts `node dist/src/demo/main.js` with PORT set; resolves once it prints its URL. */
function startDemo(port: number): Promise<Running> {
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = `http://127.0.0.1:${port}/`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the demo did not print ${url} within 10 s; output:\n${out}`));
    }, 10_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      if (out.includes(url)) {
        clearTimeout(timer);
        resolve({ child, output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited with ${code} before listening; output:\n${out}`));
    });
  });
}

function stopDemo(r: Running): Promise<void> {
  return new Promise((resolve) => {
    if (r.child.exitCode !== null || r.child.signalCode !== null) return resolve();
    const kill = setTimeout(() => r.child.kill('SIGKILL'), 5000);
    r.child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    r.child.kill('SIGTERM');
  });
}

// The page's DOM, as the functions passed to waitForFunction see it (tsconfig has no DOM lib).
declare const document: {
  getElementById(id: string): { getAttribute(name: string): string | null; textContent: string | null } | null;
  documentElement: { scrollWidth: number };
  querySelectorAll(selector: string): ArrayLike<{ textContent: string | null; getBoundingClientRect(): { top: number; left: number; right: number } }>;
};
declare const window: { innerWidth: number };

/** Phone, small phone and desktop widths the layout must fit without sideways scrolling. */
const WIDTHS = [320, 390, 1280] as const;

/**
 * At each width: a screenshot (in a temp dir), no horizontal overflow, the Send and Set-name
 * buttons inside the screen, and the sections numbered 1–4 in reading order (DOM order, and
 * top to bottom, left to right on screen).
 */
async function checkWidths(page: Page, label: string): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ws13-demo-widths-'));
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    const shot = path.join(dir, `${label}-${width}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    const m = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      buttons: Array.from(document.querySelectorAll('#name-form button, #send'), (b) => b.getBoundingClientRect().right),
      sections: Array.from(document.querySelectorAll('main h2'), (h) => {
        const r = h.getBoundingClientRect();
        return { title: (h.textContent ?? '').trim(), top: r.top, left: r.left };
      }),
    }));
    assert.ok(m.scrollWidth <= m.innerWidth, `${width} px: the page scrolls sideways (scrollWidth ${m.scrollWidth} > ${m.innerWidth}); see ${shot}`);
    assert.equal(m.buttons.length, 2);
    for (const right of m.buttons) assert.ok(right <= m.innerWidth, `${width} px: a button ends at ${right}, off screen; see ${shot}`);
    assert.deepEqual(m.sections.map((s) => s.title.split('.')[0]), ['1', '2', '3', '4'], `${width} px: sections in DOM order`);
    const onScreen = [...m.sections].sort((a, b) => a.top - b.top || a.left - b.left).map((s) => s.title.split('.')[0]);
    assert.deepEqual(onScreen, ['1', '2', '3', '4'], `${width} px: sections read in order on screen; see ${shot}`);
  }
  await page.setViewportSize({ width: 1280, height: 1100 });
  return dir;
}

const text = async (page: Page, id: string): Promise<string> => ((await page.textContent(`#${id}`)) ?? '').trim();

async function waitOpen(page: Page, connections: number): Promise<void> {
  await page.waitForFunction(
    (n) => document.getElementById('status')?.getAttribute('data-state') === 'open' && document.getElementById('conn-count')?.textContent === String(n),
    connections,
    { timeout: 15_000, polling: 100 },
  );
}

async function waitVerified(page: Page): Promise<void> {
  await page.waitForFunction(() => document.getElementById('accept-verified')?.getAttribute('data-verified') !== 'pending', undefined, {
    timeout: 10_000, polling: 100,
  });
  assert.equal(
    await page.getAttribute('#accept-verified', 'data-verified'),
    'yes',
    `the page did not verify the Accept: ${await text(page, 'accept-verified')}`,
  );
}

/** Checks the inspector against node:crypto; returns the key shown. */
async function checkInspector(page: Page, port: number): Promise<string> {
  const key = await text(page, 'req-key');
  const accept = await text(page, 'res-accept');
  assert.match(key, /^[A-Za-z0-9+/]{22}==$/, 'a Sec-WebSocket-Key of 16 random bytes');
  const digest = createHash('sha1').update(key + GUID).digest();
  assert.equal(accept, digest.toString('base64'), 'Accept = base64(SHA-1(key + GUID)), recomputed with node:crypto');
  assert.equal(await text(page, 'step-sha1'), digest.toString('hex'));
  assert.equal(await text(page, 'step-webcrypto-hex'), digest.toString('hex'));
  assert.equal(await text(page, 'step-webcrypto-b64'), accept);
  assert.equal(await text(page, 'req-version'), '13');
  assert.equal(await text(page, 'req-protocol'), 'chat.v1');
  assert.match(await text(page, 'req-extensions'), /permessage-deflate/);
  assert.equal(await text(page, 'req-origin'), `http://127.0.0.1:${port}`);
  assert.equal(await text(page, 'req-line'), 'GET /ws HTTP/1.1');
  assert.equal(await text(page, 'res-status'), '101 Switching Protocols');
  assert.equal((await text(page, 'res-upgrade')).toLowerCase(), 'websocket');
  assert.equal((await text(page, 'res-connection')).toLowerCase(), 'upgrade');
  assert.equal(await text(page, 'res-protocol'), 'chat.v1');
  assert.match(await text(page, 'res-extensions'), /^permessage-deflate/);
  return key;
}

peerTest(['chromium'], 'the npm start demo in Chromium: handshake inspector, chat, compression, reconnect', { timeout: 60_000 }, async (t) => {
  mkdirSync(SHOTS, { recursive: true });
  const port = await freePort();
  let demo = await startDemo(port);
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 1100 } });
    const errors: string[] = [];
    const url = `http://127.0.0.1:${port}/`;

    // Page A connects; the inspector shows its handshake; WebCrypto verified the Accept.
    const a = await context.newPage();
    a.on('pageerror', (e) => errors.push(`page A: ${e.message}`));
    // Refused attempts while the server is down are expected; nothing else should be logged.
    a.on('console', (m) => {
      if (m.type() === 'error' && !m.text().includes('ERR_CONNECTION_REFUSED')) errors.push(`page A console: ${m.text()}`);
    });
    await a.goto(url);
    await waitOpen(a, 1);
    await waitVerified(a);
    const key1 = await checkInspector(a, port);

    // The browser's own view: subprotocol and compression.
    assert.equal(await text(a, 'browser-protocol'), 'chat.v1');
    assert.match(await text(a, 'browser-extensions'), /^permessage-deflate/);
    assert.match(await text(a, 'browser-compression'), /^on/);
    assert.match(await text(a, 'browser-agrees'), /^yes/);
    assert.equal(await text(a, 'browser-url'), `ws://127.0.0.1:${port}/ws`);

    // Two pages chat.
    await a.fill('#name', 'alice');
    await a.click('#name-form button');
    const b = await context.newPage();
    b.on('pageerror', (e) => errors.push(`page B: ${e.message}`));
    await b.goto(url);
    await waitOpen(b, 1);
    await b.fill('#name', 'bob');
    await b.click('#name-form button');
    // B joined under its generated guest name and then renamed itself: A sees both.
    await a.locator('#messages li.notice', { hasText: /joined\./ }).last().waitFor({ timeout: 5000 });
    await a.locator('#messages li.notice', { hasText: 'is now bob.' }).waitFor({ timeout: 5000 });
    await a.fill('#message', 'hello from alice');
    await a.press('#message', 'Enter');
    await b.locator('#messages li.chat', { hasText: 'hello from alice' }).waitFor({ timeout: 5000 });
    assert.match(await b.locator('#messages li.chat').last().innerText(), /alice:\s*hello from alice/);
    await b.fill('#message', 'hi alice, bob here');
    await b.click('#send');
    await a.locator('#messages li.chat', { hasText: 'hi alice, bob here' }).waitFor({ timeout: 5000 });
    assert.equal(await text(a, 'online-count'), '2');
    assert.match(await text(a, 'online-names'), /alice/);
    assert.match(await text(a, 'online-names'), /bob/);
    await a.screenshot({ path: `${SHOTS}demo-page-a.png`, fullPage: true });
    // Page B with both raw header listings open: the request as it arrived, the 101 as sent.
    for (const summary of await b.locator('details summary').all()) await summary.click();
    assert.match(await text(b, 'req-raw'), /^GET \/ws HTTP\/1\.1\n[^]*Sec-WebSocket-Key: [A-Za-z0-9+/]{22}==/i);
    assert.match(await text(b, 'res-raw'), /^HTTP\/1\.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Accept: /);
    await b.screenshot({ path: `${SHOTS}demo-page-b.png`, fullPage: true });
    // Phone to desktop, with the chat full and both raw header listings open (the widest content).
    const shots = await checkWidths(b, 'page-b');
    t.diagnostic(`demo screenshots at ${WIDTHS.join(', ')} px: ${shots}`);

    // The server restarts: the page notices, backs off, and reconnects with a fresh handshake.
    await stopDemo(demo);
    await a.waitForFunction(() => document.getElementById('status')?.getAttribute('data-state') === 'reconnecting', undefined, {
      timeout: 10_000, polling: 100,
    });
    assert.match(await text(a, 'status-text'), /Reconnecting in/);
    await a.screenshot({ path: `${SHOTS}demo-reconnecting.png`, fullPage: true });
    demo = await startDemo(port);
    await waitOpen(a, 2);
    await waitOpen(b, 2);
    await waitVerified(a);
    const key2 = await checkInspector(a, port);
    assert.notEqual(key2, key1, 'a new connection, a new key');
    // The room works again after the restart.
    await b.fill('#message', 'back again');
    await b.press('#message', 'Enter');
    await a.locator('#messages li.chat', { hasText: 'back again' }).waitFor({ timeout: 5000 });
    await a.screenshot({ path: `${SHOTS}demo-reconnected.png`, fullPage: true });

    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    await stopDemo(demo);
  }
});
