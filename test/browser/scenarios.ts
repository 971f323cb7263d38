// The scripted scenarios of the differential test. `runScenario` runs in Chromium's page (its
// source is sent there by playwright) and in Node (called directly, with ws13's classes in
// `lib`), so it must not refer to anything outside itself: no imports, no helpers around it.
//
// It returns a trace: every event (type, class, readyState, bufferedAmount, code/reason/
// wasClean, data) and every call (its result or the exception's name), in order.

/** One line of a trace. */
export type TraceEntry = Record<string, unknown>;

/** Where the scenarios connect. */
export interface Urls {
  /** ws://127.0.0.1:port of the ws13 test server (paths choose its behaviour, see server.ts). */
  base: string;
  /** A ws:// URL where nothing listens. */
  refused: string;
}

/** The classes a scenario uses; in the page, the browser's globals. */
export interface Lib {
  WebSocket: any;
  CloseEvent: any;
  WebSocketStream?: any;
}

export const SCENARIOS = [
  'open-text',
  'binary-types',
  'close-codes',
  'close-without-code',
  'server-close',
  'network-loss-fin',
  'network-loss-rst',
  'refused',
  'handshake-403',
  'close-while-connecting',
  'invalid-arguments',
  'subprotocol',
  'buffered-amount',
  'listeners',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

export async function runScenario(name: string, urls: Urls, lib?: Lib): Promise<TraceEntry[]> {
  const g = globalThis as any;
  const WS = lib ? lib.WebSocket : g.WebSocket;
  const CE = lib ? lib.CloseEvent : g.CloseEvent;
  const trace: TraceEntry[] = [];
  g.__trace = trace; // for a look from outside when a scenario hangs
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const cls = (ev: any): string =>
    ev instanceof CE ? 'CloseEvent' : ev instanceof g.MessageEvent ? 'MessageEvent' : ev instanceof g.Event ? 'Event' : typeof ev;
  const describe = (d: any): unknown => {
    if (typeof d === 'string') return { type: 'string', value: d };
    if (d instanceof ArrayBuffer) return { type: 'ArrayBuffer', bytes: Array.from(new Uint8Array(d)).join(',') };
    if (d instanceof g.Blob) return { type: 'Blob', size: d.size, mime: d.type };
    return { type: Object.prototype.toString.call(d) };
  };
  /** Records every event of `ws`; resolves at 'close'. */
  const watch = (ws: any, label = 'ws'): Promise<void> =>
    new Promise((resolve) => {
      for (const type of ['open', 'message', 'error', 'close']) {
        ws.addEventListener(type, (ev: any) => {
          const e: TraceEntry = {
            on: label,
            event: type,
            class: cls(ev),
            type: ev.type,
            readyState: ws.readyState,
            bufferedAmount: ws.bufferedAmount,
            target: ev.target === ws,
            currentTarget: ev.currentTarget === ws,
            isTrusted: ev.isTrusted,
            bubbles: ev.bubbles,
            cancelable: ev.cancelable,
          };
          if (type === 'message') {
            e['data'] = describe(ev.data);
            e['origin'] = ev.origin;
          }
          if (type === 'close') {
            e['code'] = ev.code;
            e['reason'] = ev.reason;
            e['wasClean'] = ev.wasClean;
          }
          trace.push(e);
          if (type === 'close') resolve();
        });
      }
    });
  const nextMessage = (ws: any): Promise<any> =>
    new Promise((resolve) => ws.addEventListener('message', (ev: any) => resolve(ev.data), { once: true }));
  const opened = (ws: any): Promise<void> => new Promise((resolve) => ws.addEventListener('open', () => resolve(), { once: true }));
  /** Calls `f`, records what it returned or threw and the state after. */
  const call = (label: string, ws: any, f: () => unknown): unknown => {
    try {
      const r = f();
      trace.push({ call: label, threw: null, readyState: ws?.readyState, bufferedAmount: ws?.bufferedAmount });
      return r;
    } catch (err: any) {
      trace.push({ call: label, threw: err?.name, domException: err instanceof g.DOMException, readyState: ws?.readyState });
      return undefined;
    }
  };
  const state = (label: string, ws: any): void => {
    trace.push({ state: label, readyState: ws.readyState, bufferedAmount: ws.bufferedAmount, binaryType: ws.binaryType, protocol: ws.protocol, extensions: ws.extensions, url: ws.url });
  };

  switch (name) {
    case 'open-text': {
      const ws = new WS(`${urls.base}/echo`);
      state('constructed', ws);
      const closed = watch(ws);
      await opened(ws);
      state('open', ws);
      call("send('hello')", ws, () => ws.send('hello'));
      call('send(unicode)', ws, () => ws.send('héllo ✓ 🎉'));
      call("send('')", ws, () => ws.send(''));
      await nextMessage(ws);
      await nextMessage(ws);
      await nextMessage(ws);
      call("close(1000, 'bye')", ws, () => ws.close(1000, 'bye'));
      await closed;
      state('closed', ws);
      break;
    }
    case 'binary-types': {
      const ws = new WS(`${urls.base}/echo`);
      state('constructed', ws);
      const closed = watch(ws);
      await opened(ws);
      call('send(Uint8Array)', ws, () => ws.send(new Uint8Array([1, 2, 3])));
      await nextMessage(ws);
      call('send(ArrayBuffer)', ws, () => ws.send(new Uint8Array([4, 5]).buffer));
      await nextMessage(ws);
      call("binaryType = 'arraybuffer'", ws, () => (ws.binaryType = 'arraybuffer'));
      state('arraybuffer', ws);
      call("binaryType = 'foo'", ws, () => (ws.binaryType = 'foo'));
      call("binaryType = 'nodebuffer'", ws, () => (ws.binaryType = 'nodebuffer'));
      state('after invalid', ws);
      call('send(DataView)', ws, () => ws.send(new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2)));
      await nextMessage(ws);
      call('send(Blob)', ws, () => ws.send(new g.Blob([new Uint8Array([10, 11, 12])])));
      call("send('after blob')", ws, () => ws.send('after blob'));
      await nextMessage(ws);
      await nextMessage(ws);
      call("binaryType = 'blob'", ws, () => (ws.binaryType = 'blob'));
      call('send(Uint16Array)', ws, () => ws.send(new Uint16Array([0x0102])));
      await nextMessage(ws);
      call('close()', ws, () => ws.close());
      await closed;
      break;
    }
    case 'close-codes': {
      const ws = new WS(`${urls.base}/echo`);
      const closed = watch(ws);
      await opened(ws);
      for (const code of [1001, 1002, 1005, 1006, 1011, 2999, 5000, 0, 65536, -1]) {
        call(`close(${code})`, ws, () => ws.close(code));
      }
      call("close(1000, 124 bytes)", ws, () => ws.close(1000, 'x'.repeat(124)));
      call("close(3000, 62 × 'é' = 124 bytes)", ws, () => ws.close(3000, 'é'.repeat(62)));
      call('close(NaN)', ws, () => ws.close(NaN));
      state('still open', ws);
      call("close(4001, 'custom')", ws, () => ws.close(4001, 'custom'));
      call("close(1000, 'again')", ws, () => ws.close(1000, 'again'));
      call("send('late')", ws, () => ws.send('late'));
      call('send(4 bytes)', ws, () => ws.send(new Uint8Array(4)));
      await closed;
      call("send('after close')", ws, () => ws.send('after close'));
      state('closed', ws);
      break;
    }
    case 'close-without-code': {
      const ws = new WS(`${urls.base}/echo`);
      const closed = watch(ws);
      await opened(ws);
      call('close()', ws, () => ws.close());
      await closed;
      const ws2 = new WS(`${urls.base}/echo`);
      const closed2 = watch(ws2, 'ws2');
      await opened(ws2);
      call("close(undefined, 'reason only')", ws2, () => ws2.close(undefined, 'reason only'));
      if (ws2.readyState === 1) call("close(1000, 'then')", ws2, () => ws2.close(1000, 'then'));
      await closed2;
      const ws3 = new WS(`${urls.base}/echo`);
      const closed3 = watch(ws3, 'ws3');
      await opened(ws3);
      call('close(3000.5)', ws3, () => ws3.close(3000.5));
      await closed3;
      break;
    }
    case 'server-close': {
      const ws = new WS(`${urls.base}/server-close`);
      const closed = watch(ws);
      await closed;
      state('closed', ws);
      break;
    }
    case 'network-loss-fin':
    case 'network-loss-rst': {
      const ws = new WS(`${urls.base}/${name === 'network-loss-fin' ? 'drop-fin' : 'drop-rst'}`);
      const closed = watch(ws);
      await closed;
      state('closed', ws);
      break;
    }
    case 'refused': {
      const ws = new WS(urls.refused);
      state('constructed', ws);
      const closed = watch(ws);
      await closed;
      state('closed', ws);
      break;
    }
    case 'handshake-403': {
      const ws = new WS(`${urls.base}/refuse`);
      const closed = watch(ws);
      await closed;
      state('closed', ws);
      break;
    }
    case 'close-while-connecting': {
      const ws = new WS(`${urls.base}/slow`);
      const closed = watch(ws);
      call('close()', ws, () => ws.close());
      call("send('x')", ws, () => ws.send('x'));
      trace.push({ sync: 'end of script turn' });
      await closed;
      state('closed', ws);
      const ws2 = new WS(`${urls.base}/slow`);
      const closed2 = watch(ws2, 'ws2');
      call('close(1001)', ws2, () => ws2.close(1001));
      call("close(4000, 'early')", ws2, () => ws2.close(4000, 'early'));
      await closed2;
      break;
    }
    case 'invalid-arguments': {
      const bad: [string, () => unknown][] = [
        ["new WebSocket('ws://[::1')", () => new WS('ws://[::1')],
        ["new WebSocket('ftp://127.0.0.1/')", () => new WS('ftp://127.0.0.1/')],
        ["new WebSocket('ws://127.0.0.1/#frag')", () => new WS('ws://127.0.0.1/#frag')],
        ["new WebSocket('ws://127.0.0.1/#')", () => new WS('ws://127.0.0.1/#')],
        ["new WebSocket('ws://')", () => new WS('ws://')],
        ["protocols ['a', 'a']", () => new WS(`${urls.base}/echo`, ['a', 'a'])],
        ["protocols ['a b']", () => new WS(`${urls.base}/echo`, ['a b'])],
        ["protocols ['']", () => new WS(`${urls.base}/echo`, [''])],
        ["protocols 'chat,x'", () => new WS(`${urls.base}/echo`, 'chat,x')],
        ["protocols ['é']", () => new WS(`${urls.base}/echo`, ['é'])],
      ];
      for (const [label, f] of bad) call(label, undefined, f);
      const ws = new WS(`${urls.base}/echo`);
      const closed = watch(ws);
      call("send('too early')", ws, () => ws.send('too early'));
      call("binaryType = 'foo'", ws, () => (ws.binaryType = 'foo'));
      state('connecting', ws);
      await opened(ws);
      call("close(1000, '')", ws, () => ws.close(1000, ''));
      await closed;
      break;
    }
    case 'subprotocol': {
      const ws = new WS(`${urls.base}/echo`, ['nope', 'chat']);
      const closed = watch(ws);
      state('constructed', ws);
      await opened(ws);
      state('open', ws);
      ws.close(1000);
      await closed;
      state('closed', ws);
      break;
    }
    case 'buffered-amount': {
      const ws = new WS(`${urls.base}/echo`);
      const closed = watch(ws);
      await opened(ws);
      ws.binaryType = 'arraybuffer';
      const big = new Uint8Array(1 << 20);
      call('send(1 MiB)', ws, () => ws.send(big));
      call("send('abc')", ws, () => ws.send('abc'));
      const first = await nextMessage(ws);
      trace.push({ echoed: first.byteLength });
      await nextMessage(ws);
      await sleep(50);
      state('drained', ws);
      ws.close(1000);
      await closed;
      break;
    }
    case 'listeners': {
      const ws = new WS(`${urls.base}/echo`);
      const closed = watch(ws);
      const order: string[] = [];
      const a = (ev: any) => {
        order.push('a');
        if (ev.data === 'stop') ev.stopImmediatePropagation();
      };
      ws.addEventListener('message', a);
      ws.addEventListener('message', a); // a duplicate is ignored
      ws.onmessage = () => order.push('handler1');
      ws.addEventListener('message', { handleEvent: () => order.push('object') });
      ws.addEventListener('message', () => order.push('once'), { once: true });
      await opened(ws);
      ws.send('one');
      await nextMessage(ws);
      trace.push({ order: order.join(' ') });
      order.length = 0;
      ws.onmessage = () => order.push('handler2'); // keeps its place
      ws.send('two');
      await nextMessage(ws);
      trace.push({ order: order.join(' ') });
      order.length = 0;
      ws.onmessage = null;
      ws.onmessage = () => order.push('handler3'); // goes last
      ws.send('stop'); // 'a' stops the others, this listener too: it gets 'three'
      ws.send('three');
      await nextMessage(ws);
      trace.push({ order: order.join(' ') });
      const seen: TraceEntry[] = [];
      ws.addEventListener('custom', (ev: any) => seen.push({ target: ev.target === ws, isTrusted: ev.isTrusted, phase: ev.eventPhase }));
      const ev = new g.Event('custom', { cancelable: true });
      const r = ws.dispatchEvent(ev);
      trace.push({ dispatched: r, seen, after: { currentTarget: ev.currentTarget, phase: ev.eventPhase, target: ev.target === ws } });
      trace.push({ handlerType: typeof ws.onmessage, onopen: ws.onopen });
      ws.close(1000);
      await closed;
      break;
    }
    default:
      throw new Error(`no scenario ${name}`);
  }
  return trace;
}
