// Header grammar shared by both roles and by HTTP/1.1 and HTTP/2 handshakes: token lists
// (RFC 9110 §5.6.1), subprotocols (RFC 6455 §4.1, §11.3.4) and extensions (RFC 6455 §9.1).

/** tchar (RFC 9110 §5.6.2) as a character class: the one spelling of it. */
export const TCHAR = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]";
const TOKEN = new RegExp(`^${TCHAR}+$`);

/** token = 1*tchar (RFC 9110 §5.6.2): methods, field names, subprotocols, extension names. */
export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

/**
 * Splits a comma-separated list, trimming optional white space. Empty elements are
 * skipped: RFC 9110 §5.6.1 requires recipients to accept them.
 */
export function splitList(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = trimOws(part);
    if (t !== '') out.push(t);
  }
  return out;
}

/**
 * Removes optional white space, SP and HTAB only (RFC 9110 §5.6.3), from both ends:
 * `String.prototype.trim` would also take VT, FF and NBSP, which make a value invalid.
 */
export function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Whether the token list `values` holds `token`, compared ASCII case-insensitively. */
export function hasToken(values: readonly string[], token: string): boolean {
  const want = token.toLowerCase();
  for (const v of values) {
    // The usual field is the token alone: no list to split.
    if (v.length === want.length && v.toLowerCase() === want) return true;
    for (const t of splitList(v)) if (t.toLowerCase() === want) return true;
  }
  return false;
}

/**
 * Parses the offered subprotocols from every Sec-WebSocket-Protocol field (RFC 6455
 * §11.3.4: several fields are one list). Returns undefined when an element is not a token.
 */
export function parseSubprotocols(values: readonly string[]): string[] | undefined {
  const out: string[] = [];
  for (const v of values) {
    for (const t of splitList(v)) {
      if (!isToken(t)) return undefined;
      out.push(t);
    }
  }
  return out;
}

/** One offered or accepted extension: its name and parameters (`true` when valueless). */
export interface ExtensionOffer {
  readonly name: string;
  readonly params: ReadonlyArray<readonly [string, string | true]>;
}

/** Most extension elements or parameters parsed from one request: bounds the work on hostile input. */
const MAX_EXTENSION_ITEMS = 64;

/**
 * Parses Sec-WebSocket-Extensions values (RFC 6455 §9.1):
 * `extension = token *( ";" param )`, `param = token [ "=" ( token / quoted-string ) ]`,
 * where a quoted value must also be a token once unquoted. Linear in the input; returns
 * undefined for a malformed header or one with too many items.
 */
export function parseExtensions(values: readonly string[]): ExtensionOffer[] | undefined {
  const out: ExtensionOffer[] = [];
  let items = 0;
  for (const value of values) {
    const s = value;
    let i = 0;
    const n = s.length;
    const ows = (): void => {
      while (i < n && (s[i] === ' ' || s[i] === '\t')) i++;
    };
    const token = (): string | undefined => {
      const start = i;
      while (i < n && isTchar(s.charCodeAt(i))) i++;
      return i > start ? s.slice(start, i) : undefined;
    };
    ows();
    while (i < n) {
      if (s[i] === ',') {
        i++;
        ows();
        continue;
      }
      const name = token();
      if (name === undefined) return undefined;
      const params: Array<[string, string | true]> = [];
      ows();
      while (i < n && s[i] === ';') {
        i++;
        ows();
        const p = token();
        if (p === undefined) return undefined;
        if (++items > MAX_EXTENSION_ITEMS) return undefined;
        ows();
        let v: string | true = true;
        if (s[i] === '=') {
          i++;
          ows();
          if (s[i] === '"') {
            i++;
            let q = '';
            while (i < n && s[i] !== '"') {
              if (s[i] === '\\') i++;
              if (i < n) q += s[i++];
            }
            if (i >= n) return undefined;
            i++;
            if (!isToken(q)) return undefined;
            v = q;
          } else {
            const t = token();
            if (t === undefined) return undefined;
            v = t;
          }
          ows();
        }
        params.push([p.toLowerCase(), v]);
      }
      if (++items > MAX_EXTENSION_ITEMS) return undefined;
      out.push({ name: name.toLowerCase(), params });
      if (i < n && s[i] !== ',') return undefined;
    }
  }
  return out;
}

/** tchar by character code, for the scanner. */
const TCHARS = new Uint8Array(128);
for (let c = 0; c < 128; c++) TCHARS[c] = TOKEN.test(String.fromCharCode(c)) ? 1 : 0;

function isTchar(c: number): boolean {
  return c < 128 && TCHARS[c] === 1;
}

/** Serializes extensions for a Sec-WebSocket-Extensions header. */
export function formatExtensions(exts: readonly ExtensionOffer[]): string {
  return exts
    .map((e) => [e.name, ...e.params.map(([k, v]) => (v === true ? k : `${k}=${v}`))].join('; '))
    .join(', ');
}

/** Chooses a subprotocol by the server's preference order among those the client offered. */
export function selectSubprotocol(serverOrder: readonly string[], offered: readonly string[]): string | undefined {
  for (const p of serverOrder) if (offered.includes(p)) return p;
  return undefined;
}
