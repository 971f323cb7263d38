// WebSocketStream scenarios of the differential test: run in Chromium's page against its own
// WebSocketStream and in Node against ws13's, so self-contained like scenarios.ts.
import type { Lib, TraceEntry, Urls } from './scenarios.js';

export const STREAM_SCENARIOS = [
  'stream-echo',
  'stream-close-arguments',
  'stream-server-close',
  'stream-network-loss',
  'stream-refused',
  'stream-abort',
  'stream-writer-close',
  'stream-invalid-arguments',
] as const;

export async function runStreamScenario(name: string, urls: Urls, lib?: Lib): Promise<TraceEntry[]> {
  const g = globalThis as any;
  const WSS = lib ? lib.WebSocketStream : g.WebSocketStream;
  const trace: TraceEntry[] = [];
  g.__trace = trace;
  const err = (e: any): TraceEntry => ({
    name: e?.name,
    domException: e instanceof g.DOMException,
    closeCode: e?.closeCode,
    reason: e?.reason,
  });
  const describe = (v: any): unknown =>
        typeof v === 'string'
      ? { type: 'string', value: v }
      : { type: Object.prototype.toString.call(v), bytes: Array.from(v instanceof ArrayBuffer ? new Uint8Array(v) : (v as Uint8Array)).join(',') };
  const settle = async (label: string, p: Promise<any>): Promise<any> => {
    try {
      const v = await p;
      trace.push({ settled: label, ok: true });
      return v;
    } catch (e) {
      trace.push({ settled: label, ok: false, error: err(e) });
      return undefined;
    }
  };
  const call = (label: string, f: () => unknown): void => {
    try {
      f();
      trace.push({ call: label, threw: null });
    } catch (e) {
      trace.push({ call: label, threw: err(e) });
    }
  };
  const read = async (r: any): Promise<void> => {
    try {
      const { value, done } = await r.read();
      trace.push({ read: done ? 'done' : describe(value) });
    } catch (e) {
      trace.push({ read: 'rejected', error: err(e) });
    }
  };
  switch (name) {
    case 'stream-echo': {
      const wss = new WSS(`${urls.base}/echo`, { protocols: ['chat'] });
      trace.push({ url: wss.url });
      const info = await settle('opened', wss.opened);
      trace.push({ protocol: info.protocol, extensions: info.extensions, readable: info.readable instanceof g.ReadableStream, writable: info.writable instanceof g.WritableStream });
      const w = info.writable.getWriter();
      const r = info.readable.getReader();
      await settle("write('hello')", w.write('hello'));
      await read(r);
      await settle('write(Uint8Array)', w.write(new Uint8Array([1, 2, 3])));
      await read(r);
      await settle('write(ArrayBuffer)', w.write(new Uint8Array([4, 5]).buffer));
      await read(r);
      await settle('write(DataView)', w.write(new DataView(new Uint8Array([6, 7, 8]).buffer, 1, 1)));
      await read(r);
      call("close({ closeCode: 4000, reason: 'done' })", () => wss.close({ closeCode: 4000, reason: 'done' }));
      const c = await settle('closed', wss.closed);
      trace.push({ closed: c });
      await read(r);
      break;
    }
    case 'stream-close-arguments': {
      const wss = new WSS(`${urls.base}/echo`);
      await settle('opened', wss.opened);
      for (const closeCode of [1001, 2999, 5000, 0]) call(`close({ closeCode: ${closeCode} })`, () => wss.close({ closeCode }));
      call('close(124-byte reason)', () => wss.close({ closeCode: 1000, reason: 'x'.repeat(124) }));
      call("close({ reason: 'reason only' })", () => wss.close({ reason: 'reason only' }));
      const c = await settle('closed', wss.closed);
      trace.push({ closed: c });
      break;
    }
    case 'stream-server-close': {
      const wss = new WSS(`${urls.base}/server-close`);
      const info = await settle('opened', wss.opened);
      const r = info.readable.getReader();
      await read(r);
      const c = await settle('closed', wss.closed);
      trace.push({ closed: c });
      await settle("write after close", info.writable.getWriter().write('x'));
      break;
    }
    case 'stream-network-loss': {
      const wss = new WSS(`${urls.base}/drop-fin`);
      const info = await settle('opened', wss.opened);
      const r = info.readable.getReader();
      await read(r);
      await settle('closed', wss.closed);
      break;
    }
    case 'stream-refused': {
      const wss = new WSS(urls.refused);
      await settle('opened', wss.opened);
      await settle('closed', wss.closed);
      break;
    }
    case 'stream-abort': {
      const ac = new AbortController();
      const wss = new WSS(`${urls.base}/slow`, { signal: ac.signal });
      ac.abort();
      await settle('opened', wss.opened);
      await settle('closed', wss.closed);
      const ac2 = new AbortController();
      ac2.abort();
      const wss2 = new WSS(`${urls.base}/echo`, { signal: ac2.signal });
      await settle('opened (aborted before)', wss2.opened);
      await settle('closed (aborted before)', wss2.closed);
      const ac3 = new AbortController();
      const wss3 = new WSS(`${urls.base}/echo`, { signal: ac3.signal });
      await settle('opened (abort after open)', wss3.opened);
      ac3.abort();
      wss3.close({ closeCode: 1000 });
      const c = await settle('closed (abort after open)', wss3.closed);
      trace.push({ closed: c });
      break;
    }
    case 'stream-writer-close': {
      const wss = new WSS(`${urls.base}/echo`);
      const info = await settle('opened', wss.opened);
      const w = info.writable.getWriter();
      await settle('writer.close()', w.close());
      const c = await settle('closed', wss.closed);
      trace.push({ closed: c });
      break;
    }
    case 'stream-invalid-arguments': {
      call("new WebSocketStream('ftp://127.0.0.1/')", () => new WSS('ftp://127.0.0.1/'));
      call("new WebSocketStream('ws://127.0.0.1/#x')", () => new WSS('ws://127.0.0.1/#x'));
      call("protocols ['a', 'a']", () => new WSS(`${urls.base}/echo`, { protocols: ['a', 'a'] }));
      break;
    }
    default:
      throw new Error(`no scenario ${name}`);
  }
  return trace;
}
