// The browser-shaped client against Chromium's own WebSocket: the same scenarios
// (scenarios.ts) run in Debian's Chromium page and in Node with ws13's BrowserWebSocket,
// against the same ws13 server, and the two traces must be equal. Differences that are
// documented (docs/API.md, "The browser-shaped client") are listed in KNOWN, and nowhere else.
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { BrowserWebSocket, CloseEvent, WebSocket } from '../../src/node/index.js';
import { peerAvailable, peerTest } from '../support/peers-available.js';
import { launch } from './chromium.js';
import { SCENARIOS, runScenario, type TraceEntry } from './scenarios.js';
import { startServer, type TestServer } from './server.js';


/**
 * Documented differences (docs/API.md) would be smoothed here; the scenarios avoid the ones
 * that cannot be (a relative URL has no base in Node), so none is needed today.
 */
function normalize(trace: TraceEntry[]): TraceEntry[] {
  return trace;
}

/**
 * The scenarios where ws13's Node-style WebSocket must match Chromium too, once its documented
 * default (`binaryType` 'nodebuffer') is allowed for. The others exercise rules it keeps on
 * purpose (close codes, WebSocketError instead of DOMException, messages back to back).
 */
const NODE_STYLE = ['server-close', 'network-loss-fin', 'network-loss-rst', 'refused', 'handshake-403', 'subprotocol'] as const;

function nodeStyleDefaults(trace: TraceEntry[]): TraceEntry[] {
  return trace.map((e) => (e['binaryType'] === 'nodebuffer' ? { ...e, binaryType: 'blob' } : e));
}

let server: TestServer;
let browser: Browser | undefined;
let page: Page;

describe('the browser-shaped client and Chromium give the same traces', () => {
  before(async () => {
    server = await startServer();
    if (!peerAvailable('chromium')) return;
    ({ browser, page } = await launch(server.page));
  });
  after(async () => {
    await browser?.close();
    await server.close();
  });

  for (const name of SCENARIOS) {
    peerTest(['chromium'], name, { timeout: 30_000 }, async () => {
      const inBrowser = (await page.evaluate(`(${runScenario.toString()})(${JSON.stringify(name)}, ${JSON.stringify(server.urls)})`)) as TraceEntry[];
      const inNode = await runScenario(name, server.urls, { WebSocket: BrowserWebSocket, CloseEvent });
      assert.ok(inBrowser.length > 0 && inBrowser.some((e) => e['event'] === 'close' || e['threw']), `scenario ${name}: an empty browser trace`);
      assert.deepEqual(normalize(inNode), normalize(inBrowser), `scenario ${name}:\nnode:    ${JSON.stringify(inNode)}\nbrowser: ${JSON.stringify(inBrowser)}`);
    });
  }

  for (const name of NODE_STYLE) {
    peerTest(['chromium'], `Node-style WebSocket: ${name}`, { timeout: 30_000 }, async () => {
      const inBrowser = (await page.evaluate(`(${runScenario.toString()})(${JSON.stringify(name)}, ${JSON.stringify(server.urls)})`)) as TraceEntry[];
      const inNode = nodeStyleDefaults(await runScenario(name, server.urls, { WebSocket, CloseEvent }));
      assert.deepEqual(inNode, inBrowser, `scenario ${name}:\nnode:    ${JSON.stringify(inNode)}\nbrowser: ${JSON.stringify(inBrowser)}`);
    });
  }
});
