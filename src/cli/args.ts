// Argument handling shared by the commands: usage errors exit 2 with a message on stderr.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import fs from 'node:fs';
import { splitRequestHeaders } from '../protocol/index.js';

/** Exit codes shared by every command. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A usage error: printed on stderr, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Prints `ws13: message` on stderr and exits with `code`. */
export function die(message: string, code: number): never {
  process.stderr.write(`ws13: ${message}\n`);
  process.exit(code);
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs, with errors turned into UsageErrors that name the command's help. */
export type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

export function parse<O extends Options>(command: string, args: string[], options: O, allowPositionals = false): Parsed<O> {
  try {
    return parseArgs({ args, options, allowPositionals: allowPositionals as true, strict: true });
  } catch (err) {
    // Node's own text for an unknown option ends on an unbalanced quote: say it plainly.
    const e = err as Error & { code?: string };
    const unknown = /^Unknown option '([^']+)'/.exec(e.message);
    const message = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown ? `unknown option ${unknown[1]}` : e.message;
    throw new UsageError(`${message}\nRun 'ws13 ${command} --help' for the options.`);
  }
}

/** A comma-separated list (repeatable options joined), or undefined. */
export function list(v: string | string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const all = (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(','));
  return all.map((s) => s.trim()).filter(Boolean);
}

/** A whole number within bounds, or a UsageError naming the option. */
export function int(name: string, v: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`invalid ${name}: ${JSON.stringify(v)} (a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''})`);
  }
  return n;
}

/**
 * A WebSocket URL from the command line: the scheme may be left out (`localhost:8080/chat`
 * means `ws://localhost:8080/chat`), and `note` is told so; http(s) map to ws(s).
 * @throws UsageError for anything that is not a ws, wss, http or https URL
 */
export function wsUrl(input: string, note: (s: string) => void = () => {}): URL {
  let text = input;
  // A scheme is letters then "://"; "localhost:8080" would otherwise parse as scheme "localhost:".
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    text = `ws://${text}`;
    note(`no scheme given: using ${text}`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`invalid URL: ${input}`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new UsageError(`the URL must be ws://, wss://, http:// or https://, not ${url.protocol}//`);
  if (url.hash) throw new UsageError('a WebSocket URL has no #fragment');
  return url;
}

/** Parses repeated `Name: value` header options. */
export function headers(values: string[] | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const h of values ?? []) {
    const i = h.indexOf(':');
    const name = i > 0 ? h.slice(0, i).trim() : '';
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) throw new UsageError(`invalid header ${JSON.stringify(h)}: expected 'Name: value'`);
    const value = h.slice(i + 1).trim();
    if (/[\r\n\0]/.test(value)) throw new UsageError(`invalid header value in ${JSON.stringify(h)}`);
    out.push([name, value]);
  }
  // The handshake's own headers are refused here as the library refuses them.
  try {
    splitRequestHeaders(out);
  } catch (err) {
    throw new UsageError(`${(err as Error).message}; Host, Origin, Authorization, Cookie, User-Agent and others may be set`);
  }
  return out;
}

/** Reads a file an option names (a PEM certificate or key), or says why it cannot as a usage error. */
export function readPem(option: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return fs.readFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read ${option} ${path}: ${(err as Error).message}`);
  }
}

/** Reads a --ca file (PEM). */
export function readCa(path: string | undefined): Buffer | undefined {
  return readPem('--ca', path);
}
