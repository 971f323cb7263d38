// WebSocketStream: ws13's against Chromium's own (WebSocketStream ships unflagged in Debian's
// Chromium), the same scenarios (stream-scenarios.ts) and the same ws13 server, equal traces.
// Then backpressure: a reader that does not read stops the socket reading, so what the server
// sends waits on the server (its bufferedAmount stays high) instead of in the client's memory.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { BrowserWebSocket, CloseEvent, WebSocket, WebSocketStream } from '../../src/node/index.js';
import { peerAvailable, peerTest } from '../support/peers-available.js';
import { launch } from './chromium.js';
import type { TraceEntry } from './scenarios.js';
import { STREAM_SCENARIOS, runStreamScenario } from './stream-scenarios.js';
import { FLOOD, startServer, type TestServer } from './server.js';

const TOTAL = FLOOD * 64 * 1024;
/** What a client that does not read may take in: kernel buffers on loopback, stream queues. */
const MAY_TAKE = 12 * 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let server: TestServer;
let browser: Browser | undefined;
let page: Page;

/** The server side of the latest /flood connection, once it is there. */
async function floodConnection(count: number): Promise<WebSocket> {
  for (let i = 0; i < 200; i++) {
    const c = server.connections.filter((x) => x.path === '/flood');
    if (c.length >= count) return c[count - 1]!.ws;
    await sleep(25);
  }
  throw new Error('no /flood connection');
}

describe('WebSocketStream: ws13 and Chromium give the same traces', () => {
  before(async () => {
    server = await startServer();
    if (peerAvailable('chromium')) ({ browser, page } = await launch(server.page));
  });
  after(async () => {
    await browser?.close();
    await server.close();
  });

  for (const name of STREAM_SCENARIOS) {
    peerTest(['chromium'], name, { timeout: 30_000 }, async () => {
      assert.equal(await page.evaluate('typeof WebSocketStream'), 'function', "Chromium's WebSocketStream");
      const inBrowser = (await page.evaluate(`(${runStreamScenario.toString()})(${JSON.stringify(name)}, ${JSON.stringify(server.urls)})`)) as TraceEntry[];
      const inNode = await runStreamScenario(name, server.urls, { WebSocket: BrowserWebSocket, CloseEvent, WebSocketStream });
      assert.ok(inBrowser.length > 0, `scenario ${name}: an empty browser trace`);
      assert.deepEqual(inNode, inBrowser, `scenario ${name}:\nnode:    ${JSON.stringify(inNode)}\nbrowser: ${JSON.stringify(inBrowser)}`);
    });
  }

  test('control: a WebSocket that reads takes the whole flood (the server drains)', { timeout: 30_000 }, async () => {
    const ws = new WebSocket(`${server.urls.base}/flood`);
    let got = 0;
    const done = new Promise<void>((resolve) => ws.on('message', (d) => (d === 'end' ? resolve() : got++)));
    await done;
    assert.equal(got, FLOOD);
    assert.equal((await floodConnection(1)).bufferedAmount, 0);
    ws.close(1000);
  });

  test('ws13: a WebSocketStream nobody reads holds the flood back on the server, then delivers it all in order', { timeout: 60_000 }, async (t) => {
    const before = server.connections.filter((x) => x.path === '/flood').length;
    const wss = new WebSocketStream(`${server.urls.base}/flood`);
    const { readable } = await wss.opened;
    const peer = await floodConnection(before + 1);
    await sleep(1500);
    const waiting = peer.bufferedAmount;
    t.diagnostic(`ws13's WebSocketStream took ${TOTAL - waiting} of ${TOTAL} bytes without reading`);
    assert.ok(TOTAL - waiting <= MAY_TAKE, `the client took ${TOTAL - waiting} bytes without reading (at most ${MAY_TAKE})`);
    const reader = readable.getReader();
    for (let i = 0; i < FLOOD; i++) {
      const { value } = await reader.read();
      assert.ok(value instanceof ArrayBuffer && value.byteLength === 64 * 1024 && new Uint8Array(value)[0] === (i & 0xff), `message ${i}`);
    }
    assert.equal((await reader.read()).value, 'end');
    assert.equal(peer.bufferedAmount, 0);
    wss.close({ closeCode: 1000 });
    assert.deepEqual(await wss.closed, { closeCode: 1000, reason: '' });
  });

  peerTest(['chromium'], "Chromium: the same, with its own WebSocketStream (the measure agrees)", { timeout: 60_000 }, async (t) => {
    const before = server.connections.filter((x) => x.path === '/flood').length;
    await page.evaluate(`(async () => {
      globalThis.floodStream = new WebSocketStream(${JSON.stringify(`${server.urls.base}/flood`)});
      globalThis.floodOpen = await globalThis.floodStream.opened;
    })()`);
    const peer = await floodConnection(before + 1);
    await sleep(1500);
    const waiting = peer.bufferedAmount;
    t.diagnostic(`Chromium's WebSocketStream took ${TOTAL - waiting} of ${TOTAL} bytes without reading`);
    assert.ok(TOTAL - waiting <= MAY_TAKE, `Chromium took ${TOTAL - waiting} bytes without reading (at most ${MAY_TAKE})`);
    const n = await page.evaluate(`(async () => {
      const r = globalThis.floodOpen.readable.getReader();
      let n = 0;
      for (;;) { const { value } = await r.read(); if (value === 'end') break; n++; }
      globalThis.floodStream.close({ closeCode: 1000 });
      await globalThis.floodStream.closed;
      return n;
    })()`);
    assert.equal(n, FLOOD);
    assert.equal(peer.bufferedAmount, 0);
  });
});
