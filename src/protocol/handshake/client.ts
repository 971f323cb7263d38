// The client's side of the opening handshake (RFC 6455 §4.1, RFC 7692 §5, §7.1), free of
// I/O: the request bytes, then a judgement of the response head. The host dials, reads the
// head (HeadReader), reads an error's body, and supplies the random nonce.
import { ErrorCode, HandshakeError, WebSocketError } from '../errors.js';
import {
  PMD,
  checkDeflateAnswer,
  formatDeflateOffer,
  type DeflateParams,
  type PerMessageDeflateOptions,
} from '../extensions/permessage-deflate.js';
import { base64Encode } from '../sha1.js';
import { connectRefused, formatConnectRequest, isConnectSuccess } from './http2.js';
import {
  acceptKey,
  checkAnswerFields,
  checkUpgradeResponse,
  formatUpgradeRequest,
  parseResponseHead,
  type HeaderInit,
  type HeaderList,
  type ResponseHead,
} from './http1.js';
import { isToken } from './negotiate.js';
import { splitRequestHeaders } from './request-headers.js';

export interface ClientHandshakeInit {
  /** The Host header: host, with the port when not the scheme's default (a URL's `host`). */
  readonly host: string;
  /** Path and query, e.g. "/chat?room=1" (default "/"). */
  readonly target?: string | undefined;
  /** Subprotocols to offer, in order of preference. */
  readonly protocols?: readonly string[] | undefined;
  /** The Origin header to send; none by default (not a browser). */
  readonly origin?: string | undefined;
  /** Extra request headers. */
  readonly headers?: HeaderInit | undefined;
  /** permessage-deflate: on by default, offered as browsers offer it (RFC 7692 §5). */
  readonly perMessageDeflate?: boolean | PerMessageDeflateOptions | undefined;
  /** 16 random bytes for Sec-WebSocket-Key, fresh for each attempt (the host's CSPRNG). */
  readonly nonce: Uint8Array;
}

/** The judgement of a response head. */
export type ClientDecision =
  /** A valid 101: the connection is established (RFC 6455 §4.1); `rest` are the first frame bytes. */
  | {
      readonly kind: 'open';
      readonly response: ResponseHead;
      /** The subprotocol agreed, '' for none. */
      readonly protocol: string;
      /** The server's Sec-WebSocket-Extensions answer, '' for none. */
      readonly extensions: string;
      /** What permessage-deflate's codec needs, when it was agreed. */
      readonly deflate: DeflateParams | undefined;
      readonly rest: Uint8Array;
    }
  /** Not a 101: the host reads the body (it begins with `rest`), then calls `refused(response, body)`. */
  | { readonly kind: 'refused'; readonly response: ResponseHead; readonly rest: Uint8Array }
  /** The handshake failed (a WS_ERR_HANDSHAKE_* code). */
  | { readonly kind: 'fail'; readonly response: ResponseHead | undefined; readonly error: HandshakeError };

/**
 * One attempt at a client handshake: `request` holds the bytes to send; `receiveHead()`
 * judges the answer.
 */
