/**
 * The tokens of the full expression language. Ockam lexes policies with the WebAssembly text
 * lexer (`wast`), so the same rules apply here (PROTOCOL.md §6):
 * - whitespace is space, tab, CR, LF; `;; …` runs to the end of the line; `(; … ;)` nests;
 * - `(`, `)`, `[`, `]` delimit;
 * - a string is `"…"` with escapes `\" \' \\ \t \n \r \u{hex} \hh` (a raw byte); control
 *   characters and bidirectional overrides are refused inside it; it must be valid UTF-8;
 * - an atom is a run of WebAssembly `idchar`s: a number, `true`/`false`, or an identifier.
 * A string glued to an atom or to another string (`a"b"`) is one "reserved" token in wast, which
 * Ockam rejects; so do we.
 */
import { describeAt, syntaxError, where } from './source.js';

export type Token =
  | { readonly kind: '(' | ')' | '[' | ']'; readonly offset: number }
  | { readonly kind: 'string'; readonly offset: number; readonly value: string }
  | { readonly kind: 'atom'; readonly offset: number; readonly text: string };

const IDCHARS = new Set(
  "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&'*+-./:<=>?@\\^_`|~",
);
const CONFUSING = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/;
const utf8Fatal = new TextDecoder('utf-8', { fatal: true });
const utf8 = new TextEncoder();

export function isIdChar(ch: string | undefined): boolean {
  return ch !== undefined && IDCHARS.has(ch);
}

export class Lexer {
  readonly #text: string;
  #pos = 0;

  constructor(text: string) {
    this.#text = text;
  }

  get offset(): number {
    return this.#pos;
  }

  /** The next token, or undefined at the end of input. */
  next(): Token | undefined {
    const text = this.#text;
    this.#skipTrivia();
    if (this.#pos >= text.length) return undefined;
    const start = this.#pos;
    const ch = text[start]!;
    switch (ch) {
      case '(':
      case ')':
      case '[':
      case ']':
        this.#pos++;
        return { kind: ch, offset: start };
      case '"': {
        const value = this.#string();
        this.#checkSeparated(start);
        return { kind: 'string', offset: start, value };
      }
    }
    if (isIdChar(ch)) {
      let end = start;
      while (isIdChar(text[end])) end++;
      this.#pos = end;
      this.#checkSeparated(start);
      return { kind: 'atom', offset: start, text: text.slice(start, end) };
    }
    throw syntaxError(text, start, (at) => `unexpected character ${describeAt(text, start)} at ${at}`);
  }

  #checkSeparated(start: number): void {
    const next = this.#text[this.#pos];
    if (next === '"' || isIdChar(next)) {
      const text = this.#text;
      const pos = this.#pos;
      throw syntaxError(
        text,
        pos,
        (at) =>
          `expected whitespace or a delimiter at ${at}, found ${describeAt(text, pos)} (a token starting at ${where(text, start)} runs into the next one)`,
      );
    }
  }

