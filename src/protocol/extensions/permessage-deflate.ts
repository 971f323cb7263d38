// permessage-deflate (RFC 7692): negotiation for both roles, and the codec interface the
// connection drives. The codec itself is the host's (node:zlib in src/node/deflate.ts).
import { CloseCode } from '../constants.js';
import { ErrorCode, LimitError } from '../errors.js';
import type { ExtensionOffer } from '../handshake/negotiate.js';

export const PMD = 'permessage-deflate';

/** Options of permessage-deflate, for either role (see docs/API.md). */
export interface PerMessageDeflateOptions {
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  /** 8–15. */
  serverMaxWindowBits?: number;
  /** 8–15; client: true offers it without a value (the default), false not at all. */
  clientMaxWindowBits?: number | boolean;
  /**
   * zlib compression level, 0–9. Unset (the default): ws13's own encoder for whole messages
   * up to 64 KiB without context takeover, zlib at level 1 for the rest.
   */
  level?: number;
  /** zlib memory level, 1–9 (default 8). */
  memLevel?: number;
  /** Messages under this many bytes are sent uncompressed (default 1024). */
  threshold?: number;
}

/** Messages under this many bytes are sent uncompressed unless `threshold` says otherwise. */
export const DEFAULT_DEFLATE_THRESHOLD = 1024;

/** What was agreed, from this endpoint's point of view. */
export interface DeflateParams {
  /** Our compressor must drop its context after each message. */
  readonly localNoContextTakeover: boolean;
  /** The peer drops its context: our decompressor may too. */
  readonly remoteNoContextTakeover: boolean;
  /** Largest window our compressor may use (8–15). */
  readonly localMaxWindowBits: number;
  /** Largest window the peer's compressor uses (8–15). */
  readonly remoteMaxWindowBits: number;
  /** The header value that states the agreement. */
  readonly header: string;
}

/** The parsed parameters of one offer or answer; undefined when malformed (RFC 7692 §7). */
interface Parsed {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** true: present without a value. */
  clientMaxWindowBits: number | true | undefined;
}

function windowBits(v: string | true): number | undefined {
  // RFC 7692 §7.1.2: 1*DIGIT in 8..15, no leading zero.
  if (v === true || !/^[1-9][0-9]?$/.test(v)) return undefined;
  const n = Number(v);
  return n >= 8 && n <= 15 ? n : undefined;
}

/**
 * Parses the parameters of one permessage-deflate element. Unknown, duplicate or invalid
 * parameters make it undefined (RFC 7692 §7: decline the offer, or fail on an answer).
 * `answer` true: client_max_window_bits needs a value (§7.1.2.2).
 */
function parseParams(params: ExtensionOffer['params'], answer: boolean): Parsed | undefined {
  const p: Parsed = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (seen.has(name)) return undefined;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
        if (value !== true) return undefined;
        p.serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        if (value !== true) return undefined;
        p.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits': {
        // §7.1.2.1: always with a value.
        const n = windowBits(value);
        if (n === undefined) return undefined;
        p.serverMaxWindowBits = n;
        break;
      }
      case 'client_max_window_bits': {
        if (value === true) {
          if (answer) return undefined;
          p.clientMaxWindowBits = true;
        } else {
          const n = windowBits(value);
          if (n === undefined) return undefined;
          p.clientMaxWindowBits = n;
        }
        break;
      }
      default:
        return undefined;
    }
  }
  return p;
}

function format(p: Parsed): string {
  let s = PMD;
  if (p.serverNoContextTakeover) s += '; server_no_context_takeover';
  if (p.clientNoContextTakeover) s += '; client_no_context_takeover';
  if (p.serverMaxWindowBits !== undefined) s += `; server_max_window_bits=${p.serverMaxWindowBits}`;
  if (p.clientMaxWindowBits !== undefined) {
    s += p.clientMaxWindowBits === true ? '; client_max_window_bits' : `; client_max_window_bits=${p.clientMaxWindowBits}`;
  }
  return s;
}

/**
 * Server: takes the first permessage-deflate offer it can accept (RFC 7692 §5.1) and
 * returns the agreement, or undefined to decline them all.
 */
export function acceptDeflateOffer(offers: readonly ExtensionOffer[], opts: PerMessageDeflateOptions): DeflateParams | undefined {
  const ourServerBits = opts.serverMaxWindowBits ?? 15;
  const ourClientBits = typeof opts.clientMaxWindowBits === 'number' ? opts.clientMaxWindowBits : 15;
  for (const offer of offers) {
    if (offer.name !== PMD) continue;
    const o = parseParams(offer.params, false);
    if (!o) continue;
    const answer: Parsed = {
      // §7.1.1.1: must be echoed when offered; may be added (our default, to share a compressor).
      serverNoContextTakeover: o.serverNoContextTakeover || (opts.serverNoContextTakeover ?? true),
      // §7.1.1.2: the server may ask for it whether or not it was offered.
      clientNoContextTakeover: o.clientNoContextTakeover || (opts.clientNoContextTakeover ?? true),
      serverMaxWindowBits: undefined,
      clientMaxWindowBits: undefined,
    };
    // §7.1.2.1: answer with the offered value or smaller; we may state a limit unasked.
    const serverBits = Math.min(o.serverMaxWindowBits ?? 15, ourServerBits);
    if (o.serverMaxWindowBits !== undefined || serverBits < 15) answer.serverMaxWindowBits = serverBits;
    // §7.1.2.2: only when offered; a value no larger than the offered one.
    let clientBits = 15;
    if (o.clientMaxWindowBits !== undefined) {
      clientBits = Math.min(o.clientMaxWindowBits === true ? 15 : o.clientMaxWindowBits, ourClientBits);
      if (clientBits < 15 || o.clientMaxWindowBits !== true) answer.clientMaxWindowBits = clientBits;
    }
    return {
      localNoContextTakeover: answer.serverNoContextTakeover,
      remoteNoContextTakeover: answer.clientNoContextTakeover,
      localMaxWindowBits: serverBits,
      remoteMaxWindowBits: clientBits,
      header: format(answer),
    };
  }
  return undefined;
}

