// The WHATWG side of a WebSocket's events: the event classes (the platform's own where Node
// has them), the typed event map, and the listener list behind addEventListener, on… handlers
// and dispatchEvent (https://dom.spec.whatwg.org/#concept-event-dispatch, for a target with no
// parent: no capture or bubble phase).
import { EventEmitter } from 'node:events';
import { initEmitter } from './internals.js';
import type { MessageData } from './types.js';

/** `CloseEvent`'s init dictionary (https://websockets.spec.whatwg.org/#the-closeevent-interface). */
export interface CloseEventInit {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
  code?: number;
  reason?: string;
  wasClean?: boolean;
}

/** A `CloseEvent` for Node versions without a global one (before 23). */
class CloseEventShim extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? '';
    this.wasClean = init.wasClean ?? false;
  }
}
Object.defineProperty(CloseEventShim, 'name', { value: 'CloseEvent' });

/** The event of 'close': the platform's `CloseEvent` (Node 23+), or a class alike on older Node. */
export const CloseEvent: typeof CloseEventShim =
  (globalThis as { CloseEvent?: typeof CloseEventShim }).CloseEvent ?? CloseEventShim;
export type CloseEvent = CloseEventShim;

/**
 * The event of 'error': an `Event`, as in browsers, which also carries the `WebSocketError`
 * (`error`) and its `message` (browsers give no detail).
 */
export class WsErrorEvent extends Event {
  readonly error: Error;
  readonly message: string;
  constructor(error: Error) {
    super('error');
    this.error = error;
    this.message = error.message;
  }
}

/** A message event: the platform's `MessageEvent`, its `data` typed. */
export interface WsMessageEvent<T = MessageData> extends MessageEvent {
  readonly data: T;
}
export const WsMessageEvent: typeof MessageEvent = MessageEvent;

/** Earlier names of the event classes, kept as aliases. */
export const WsEvent: typeof Event = Event;
export type WsEvent = Event;
export const WsCloseEvent = CloseEvent;
export type WsCloseEvent = CloseEvent;

/** What each event of a WebSocket is, for typed `addEventListener` and `on…` handlers. */
export interface WebSocketEventMap {
  open: Event;
  message: WsMessageEvent;
  close: CloseEvent;
  error: WsErrorEvent;
}

export type EventCallback<E extends Event = Event> = ((ev: E) => unknown) | { handleEvent(ev: E): unknown };
/** Kept for code that imported it: a listener of any WebSocket event. */
export type EventListenerLike = EventCallback<any>;

export interface ListenerOptions {
  once?: boolean;
  capture?: boolean;
  passive?: boolean;
  signal?: AbortSignal;
}

interface Entry {
  type: string;
  callback: EventCallback<any>;
  capture: boolean;
  once: boolean;
  /** An `on…` handler's place in the list (HTML: "event handler" listeners). */
  handler: boolean;
  removed: boolean;
}

/** The WHATWG listeners of one target, in the order added. Made on first use. */
export class Listeners {
  #entries: Entry[] = [];