  #skipTrivia(): void {
    const text = this.#text;
    for (;;) {
      const ch = text[this.#pos];
      if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') this.#pos++;
      else if (ch === ';' && text[this.#pos + 1] === ';') {
        const nl = text.indexOf('\n', this.#pos);
        const end = nl < 0 ? text.length : nl;
        this.#checkConfusing(this.#pos, end, 'a comment');
        this.#pos = end;
      } else if (ch === '(' && text[this.#pos + 1] === ';') this.#blockComment();
      else return;
    }
  }

  #blockComment(): void {
    const text = this.#text;
    const start = this.#pos;
    let depth = 0;
    let i = start;
    while (i < text.length) {
      if (text[i] === '(' && text[i + 1] === ';') {
        depth++;
        i += 2;
      } else if (text[i] === ';' && text[i + 1] === ')') {
        depth--;
        i += 2;
        if (depth === 0) {
          this.#checkConfusing(start, i, 'a comment');
          this.#pos = i;
          return;
        }
      } else i++;
    }
    throw syntaxError(
      text,
      text.length,
      (at) =>
        `expected ';)' at ${at}, found end of input (the block comment opened at ${where(text, start)} is not closed)`,
    );
  }

  #checkConfusing(from: number, to: number, where: string): void {
    const m = CONFUSING.exec(this.#text.slice(from, to));
    if (m) {
      const at = from + m.index;
      throw syntaxError(
        this.#text,
        at,
        (w) => `invalid character U+${m[0].codePointAt(0)!.toString(16).toUpperCase()} in ${where} at ${w}`,
      );
    }
  }

  /** Reads a string literal starting at the opening quote; returns its value. */
  #string(): string {
    const text = this.#text;
    const start = this.#pos;
    let i = start + 1;
    const bytes: number[] = [];
    let plain = true;
    let segmentStart = i;
    const flushSegment = (end: number) => {
      for (const b of utf8.encode(text.slice(segmentStart, end))) bytes.push(b);
    };
    for (;;) {
      if (i >= text.length)
        throw syntaxError(
          text,
          i,
          (at) =>
            `expected '"' at ${at}, found end of input (the string opened at ${where(text, start)} is not closed)`,
        );
      const cp = text.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      if (ch === '"') break;
      if (ch === '\\') {
        if (plain) plain = false;
        flushSegment(i);
        const esc = text[i + 1];
        const escAt = i;
        i += 2;
        switch (esc) {
          case '"':
            bytes.push(0x22);
            break;
          case "'":
            bytes.push(0x27);
            break;
          case '\\':
            bytes.push(0x5c);
            break;
          case 't':
            bytes.push(0x09);
            break;
          case 'n':
            bytes.push(0x0a);
            break;
          case 'r':
            bytes.push(0x0d);
            break;
          case 'u': {
            if (text[i] !== '{')
              throw syntaxError(text, i, (at) => `expected '{' at ${at}, found ${describeAt(text, i)}`);
            i++;
            const m = /^[0-9a-fA-F](?:_?[0-9a-fA-F])*/.exec(text.slice(i, i + 64));
            if (!m)
              throw syntaxError(
                text,
                i,
                (at) => `expected a hexadecimal digit at ${at}, found ${describeAt(text, i)}`,
              );
            const n = Number.parseInt(m[0].replaceAll('_', ''), 16);
            i += m[0].length;
            if (text[i] !== '}')
              throw syntaxError(text, i, (at) => `expected '}' at ${at}, found ${describeAt(text, i)}`);
            i++;
            if (!(n <= 0x10ffff) || (n >= 0xd800 && n <= 0xdfff))
              throw syntaxError(text, escAt, (at) => `invalid Unicode scalar value in escape at ${at}`);
            for (const b of utf8.encode(String.fromCodePoint(n))) bytes.push(b);
            break;
          }
          default: {
            const h2 = text[i];
            if (esc !== undefined && /[0-9a-fA-F]/.test(esc)) {
              if (h2 === undefined || !/[0-9a-fA-F]/.test(h2))
                throw syntaxError(
                  text,
                  i,
                  (at) => `expected a hexadecimal digit at ${at}, found ${describeAt(text, i)}`,
                );
              bytes.push(Number.parseInt(esc + h2, 16));
              i++;
              break;
            }
            if (esc === undefined)
              throw syntaxError(
                text,
                escAt + 1,
                (at) => `expected an escape character at ${at}, found end of input`,
              );
            throw syntaxError(
              text,
              escAt,
              (at) => `invalid escape '\\${String.fromCodePoint(text.codePointAt(escAt + 1)!)}' at ${at}`,
            );
          }
        }
        segmentStart = i;
        continue;
      }
      if (cp < 0x20 || cp === 0x7f || CONFUSING.test(ch))
        throw syntaxError(
          text,
          i,
          (at) =>
            `invalid character U+${cp.toString(16).toUpperCase().padStart(4, '0')} in a string at ${at}`,
        );
      if (cp >= 0xd800 && cp <= 0xdfff)
        throw syntaxError(text, i, (at) => `unpaired surrogate in a string at ${at}`);
      i += ch.length;
    }
    const end = i;
    this.#pos = end + 1;
    if (plain) return text.slice(start + 1, end);
    flushSegment(end);
    try {
      return utf8Fatal.decode(new Uint8Array(bytes));
    } catch {
      throw syntaxError(
        text,
        start,
        (at) => `the string at ${at} is not valid UTF-8 once its escapes are applied`,
      );
    }
  }
}