/** What the client offers for client_max_window_bits: a value, true (no value), or nothing. */
function offeredClientBits(opts: PerMessageDeflateOptions): number | true | undefined {
  const v = opts.clientMaxWindowBits ?? true;
  return v === false ? undefined : v;
}

/** Client: the Sec-WebSocket-Extensions offer (default: as browsers send it). */
export function formatDeflateOffer(opts: PerMessageDeflateOptions): string {
  return format({
    serverNoContextTakeover: opts.serverNoContextTakeover ?? false,
    clientNoContextTakeover: opts.clientNoContextTakeover ?? false,
    serverMaxWindowBits: opts.serverMaxWindowBits,
    clientMaxWindowBits: offeredClientBits(opts),
  });
}

/**
 * Client: checks the server's answer against our offer (RFC 7692 §7.1). Returns the
 * agreement, or a reason to fail the connection.
 */
export function checkDeflateAnswer(
  answers: readonly ExtensionOffer[],
  opts: PerMessageDeflateOptions,
): DeflateParams | string | undefined {
  const ours = answers.filter((a) => a.name === PMD);
  if (ours.length === 0) return undefined;
  if (ours.length > 1) return 'permessage-deflate answered twice';
  const a = parseParams(ours[0]!.params, true);
  if (!a) return 'invalid permessage-deflate parameters in the answer';
  const offeredBits = offeredClientBits(opts);
  // §7.1.2.2: client_max_window_bits only if we offered it, and no larger than offered.
  if (a.clientMaxWindowBits !== undefined) {
    if (offeredBits === undefined) return 'client_max_window_bits was not offered';
    if (offeredBits !== true && (a.clientMaxWindowBits as number) > offeredBits) {
      return 'client_max_window_bits larger than offered';
    }
  }
  // §7.1.2.1: server_max_window_bits no larger than offered.
  if (opts.serverMaxWindowBits !== undefined) {
    if (a.serverMaxWindowBits === undefined || a.serverMaxWindowBits > opts.serverMaxWindowBits) {
      return 'server_max_window_bits does not fit the offer';
    }
  }
  // §7.1.1.1: a server accepting server_no_context_takeover must say so.
  if (opts.serverNoContextTakeover && !a.serverNoContextTakeover) return 'server_no_context_takeover not confirmed';
  return {
    localNoContextTakeover: a.clientNoContextTakeover || (opts.clientNoContextTakeover ?? false),
    remoteNoContextTakeover: a.serverNoContextTakeover,
    localMaxWindowBits: (a.clientMaxWindowBits as number | undefined) ?? (typeof offeredBits === 'number' ? offeredBits : 15),
    remoteMaxWindowBits: a.serverMaxWindowBits ?? 15,
    header: format(a),
  };
}

/** Called by a codec when its work is done: synchronously or later. */
export type CodecCallback = (err: Error | null, out: Uint8Array[]) => void;

/**
 * A stateful, possibly asynchronous permessage-deflate codec for one connection. Callbacks
 * may run synchronously; calls never overlap (the connection waits for each callback).
 */
export interface DeflateCodec {
  /**
   * Inflates `data`, one piece of a compressed message; with `fin`, the last (the codec
   * appends 00 00 ff ff, RFC 7692 §7.2.2). Fails once the output passes `limit` bytes,
   * without producing more than that (a decompression bomb stops early).
   */
  decompress(data: Uint8Array, fin: boolean, limit: number, done: CodecCallback): void;
  /**
   * Deflates a message, or with `fin` false one fragment of it (more follow, in order).
   * The message's last output loses its trailing 00 00 ff ff (RFC 7692 §7.2.1).
   */
  compress(data: Uint8Array, fin: boolean, done: CodecCallback): void;
  /** False when this codec sends everything uncompressed (e.g. an 8-bit window zlib refuses). */
  readonly canCompress?: boolean;
  /** Releases what the codec holds. */
  close(): void;
}

/**
 * Error from `decompress` when the output passed the limit (the connection closes 1009): a
 * `LimitError` with code WS_ERR_MESSAGE_TOO_BIG. A codec may fail with any LimitError.
 */
export class InflateLimitError extends LimitError {
  override name = 'InflateLimitError';
  constructor(message: string) {
    super(ErrorCode.MessageTooBig, message, { closeCode: CloseCode.MessageTooBig });
  }
}
