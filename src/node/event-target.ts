// The WHATWG-shaped side of a WebSocket's events: event objects for `on…` handlers and for
// listeners added with `addEventListener`, which ride on the EventEmitter's own listeners.
import type { EventEmitter } from 'node:events';
import { WsCloseEvent, WsErrorEvent, WsEvent, WsMessageEvent, type EventListenerLike } from './events.js';

/** The event object for an emitted event's arguments. */
export function eventFor(target: object, type: string, args: unknown[]): WsEvent {
  switch (type) {
    case 'message':
      return new WsMessageEvent(target, args[0]);
    case 'close':
      return new WsCloseEvent(target, args[0] as number, args[1] as string, args[2] as boolean);
    case 'error':
      return new WsErrorEvent(target, args[0] as Error);
    default:
      return new WsEvent(type, target);
  }
}

type Wrapper = (...args: unknown[]) => void;
/** Each target's wrapped listeners, by listener and type (made on first use: most have none). */
const wrappersOf = new WeakMap<object, Map<EventListenerLike, Map<string, Wrapper>>>();

/** Adds `listener` for `type` (once per listener and type, as EventTarget does). */
export function addEventListener(target: EventEmitter, type: string, listener: EventListenerLike, options?: { once?: boolean }): void {
  let wrapped = wrappersOf.get(target);
  if (!wrapped) wrappersOf.set(target, (wrapped = new Map()));
  let byType = wrapped.get(listener);
  if (byType?.has(type)) return;
  const call = typeof listener === 'function' ? listener : (ev: WsEvent) => listener.handleEvent(ev);
  const wrapper = (...args: unknown[]): void => {
    if (options?.once) removeEventListener(target, type, listener);
    call.call(target, eventFor(target, type, args));
  };
  if (!byType) wrapped.set(listener, (byType = new Map()));
  byType.set(type, wrapper);
  target.on(type, wrapper);
}

export function removeEventListener(target: EventEmitter, type: string, listener: EventListenerLike): void {
  const byType = wrappersOf.get(target)?.get(listener);
  const wrapper = byType?.get(type);
  if (!wrapper) return;
  byType!.delete(type);
  target.off(type, wrapper);
}
