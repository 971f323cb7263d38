// The server's decisions in the opening handshake (RFC 6455 §4.2, RFC 7692 §5), free of
// I/O: origin, subprotocol, permessage-deflate and the response are a function of the
// request and the policy. A host moves the bytes and runs its asynchronous hook (Node's
// `beforeUpgrade`) between `negotiate()` and `finish()`.
import { ErrorCode, HandshakeError } from '../errors.js';
import { acceptDeflateOffer, type DeflateParams, type PerMessageDeflateOptions } from '../extensions/permessage-deflate.js';
import {
  checkUpgradeRequest,
  formatRejection,
  formatSwitchingProtocols,
  headerPairs,
  refusalError,
  type HeaderInit,
  type RequestHead,
  type UpgradeOffer,
} from './http1.js';
import { selectSubprotocol } from './negotiate.js';

/**
 * How a server decides. `R` is what the policy's functions are given about the request:
 * the RequestHead by default, the host's own request object when it passes one.
 */
export interface ServerPolicy<R = RequestHead> {
  /**
   * Allowed Origin values (RFC 6455 §10.2): exact origins (ASCII case-insensitive), patterns,
   * or a function. Another Origin is refused with 403. A request without Origin passes a
   * list; a function decides for itself. Undefined: every origin.
   */
  readonly origins?: ReadonlyArray<string | RegExp> | ((origin: string | undefined, req: R) => boolean) | undefined;
  /** Subprotocols in preference order, or a function choosing one of the offered. */
  readonly protocols?: readonly string[] | ((offered: string[], req: R) => string | undefined | null) | undefined;
  /** Refuse (400) a client that offers none of our subprotocols. */
  readonly requireProtocol?: boolean | undefined;
  /** permessage-deflate: off when false or undefined (RFC 7692 is optional for servers). */
  readonly perMessageDeflate?: boolean | PerMessageDeflateOptions | undefined;
  /** Extra headers on every 101, or a function of the request (called once accepted so far). */
  readonly headers?: HeaderInit | ((req: R) => HeaderInit | undefined) | undefined;
}

/** The server will answer 101. */
export interface ServerAccept {
  readonly kind: 'accept';
  /** The 101 response head, ending with the blank line: the bytes to write. */
  readonly response: string;
  /** The subprotocol agreed, '' for none. */
  readonly protocol: string;
  /** The Sec-WebSocket-Extensions value sent, '' for none. */
  readonly extensions: string;
  /** What permessage-deflate's codec needs, when it was agreed. */
  readonly deflate: DeflateParams | undefined;
}

/** The server refuses: write `response` (status, headers, body), then close. */
export interface ServerRefusal {
  readonly kind: 'refuse';
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The whole HTTP response: the bytes to write. */
  readonly response: string;
  readonly error: HandshakeError;
}

/** What the hook between the two steps may answer: with `status`, refuse; else add `headers` to the 101. */
export interface HookAnswer {
  readonly status?: number | undefined;
  readonly headers?: HeaderInit | undefined;
  readonly body?: string | undefined;
}

/**
 * A request the policy accepts, waiting for the host's hook: `finish()` makes the 101,
 * `refuse()` turns the hook's answer into a refusal.
 */
export class PendingAccept {
  readonly kind = 'pending';
  /** The subprotocol chosen, undefined for none (what the hook is told). */
  readonly protocol: string | undefined;
  readonly origin: string | undefined;
  readonly deflate: DeflateParams | undefined;
  /** Headers from the policy, for the 101. */
  readonly headers: HeaderInit | undefined;

  constructor(
    readonly offer: UpgradeOffer,
    protocol: string | undefined,
    deflate: DeflateParams | undefined,
    headers: HeaderInit | undefined,
  ) {
    this.protocol = protocol;
    this.origin = offer.origin;
    this.deflate = deflate;
    this.headers = headers;
  }

  /**
   * The 101 (RFC 6455 §4.2.2 item 5), with the policy's headers and then `extra`. Invalid
   * header names or values (a response-splitting attempt) refuse with 500 instead.
   */
  finish(extra?: HeaderInit): ServerAccept | ServerRefusal {
    const headers = extra === undefined ? this.headers : [...headerPairs(this.headers), ...headerPairs(extra)];
    let response: string;
    try {
      response = formatSwitchingProtocols(this.offer.key, this.protocol, this.deflate?.header, headers);
    } catch (err) {
      return internal(err);
    }
    return { kind: 'accept', response, protocol: this.protocol ?? '', extensions: this.deflate?.header ?? '', deflate: this.deflate };
  }