export class ClientHandshake {
  /** Sec-WebSocket-Key: base64 of the 16-byte nonce (RFC 6455 §4.1 item 7). */
  readonly key: string;
  #accept: string | undefined;
  /** The Sec-WebSocket-Accept a genuine answer carries (RFC 6455 §4.2.2 item 5.4); computed when first needed (an HTTP/2 attempt never needs it). */
  get accept(): string {
    return (this.#accept ??= acceptKey(this.key));
  }
  readonly protocols: readonly string[];
  /** The permessage-deflate options offered with, or undefined when not offered. */
  readonly deflateOptions: PerMessageDeflateOptions | undefined;
  /** Extension names offered, the only ones an answer may hold (RFC 6455 §4.1 item 5). */
  readonly offeredExtensions: readonly string[];
  /** The request head, with its final blank line: the bytes to write. */
  readonly request: string;
  readonly #init: ClientHandshakeInit;

  /**
   * @throws WebSocketError WS_ERR_INVALID_ARGUMENT for a nonce that is not 16 bytes or
   * subprotocols that are not distinct tokens or an invalid extra header; WS_ERR_RESERVED_HEADER
   * for an extra header the handshake owns (request-headers.ts).
   */
  constructor(init: ClientHandshakeInit) {
    // RFC 6455 §4.1 item 7: the key MUST be a randomly selected 16-byte value, base64.
    if (init.nonce.length !== 16) throw new WebSocketError(ErrorCode.InvalidArgument, 'the nonce must be 16 random bytes');
    const protocols = init.protocols ?? [];
    // RFC 6455 §4.1 item 10: the elements MUST be distinct tokens (§11.3.4).
    if (protocols.some((p) => !isToken(p)) || new Set(protocols).size !== protocols.length) {
      throw new WebSocketError(ErrorCode.InvalidArgument, 'subprotocols must be distinct tokens');
    }
    // Host and Origin given as headers replace ours; the handshake's own headers are refused.
    const user = splitRequestHeaders(init.headers);
    const origin = user.origin ?? init.origin;
    const pmd = init.perMessageDeflate ?? true;
    this.key = base64Encode(init.nonce);
    this.protocols = protocols;
    this.deflateOptions = pmd === false ? undefined : typeof pmd === 'object' ? pmd : {};
    this.offeredExtensions = this.deflateOptions ? [PMD] : [];
    this.#init = init;
    // Made here, though an HTTP/2 attempt sends other fields: formatting checks the values.
    this.request = formatUpgradeRequest({
      target: init.target || '/',
      host: user.host ?? init.host,
      key: this.key,
      protocols,
      ...(this.deflateOptions ? { extensions: formatDeflateOffer(this.deflateOptions) } : {}),
      ...(origin !== undefined ? { origin } : {}),
      ...(user.extra.length ? { headers: user.extra } : {}),
    });
  }

  /** Judges a response head (without its blank line); `rest` are the bytes that followed it. */
  receiveHead(head: string, rest: Uint8Array): ClientDecision {
    let res: ResponseHead;
    try {
      res = parseResponseHead(head);
    } catch (err) {
      return { kind: 'fail', response: undefined, error: err as HandshakeError };
    }
    return this.judge(res, rest);
  }

  /**
   * Judges a parsed response (RFC 6455 §4.1, the client's checks 1–6, then RFC 7692 §7.1
   * for permessage-deflate).
   */
  judge(res: ResponseHead, rest: Uint8Array): ClientDecision {
    // §4.1: "If the status code received from the server is not 101, the client handles
    // the response per HTTP [RFC2616] procedures": the body is read, then the attempt fails.
    if (res.status !== 101) return { kind: 'refused', response: res, rest };
    let answer;
    try {
      answer = checkUpgradeResponse(res, this.key, this.protocols, this.offeredExtensions);
    } catch (err) {
      return { kind: 'fail', response: res, error: err as HandshakeError };
    }
    // RFC 7692 §7.1: an answer that does not fit the offer MUST fail the WebSocket connection.
    const deflate = this.deflateOptions ? checkDeflateAnswer(answer.extensions, this.deflateOptions) : undefined;
    if (typeof deflate === 'string') {
      const error = new HandshakeError(ErrorCode.HandshakeExtension, deflate, { status: 101, headers: res.headers.toObject() });
      return { kind: 'fail', response: res, error };
    }
    return { kind: 'open', response: res, protocol: answer.protocol, extensions: deflate?.header ?? '', deflate, rest };
  }

  /**
   * The same attempt as an HTTP/2 extended CONNECT (RFC 8441 §4): its fields, pseudo-headers
   * first. `scheme` is "https" for wss: and "http" for ws:. No key: RFC 8441 §5 drops it.
   */
  connectFields(scheme: 'https' | 'http'): Array<readonly [string, string]> {
    const i = this.#init;
    return formatConnectRequest({
      scheme,
      authority: i.host,
      path: i.target || '/',
      protocols: this.protocols,
      extensions: this.deflateOptions ? formatDeflateOffer(this.deflateOptions) : undefined,
      origin: i.origin,
      headers: i.headers,
    });
  }

  /**
   * Judges the HTTP/2 answer to `connectFields()` (RFC 8441 §5): a 2xx opens, with the same
   * subprotocol and extension checks as a 101 (RFC 6455 §4.1 items 5–6, RFC 7692 §7.1);
   * otherwise the host reads the body and calls `refusedConnect`.
   */
  judgeConnect(status: number, headers: HeaderList): ClientDecision {
    const res: ResponseHead = { httpVersion: '2', status, statusText: '', headers };
    if (!isConnectSuccess(status)) return { kind: 'refused', response: res, rest: new Uint8Array(0) };
    const fail = (code: ErrorCode, message: string): HandshakeError =>
      new HandshakeError(code, message, { status, headers: headers.toObject() });
    let answer;
    try {
      answer = checkAnswerFields(headers, this.protocols, this.offeredExtensions, fail);
    } catch (err) {
      return { kind: 'fail', response: res, error: err as HandshakeError };
    }
    const deflate = this.deflateOptions ? checkDeflateAnswer(answer.extensions, this.deflateOptions) : undefined;
    if (typeof deflate === 'string') return { kind: 'fail', response: res, error: fail(ErrorCode.HandshakeExtension, deflate) };
    return { kind: 'open', response: res, protocol: answer.protocol, extensions: deflate?.header ?? '', deflate, rest: new Uint8Array(0) };
  }

  /** The failure (WS_ERR_HANDSHAKE_STATUS) for an HTTP/2 answer that is not 2xx, once its body is read. */
  refusedConnect(res: ResponseHead, body: string): HandshakeError {
    return connectRefused(res.status, res.headers, body);
  }

  /**
   * The failure (WS_ERR_HANDSHAKE_STATUS) for a non-101 answer, once its body (up to the
   * host's limit) is read.
   * @throws WebSocketError WS_ERR_INVALID_ARGUMENT when `res` is a 101 (use `receiveHead`)
   */
  refused(res: ResponseHead, body: string): HandshakeError {
    try {
      checkUpgradeResponse(res, this.key, this.protocols, this.offeredExtensions, body);
    } catch (err) {
      return err as HandshakeError;
    }
    throw new WebSocketError(ErrorCode.InvalidArgument, 'refused() is for an answer other than 101');
  }
}
