// One opening-handshake attempt of a client, as both dialers (HTTP/1.1 in client.ts, HTTP/2
// in http2/client.ts) keep it: the handshake told to tools once, a timeout, the abort
// signal, and an end that comes once, by success, failure or abort.
import { ErrorCode, HandshakeError, type WebSocketError } from '../../protocol/errors.js';
import type { DialEvents } from '../client-options.js';

export class Attempt {
  /** Settled: opened, failed, aborted, or handed to another attempt. */
  done = false;
  #told = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #onAbort = (): void => this.fail(new HandshakeError(ErrorCode.HandshakeAborted, 'the handshake was aborted'));

  /**
   * @param request the request as sent, for the 'upgrade' event
   * @param teardown drops what the attempt holds (socket, stream, session share) when it fails
   */
  constructor(
    private readonly events: DialEvents,
    private readonly request: string,
    private readonly signal: AbortSignal | undefined,
    private readonly teardown: () => void,
  ) {}

  /** Arms the timeout and the abort signal. False when the signal was aborted already (the failure follows). */
  start(timeoutMs: number): boolean {
    if (this.signal?.aborted) {
      process.nextTick(this.#onAbort);
      return false;
    }
    this.signal?.addEventListener('abort', this.#onAbort);
    this.#timer = setTimeout(() => this.fail(new HandshakeError(ErrorCode.HandshakeTimeout, 'the opening handshake timed out')), timeoutMs);
    return true;
  }

  /** The handshake as it went over the wire: once, at the response head or at the failure before it. */
  tell(response: string | undefined): void {
    if (this.#told) return;
    this.#told = true;
    this.events.upgrade({ request: this.request, response });
  }

  /** Ends the attempt's timer and signal listener; what follows is the caller's. */
  settle(): void {
    this.done = true;
    clearTimeout(this.#timer);
    this.signal?.removeEventListener('abort', this.#onAbort);
  }

  fail(err: WebSocketError): void {
    if (this.done) return;
    this.tell(undefined);
    this.settle();
    this.teardown();
    this.events.fail(err);
  }

  /** close() or terminate() while connecting. As browsers (and ws) do: 'error' and 'close' come after it returned. */
  abort(): void {
    if (this.done) return;
    this.tell(undefined);
    this.settle();
    this.teardown();
    const err = new HandshakeError(ErrorCode.HandshakeAborted, 'closed before the connection was established');
    process.nextTick(() => this.events.fail(err));
  }
}
