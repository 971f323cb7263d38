// `for await (const message of ws)`: messages in order until the connection closes, with
// reading paused while too many wait to be taken.
import type { EventEmitter } from 'node:events';
import { CloseCode } from '../protocol/constants.js';
import { ErrorCode, WebSocketError } from '../protocol/errors.js';
import { CLOSED } from './host.js';

/** What the iterator needs of a WebSocket. */
interface Source extends EventEmitter {
  readonly readyState: number;
  readonly isPaused: boolean;
  pause(): void;
  resume(): void;
}

/** Reading pauses while this many messages wait, and resumes under `LOW_WATER`. */
const HIGH_WATER = 64;
const LOW_WATER = 16;

/** Whether a close code ends `for await` quietly. */
function isNormalClose(code: number): boolean {
  return code === CloseCode.Normal || code === CloseCode.GoingAway || code === CloseCode.NoStatus;
}

/**
 * Messages in order until the connection closes. Ends quietly on 1000, 1001 or 1005;
 * otherwise throws the WebSocketError that closed it (`closedBy`).
 */
export async function* messages<T>(ws: Source, closedBy: () => WebSocketError | undefined): AsyncGenerator<T, void, undefined> {
  const queue: T[] = [];
  let closed: { code: number } | undefined;
  let wake: (() => void) | undefined;
  const onMessage = (data: T): void => {
    queue.push(data);
    if (queue.length >= HIGH_WATER) ws.pause();
    wake?.();
  };
  const onClose = (code: number): void => {
    closed = { code };
    wake?.();
  };
  ws.on('message', onMessage);
  ws.on('close', onClose);
  if (ws.readyState === CLOSED) closed = { code: CloseCode.Abnormal };
  try {
    for (;;) {
      if (queue.length > 0) {
        const m = queue.shift()!;
        if (queue.length < LOW_WATER && ws.isPaused) ws.resume();
        yield m;
        continue;
      }
      if (closed) {
        if (isNormalClose(closed.code)) return;
        throw closedBy() ?? new WebSocketError(ErrorCode.Abnormal, `connection closed with ${closed.code}`, { closeCode: closed.code });
      }
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
  } finally {
    ws.off('message', onMessage);
    ws.off('close', onClose);
    if (ws.isPaused) ws.resume();
  }
}
