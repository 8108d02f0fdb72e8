/**
 * Noise handshake patterns as data (Noise spec rev 34, §7.4 one-way, §7.5 interactive, §18
 * deferred patterns; §9 psk modifiers).
 *
 * A pattern is written as in the spec: optional pre-message lines, a `...` separator, then the
 * message lines. `->` is a message from the initiator, `<-` from the responder.
 *
 * @example
 * ```ts
 * import { handshakePattern } from '@ockam/secure-channel';
 * const xx = handshakePattern('XX');
 * xx.messages; // [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']]
 * handshakePattern('XXpsk3').messages[2]; // ['s', 'se', 'psk']
 * ```
 */
import { SecureChannelError } from './errors.js';

export type MessageToken = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss' | 'psk';
export type PreMessageToken = 'e' | 's';

export interface HandshakePattern {
  /** The full name, modifiers included (`XX`, `NKpsk0`, `IK1`). */
  readonly name: string;
  /** Pre-message tokens known to the responder before the handshake (the initiator's keys). */
  readonly initiatorPreMessage: readonly PreMessageToken[];
  /** Pre-message tokens known to the initiator before the handshake (the responder's keys). */
  readonly responderPreMessage: readonly PreMessageToken[];
  /** Message token lists; even indexes are sent by the initiator, odd ones by the responder. */
  readonly messages: readonly (readonly MessageToken[])[];
  /** One-way patterns (N, K, X): a single message, and all transport traffic flows initiator → responder. */
  readonly oneWay: boolean;
  /** Whether any psk modifier applies (switches `e` to also MixKey, Noise spec §9.2). */
  readonly psk: boolean;
}

// Noise spec §7.4, §7.5 and §18, transcribed verbatim.
const PATTERNS: Record<string, string> = {
  N: '<- s ... -> e, es',
  K: '-> s <- s ... -> e, es, ss',
  X: '<- s ... -> e, es, s, ss',
  NN: '-> e <- e, ee',
  NK: '<- s ... -> e, es <- e, ee',
  NX: '-> e <- e, ee, s, es',
  KN: '-> s ... -> e <- e, ee, se',
  KK: '-> s <- s ... -> e, es, ss <- e, ee, se',
  KX: '-> s ... -> e <- e, ee, se, s, es',
  XN: '-> e <- e, ee -> s, se',
  XK: '<- s ... -> e, es <- e, ee -> s, se',
  XX: '-> e <- e, ee, s, es -> s, se',
  IN: '-> e, s <- e, ee, se',
  IK: '<- s ... -> e, es, s, ss <- e, ee, se',
  IX: '-> e, s <- e, ee, se, s, es',
  NK1: '<- s ... -> e <- e, ee, es',
  NX1: '-> e <- e, ee, s -> es',
  X1N: '-> e <- e, ee -> s <- se',
  X1K: '<- s ... -> e, es <- e, ee -> s <- se',
  XK1: '<- s ... -> e <- e, ee, es -> s, se',
  X1K1: '<- s ... -> e <- e, ee, es -> s <- se',
  X1X: '-> e <- e, ee, s, es -> s <- se',
  XX1: '-> e <- e, ee, s -> es, s, se',
  X1X1: '-> e <- e, ee, s -> es, s <- se',
  K1N: '-> s ... -> e <- e, ee -> se',
  K1K: '-> s <- s ... -> e, es <- e, ee -> se',
  KK1: '-> s <- s ... -> e <- e, ee, se, es',
  K1K1: '-> s <- s ... -> e <- e, ee, es -> se',
  K1X: '-> s ... -> e <- e, ee, s, es -> se',
  KX1: '-> s ... -> e <- e, ee, se, s -> es',
  K1X1: '-> s ... -> e <- e, ee, s -> se, es',
  I1N: '-> e, s <- e, ee -> se',
  I1K: '<- s ... -> e, es, s <- e, ee -> se',
  IK1: '<- s ... -> e, s <- e, ee, se, es',
  I1K1: '<- s ... -> e, s <- e, ee, es -> se',
  I1X: '-> e, s <- e, ee, s, es -> se',
  IX1: '-> e, s <- e, ee, se, s -> es',
  I1X1: '-> e, s <- e, ee, s -> se, es',
};

const ONE_WAY = new Set(['N', 'K', 'X']);
const TOKENS = new Set<string>(['e', 's', 'ee', 'es', 'se', 'ss', 'psk']);

interface Line {
  dir: '->' | '<-';
  tokens: string[];
}

function parseLines(text: string): Line[] {
  const lines: Line[] = [];
  for (const part of text.split(/(?=->|<-)/)) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const dir = trimmed.slice(0, 2) as Line['dir'];
    const tokens = trimmed
      .slice(2)
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t !== '');
    lines.push({ dir, tokens });
  }
  return lines;
}

const cache = new Map<string, HandshakePattern>();

/** The names of the base patterns this package implements. */
export const HANDSHAKE_PATTERN_NAMES: readonly string[] = Object.freeze(Object.keys(PATTERNS));

/**
 * Looks up a pattern by name, applying psk modifiers (`psk0`, `psk2`, `psk0+psk2`; spec §9.2):
 * `pskN` with N = 0 puts a `psk` token at the start of the first message, otherwise at the end of
 * the N-th. Throws a `SecureChannelError` of kind `unsupported` for an unknown pattern or modifier
 * (fallback and hybrid modifiers are not implemented).
 */
export function handshakePattern(name: string): HandshakePattern {
  const cached = cache.get(name);
  if (cached !== undefined) return cached;
  const m = /^([NKXI1]+)((?:psk\d+)(?:\+psk\d+)*)?$/.exec(name);
  const base = m?.[1];
  const text = base === undefined ? undefined : PATTERNS[base];
  if (m === null || base === undefined || text === undefined) {
    throw new SecureChannelError(
      'unsupported',
      `Unsupported Noise handshake pattern ${JSON.stringify(name)}`,
    );
  }
  const [pre, body] = text.includes('...') ? text.split('...') : ['', text];
  const initiatorPreMessage: PreMessageToken[] = [];
  const responderPreMessage: PreMessageToken[] = [];
  for (const line of parseLines(pre ?? '')) {
    (line.dir === '->' ? initiatorPreMessage : responderPreMessage).push(
      ...(line.tokens as PreMessageToken[]),
    );
  }
  const messages = parseLines(body ?? '').map((line, i) => {
    // The spec's patterns alternate strictly, starting with the initiator.
    if ((i % 2 === 0) !== (line.dir === '->')) throw new Error(`pattern table error in ${base}`);
    for (const t of line.tokens) if (!TOKENS.has(t)) throw new Error(`pattern table error in ${base}: ${t}`);
    return line.tokens as MessageToken[];
  });
  const modifiers = m[2];
  if (modifiers !== undefined) {
    for (const modifier of modifiers.split('+')) {
      const n = Number(modifier.slice(3));
      if (n > messages.length) {
        throw new SecureChannelError(
          'unsupported',
          `Noise pattern ${name}: ${modifier} is past the last message`,
        );
      }
      if (n === 0) messages[0]!.unshift('psk');
      else messages[n - 1]!.push('psk');
    }
  }
  const pattern: HandshakePattern = Object.freeze({
    name,
    initiatorPreMessage: Object.freeze(initiatorPreMessage),
    responderPreMessage: Object.freeze(responderPreMessage),
    messages: Object.freeze(messages.map((tokens) => Object.freeze(tokens))),
    oneWay: ONE_WAY.has(base),
    psk: modifiers !== undefined,
  });
  cache.set(name, pattern);
  return pattern;
}
