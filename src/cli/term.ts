// Terminal output: colours only on a TTY, never with NO_COLOR (https://no-color.org);
// FORCE_COLOR=1 turns them on where stdout is not a TTY (NO_COLOR still wins).

export interface Palette {
  readonly enabled: boolean;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  magenta(s: string): string;
}

export function colorEnabled(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  const force = env['FORCE_COLOR'];
  if (force !== undefined && force !== '' && force !== '0' && force !== 'false') return true;
  return stream.isTTY === true;
}

function sgr(on: boolean, open: number, close: number): (s: string) => string {
  return on ? (s) => `\x1b[${open}m${s}\x1b[${close}m` : (s) => s;
}

export function palette(enabled: boolean = colorEnabled()): Palette {
  return {
    enabled,
    bold: sgr(enabled, 1, 22),
    dim: sgr(enabled, 2, 22),
    red: sgr(enabled, 31, 39),
    green: sgr(enabled, 32, 39),
    yellow: sgr(enabled, 33, 39),
    cyan: sgr(enabled, 36, 39),
    magenta: sgr(enabled, 35, 39),
  };
}