  /** Whether a listener or handler for `type` is there. */
  has(type: string): boolean {
    for (const e of this.#entries) if (e.type === type) return true;
    return false;
  }

  /** https://dom.spec.whatwg.org/#dom-eventtarget-addeventlistener */
  add(type: string, callback: EventCallback<any> | null | undefined, options?: boolean | ListenerOptions): void {
    if (callback === null || callback === undefined) return;
    const o = typeof options === 'object' && options !== null ? options : { capture: options === true };
    const capture = o.capture === true;
    if (o.signal?.aborted) return;
    for (const e of this.#entries) if (!e.handler && e.type === type && e.callback === callback && e.capture === capture) return;
    const entry: Entry = { type, callback, capture, once: o.once === true, handler: false, removed: false };
    this.#entries.push(entry);
    o.signal?.addEventListener('abort', () => this.#drop(entry), { once: true });
  }

  remove(type: string, callback: EventCallback<any> | null | undefined, options?: boolean | ListenerOptions): void {
    const capture = typeof options === 'object' && options !== null ? options.capture === true : options === true;
    const e = this.#entries.find((x) => !x.handler && x.type === type && x.callback === callback && x.capture === capture);
    if (e) this.#drop(e);
  }

  handler(type: string): ((ev: any) => unknown) | null {
    const e = this.#entries.find((x) => x.handler && x.type === type);
    return (e?.callback as ((ev: any) => unknown) | undefined) ?? null;
  }

  /** Sets an `on…` handler: it keeps its place when replaced, leaves it when set to null (HTML §8.1.8.1). */
  setHandler(type: string, fn: unknown): void {
    const e = this.#entries.find((x) => x.handler && x.type === type);
    // Non-callable values count as null, as for an IDL `EventHandler` attribute.
    if (typeof fn !== 'function') {
      if (e) this.#drop(e);
      return;
    }
    if (e) e.callback = fn as (ev: Event) => unknown;
    else this.#entries.push({ type, callback: fn as (ev: Event) => unknown, capture: false, once: false, handler: true, removed: false });
  }

  #drop(e: Entry): void {
    e.removed = true;
    const i = this.#entries.indexOf(e);
    if (i >= 0) this.#entries.splice(i, 1);
  }

  /**
   * Calls the listeners of `ev.type` in order, with `target` as `this`, `target` and
   * `currentTarget`. A listener that throws does not stop the others; the first exception is
   * rethrown once all ran (the WebSocket decides what it means). Returns `!defaultPrevented`.
   */
  dispatch(target: object, ev: Event, trusted: boolean): boolean {
    const list = this.#entries.filter((e) => e.type === ev.type);
    let stopped = false;
    const stopImmediate = ev.stopImmediatePropagation;
    Object.defineProperties(ev, {
      target: { value: target, configurable: true },
      srcElement: { value: target, configurable: true },
      currentTarget: { value: target, configurable: true },
      eventPhase: { value: 2, configurable: true },
      stopImmediatePropagation: {
        value(this: Event) {
          stopped = true;
          stopImmediate.call(this);
        },
        configurable: true,
      },
    });
    if (trusted) Object.defineProperty(ev, 'isTrusted', { value: true, configurable: true });
    let thrown: { err: unknown } | undefined;
    for (const e of list) {
      if (e.removed) continue;
      if (e.once) this.#drop(e);
      try {
        const cb = e.callback;
        if (typeof cb === 'function') cb.call(target, ev);
        else cb.handleEvent(ev);
      } catch (err) {
        thrown ??= { err };
      }
      if (stopped) break;
    }
    Object.defineProperties(ev, {
      currentTarget: { value: null, configurable: true },
      eventPhase: { value: 0, configurable: true },
    });
    delete (ev as { stopImmediatePropagation?: unknown }).stopImmediatePropagation;
    if (thrown) throw thrown.err;
    return !ev.defaultPrevented;
  }
}

/** `ws://host:port` of a WebSocket URL: a message event's `origin`, as browsers set it. */
const origins = new Map<string, string>();
function originOf(url: string): string {
  let o = origins.get(url);
  if (o === undefined) {
    try {
      o = new URL(url).origin;
    } catch {
      o = '';
    }
    if (origins.size > 64) origins.clear();
    origins.set(url, o);
  }
  return o;
}

/** The event object for what the WebSocket emits as `type` with Node-style `args`. */
export function eventFor(url: string, type: string, args: readonly unknown[]): Event {
  switch (type) {
    case 'message':
      return new MessageEvent('message', { data: args[0], origin: originOf(url) });
    case 'close':
      return new CloseEvent('close', { code: args[0] as number, reason: args[1] as string, wasClean: args[2] as boolean });
    case 'error':
      return new WsErrorEvent(args[0] as Error);
    default:
      return new Event(type);
  }
}

/**
 * An 'error' that no 'error' or 'close' listener of any kind will hear of. Browsers tell the
 * page nothing but log the failure to the console; ws13 does the same on a client (a process
 * warning, `WS13_UNHANDLED_ERROR`). A server's peers' mistakes are not warned about.
 */
export function reportUnhandledError(err: Error, role: 'client' | 'server' | undefined): void {
  if (role === 'server') return;
  process.emitWarning(`unhandled WebSocket 'error': ${err.message}`, {
    code: 'WS13_UNHANDLED_ERROR',
    detail: "add an 'error' listener (or onerror) to handle it; 'close' follows",
  });
}

/**
 * An EventEmitter that is also the WHATWG EventTarget of a WebSocket: `addEventListener`,
 * `removeEventListener`, `dispatchEvent` and the `on…` handlers, over one listener list made on
 * first use (most connections have none). Subclasses emit through `whatwg()`.
 *
 * An EventEmitter by its prototype chain (`instanceof EventEmitter` holds, and every method is
 * EventEmitter's), set up by `initEmitter` rather than EventEmitter's constructor, whose
 * per-instance fields would cost each connection 24 bytes (internals.ts).
 */
export interface WebSocketEventTarget extends EventEmitter {}
export class WebSocketEventTarget {
  #listeners: Listeners | undefined;

  constructor() {
    initEmitter(this);
  }

  /** The WHATWG listeners and handlers, if any was added. */
  protected whatwg(): Listeners | undefined {
    return this.#listeners;
  }

  /** WHATWG listener: receives an event object (`ev.data`, `ev.code`, …), after the `on()` listeners. */
  addEventListener<K extends keyof WebSocketEventMap>(type: K, listener: EventCallback<WebSocketEventMap[K]> | null, options?: boolean | ListenerOptions): void;
  addEventListener(type: string, listener: EventCallback | null, options?: boolean | ListenerOptions): void;
  addEventListener(type: string, listener: EventCallback | null, options?: boolean | ListenerOptions): void {
    (this.#listeners ??= new Listeners()).add(type, listener, options);
  }

  removeEventListener<K extends keyof WebSocketEventMap>(type: K, listener: EventCallback<WebSocketEventMap[K]> | null, options?: boolean | ListenerOptions): void;
  removeEventListener(type: string, listener: EventCallback | null, options?: boolean | ListenerOptions): void;
  removeEventListener(type: string, listener: EventCallback | null, options?: boolean | ListenerOptions): void {
    this.#listeners?.remove(type, listener, options);
  }

  /** Calls the WHATWG listeners of `event.type` with it. @returns false when a listener called preventDefault(). */
  dispatchEvent(event: Event): boolean {
    return this.#listeners?.dispatch(this, event, false) ?? !event.defaultPrevented;
  }

  get onopen(): ((this: this, ev: Event) => unknown) | null {
    return this.#listeners?.handler('open') ?? null;
  }
  set onopen(f: ((this: this, ev: Event) => unknown) | null) {
    (this.#listeners ??= new Listeners()).setHandler('open', f);
  }
  get onmessage(): ((this: this, ev: WsMessageEvent) => unknown) | null {
    return this.#listeners?.handler('message') ?? null;
  }
  set onmessage(f: ((this: this, ev: WsMessageEvent) => unknown) | null) {
    (this.#listeners ??= new Listeners()).setHandler('message', f);
  }
  get onclose(): ((this: this, ev: CloseEvent) => unknown) | null {
    return this.#listeners?.handler('close') ?? null;
  }
  set onclose(f: ((this: this, ev: CloseEvent) => unknown) | null) {
    (this.#listeners ??= new Listeners()).setHandler('close', f);
  }
  get onerror(): ((this: this, ev: WsErrorEvent) => unknown) | null {
    return this.#listeners?.handler('error') ?? null;
  }
  set onerror(f: ((this: this, ev: WsErrorEvent) => unknown) | null) {
    (this.#listeners ??= new Listeners()).setHandler('error', f);
  }
}
Object.setPrototypeOf(WebSocketEventTarget.prototype, EventEmitter.prototype);
// Static members too (`WebSocket.defaultMaxListeners`, `WebSocket.once`, …), as with `extends`.
Object.setPrototypeOf(WebSocketEventTarget, EventEmitter);