  /**
   * Answers with the hook's refusal: its status when it is 400–599, else 500; its headers
   * and body as given.
   */
  refuse(answer: HookAnswer & { readonly status: number }): ServerRefusal {
    const s = answer.status;
    const status = Number.isInteger(s) && s >= 400 && s <= 599 ? s : 500;
    return refusal(
      new HandshakeError(ErrorCode.Rejected, `refused by beforeUpgrade with ${status}`, {
        status,
        headers: headersObject(answer.headers),
        body: answer.body ?? '',
      }),
    );
  }
}

/**
 * Step one of the server's handshake: checks the request (RFC 6455 §4.2.1), the Origin
 * (§10.2), chooses a subprotocol (§4.2.2 item 5.4) and a permessage-deflate offer (RFC 7692
 * §5.1). `context` is what the policy's functions receive (default: `request`). A policy
 * function that throws, or a `protocols()` that picks a subprotocol the client did not
 * offer, refuses with 500.
 */
export function negotiate<R = RequestHead>(
  request: Pick<RequestHead, 'method' | 'httpVersion' | 'headers'>,
  policy: ServerPolicy<R>,
  context?: R,
): PendingAccept | ServerRefusal {
  const req = (context ?? request) as R;
  let offer: UpgradeOffer;
  try {
    offer = checkUpgradeRequest(request);
  } catch (err) {
    return refusal(err as HandshakeError);
  }
  try {
    // RFC 6455 §10.2: a server that serves browsers checks Origin, and answers 403 when it
    // does not accept it (§4.2.2: "a suitable HTTP error code").
    if (!originAllowed(policy.origins, offer.origin, req)) return refusal(refusalError(403, ErrorCode.ForbiddenOrigin, 'origin not allowed'));
    let protocol: string | undefined;
    if (typeof policy.protocols === 'function') {
      protocol = policy.protocols(offer.protocols, req) ?? undefined;
      // RFC 6455 §4.2.2 item 5.4: the value MUST be one the client offered; answering
      // another would make the client fail the connection (§4.1), so this is our bug: 500.
      if (protocol !== undefined && !offer.protocols.includes(protocol)) {
        throw new Error(`protocols() chose ${protocol}, which the client did not offer`);
      }
    } else if (policy.protocols) {
      protocol = selectSubprotocol(policy.protocols, offer.protocols);
    }
    if (protocol === undefined && policy.requireProtocol) {
      return refusal(refusalError(400, ErrorCode.SubprotocolRequired, 'none of the offered subprotocols is supported'));
    }
    // RFC 7692 §5.1: the first acceptable permessage-deflate offer, if we compress at all.
    const pmd = policy.perMessageDeflate;
    const deflate = pmd ? acceptDeflateOffer(offer.extensions, typeof pmd === 'object' ? pmd : {}) : undefined;
    const headers = typeof policy.headers === 'function' ? policy.headers(req) : policy.headers;
    return new PendingAccept(offer, protocol, deflate, headers);
  } catch (err) {
    return internal(err);
  }
}

/** A refusal answering `err` (its status, 400 when it has none). */
export function refusal(err: HandshakeError): ServerRefusal {
  let response: string;
  try {
    response = formatRejection(err);
  } catch (e) {
    // Headers given for the refusal that cannot be sent (CR, LF, …): 500 without them.
    return internal(e);
  }
  return { kind: 'refuse', status: err.status ?? 400, headers: err.headers, body: err.body, response, error: err };
}

/** The refusal for a failure of our own (a throwing policy function): 500, no details to the peer. */
export function internal(cause: unknown): ServerRefusal {
  const err = new HandshakeError(ErrorCode.Internal, 'internal error', { status: 500, body: 'internal error\n', cause });
  return { kind: 'refuse', status: 500, headers: err.headers, body: err.body, response: formatRejection(err), error: err };
}

function originAllowed<R>(allow: ServerPolicy<R>['origins'], origin: string | undefined, req: R): boolean {
  if (allow === undefined) return true;
  if (typeof allow === 'function') return allow(origin, req);
  if (origin === undefined) return true;
  // RFC 6454 §6.2: an origin is compared ASCII case-insensitively.
  const o = origin.toLowerCase();
  return allow.some((a) => (typeof a === 'string' ? a.toLowerCase() === o : matches(a, origin)));
}

/**
 * Whether `re` matches `s`, from the start of `s` whatever `re.lastIndex` says: a pattern
 * with the g or y flag keeps state between calls, which would alternate 101 and 403.
 */
function matches(re: RegExp, s: string): boolean {
  re.lastIndex = 0;
  const r = re.test(s);
  re.lastIndex = 0;
  return r;
}

function headersObject(h: HeaderInit | undefined): Record<string, string> {
  const o: Record<string, string> = {};
  for (const [k, v] of headerPairs(h)) o[k] = k in o ? `${o[k]}, ${v}` : v;
  return o;
}
