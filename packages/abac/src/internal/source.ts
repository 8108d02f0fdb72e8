import { AbacError, type SourcePosition } from '../abac-error.js';

/** Line and column (1-based, in code points) of a UTF-16 offset. */
export function positionAt(text: string, offset: number): SourcePosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  let column = 1;
  for (let i = lineStart; i < offset && i < text.length; i++) {
    const c = text.charCodeAt(i);
    // The second half of a surrogate pair does not start a column.
    if (!(c >= 0xdc00 && c <= 0xdfff && i > lineStart && isHighSurrogate(text.charCodeAt(i - 1)))) column++;
  }
  return { offset, line, column };
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

/** How a character (or the end) is named in error messages. */
export function describeAt(text: string, offset: number): string {
  if (offset >= text.length) return 'end of input';
  const cp = text.codePointAt(offset)!;
  const ch = String.fromCodePoint(cp);
  if (cp < 0x20 || cp === 0x7f) return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  return `'${ch}'`;
}

/** `line:column` of an offset, for messages. */
export function where(text: string, offset: number): string {
  const p = positionAt(text, offset);
  return `${p.line}:${p.column}`;
}

/** A syntax error at `offset`: the message ends with ` at line:column` unless `where` says otherwise. */
export function syntaxError(text: string, offset: number, message: (where: string) => string): AbacError {
  const position = positionAt(text, offset);
  return new AbacError('syntax', message(`${position.line}:${position.column}`), { position });
}
