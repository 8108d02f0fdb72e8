/**
 * The CBOR bodies of the authority services (PROTOCOL.md §5.2; `ockam_api/src/authenticator/**`):
 * - AddMember = `{1: Identifier bstr32, 2: map<text, text>}`
 * - CreateToken = `{1: map<text, text>, 2: ttl_secs?, 3: ttl_count?}`
 * - AttributesEntry = `{1: map<[u8], [u8]>, 2: added_at, 3: expires_at?, 4: attested_by?}` — its
 *   keys and values are plain `Vec<u8>`, which minicbor writes as arrays of integers (§0)
 * - member list = `map<Identifier, AttributesEntry>`; member ids = `[Identifier]`.
 * Decoders are strict: integer keys at most once, unknown keys skipped, no trailing bytes.
 */
import { CborReader, CborWriter, DecodeError } from '@ockam/core';
import { identifierFromBytes, identifierToBytes } from '@ockam/identity';

export interface AddMemberRequest {
  readonly member: string;
  readonly attributes: ReadonlyMap<string, string>;
}

export interface CreateTokenRequest {
  readonly attributes: ReadonlyMap<string, string>;
  readonly ttlSeconds?: number;
  readonly ttlCount?: number;
}

/** A member as the direct authenticator lists it (Ockam's AttributesEntry). */
export interface MemberEntry {
  readonly attributes: ReadonlyMap<string, string>;
  readonly addedAt: number;
  readonly expiresAt?: number;
  readonly attestedBy?: string;
}

const utf8 = new TextEncoder();
const fatal = new TextDecoder('utf-8', { fatal: true });

function writeTextMap(w: CborWriter, m: ReadonlyMap<string, string>): void {
  // Rust's BTreeMap<String, String> writes keys in byte order.
  const entries = [...m].map(([k, v]) => [utf8.encode(k), k, v] as const);
  entries.sort((a, b) => compareBytes(a[0], b[0]));
  w.map(entries.length);
  for (const [, k, v] of entries) w.text(k).text(v);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function readTextMap(r: CborReader): Map<string, string> {
  const n = r.map();
  const m = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const k = r.text();
    if (m.has(k)) r.fail(`duplicate attribute ${JSON.stringify(k.slice(0, 40))}`);
    m.set(k, r.text());
  }
  return m;
}

/**
 * Reads a CBOR map with unsigned integer keys, each at most once: `read(key)` reads a known key's
 * value and returns true; unknown keys' values are skipped. Returns the keys seen.
 */
export function readMapFields(r: CborReader, what: string, read: (key: number) => boolean): Set<number> {
  const n = r.map();
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    if (r.peekType() !== 'uint') r.fail(`${what} keys must be unsigned integers`);
    const key = r.uint();
    if (seen.has(key)) r.fail(`duplicate ${what} key ${key}`);
    seen.add(key);
    if (!read(key)) r.skip();
  }
  return seen;
}

function readIdentifier(r: CborReader): string {
  return identifierFromBytes(r.bytesExact(32, 'identifier'));
}

function decodeWith<T>(bytes: Uint8Array, what: string, read: (r: CborReader) => T): T {
  const r = new CborReader(bytes, what);
  const v = read(r);
  r.end();
  return v;
}

export function encodeAddMember(request: AddMemberRequest): Uint8Array {
  const w = new CborWriter(128);
  w.map(2).uint(1).bytes(identifierToBytes(request.member)).uint(2);
  writeTextMap(w, request.attributes);
  return w.finish();
}

export function decodeAddMember(bytes: Uint8Array): AddMemberRequest {
  return decodeWith(bytes, 'AddMember', (r) => {
    let member: string | undefined;
    let attributes: Map<string, string> | undefined;
    readMapFields(r, 'AddMember', (key) => {
      if (key === 1) member = readIdentifier(r);
      else if (key === 2) attributes = readTextMap(r);
      else return false;
      return true;
    });
    if (member === undefined) return r.fail('AddMember is missing field 1 (member)');
    if (attributes === undefined) return r.fail('AddMember is missing field 2 (attributes)');
    return { member, attributes };
  });
}

export function encodeCreateToken(request: CreateTokenRequest): Uint8Array {
  const w = new CborWriter(128);
  w.map(1 + +(request.ttlSeconds !== undefined) + +(request.ttlCount !== undefined)).uint(1);
  writeTextMap(w, request.attributes);
  if (request.ttlSeconds !== undefined) w.uint(2).uint(request.ttlSeconds);
  if (request.ttlCount !== undefined) w.uint(3).uint(request.ttlCount);
  return w.finish();
}

export function decodeCreateToken(bytes: Uint8Array): CreateTokenRequest {
  return decodeWith(bytes, 'CreateToken', (r) => {
    let attributes: Map<string, string> | undefined;
    let ttlSeconds: number | undefined;
    let ttlCount: number | undefined;
    readMapFields(r, 'CreateToken', (key) => {
      if (key === 1) attributes = readTextMap(r);
      else if (key === 2) ttlSeconds = r.nullable() ? undefined : r.uint();
      else if (key === 3) ttlCount = r.nullable() ? undefined : r.uint();
      else return false;
      return true;
    });
    if (attributes === undefined) return r.fail('CreateToken is missing field 1 (attributes)');
    return {
      attributes,
      ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
      ...(ttlCount === undefined ? {} : { ttlCount }),
    };
  });
}

function writeByteArray(w: CborWriter, b: Uint8Array): void {
  w.array(b.length);
  for (const x of b) w.uint(x);
}

function readByteArray(r: CborReader): Uint8Array {
  const n = r.array();
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = r.uintMax(255, 'byte');
  return out;
}

function writeMemberEntry(w: CborWriter, e: MemberEntry): void {
  w.map(2 + +(e.expiresAt !== undefined) + +(e.attestedBy !== undefined)).uint(1);
  const entries = [...e.attributes].map(([k, v]) => [utf8.encode(k), utf8.encode(v)] as const);
  entries.sort((a, b) => compareBytes(a[0], b[0]));
  w.map(entries.length);
  for (const [k, v] of entries) {
    writeByteArray(w, k);
    writeByteArray(w, v);
  }
  w.uint(2).uint(e.addedAt);
  if (e.expiresAt !== undefined) w.uint(3).uint(e.expiresAt);
  if (e.attestedBy !== undefined) w.uint(4).bytes(identifierToBytes(e.attestedBy));
}

function readMemberEntry(r: CborReader): MemberEntry {
  let attributes: Map<string, string> | undefined;
  let addedAt: number | undefined;
  let expiresAt: number | undefined;
  let attestedBy: string | undefined;
  readMapFields(r, 'AttributesEntry', (key) => {
    switch (key) {
      case 1: {
        const n = r.map();
        attributes = new Map();
        for (let i = 0; i < n; i++) {
          const k = readByteArray(r);
          const v = readByteArray(r);
          try {
            attributes.set(fatal.decode(k), fatal.decode(v));
          } catch {
            // Attributes that are not text cannot be shown as text; skip them.
          }
        }
        return true;
      }
      case 2:
        addedAt = r.uint();
        return true;
      case 3:
        expiresAt = r.nullable() ? undefined : r.uint();
        return true;
      case 4:
        attestedBy = r.nullable() ? undefined : readIdentifier(r);
        return true;
      default:
        return false;
    }
  });
  if (attributes === undefined || addedAt === undefined)
    return r.fail('AttributesEntry is missing fields 1 and 2');
  return {
    attributes,
    addedAt,
    ...(expiresAt === undefined ? {} : { expiresAt }),
    ...(attestedBy === undefined ? {} : { attestedBy }),
  };
}

export function encodeMemberEntry(entry: MemberEntry): Uint8Array {
  const w = new CborWriter(128);
  writeMemberEntry(w, entry);
  return w.finish();
}

export function decodeMemberEntry(bytes: Uint8Array): MemberEntry {
  return decodeWith(bytes, 'AttributesEntry', readMemberEntry);
}

export function encodeMemberList(members: ReadonlyMap<string, MemberEntry>): Uint8Array {
  const w = new CborWriter(256);
  w.map(members.size);
  for (const [id, e] of members) {
    w.bytes(identifierToBytes(id));
    writeMemberEntry(w, e);
  }
  return w.finish();
}

export function decodeMemberList(bytes: Uint8Array): Map<string, MemberEntry> {
  return decodeWith(bytes, 'member list', (r) => {
    const n = r.map();
    const out = new Map<string, MemberEntry>();
    for (let i = 0; i < n; i++) {
      const id = readIdentifier(r);
      if (out.has(id)) r.fail(`duplicate member ${id}`);
      out.set(id, readMemberEntry(r));
    }
    return out;
  });
}

export function encodeMemberIds(ids: readonly string[]): Uint8Array {
  const w = new CborWriter(40 * ids.length + 8);
  w.array(ids.length);
  for (const id of ids) w.bytes(identifierToBytes(id));
  return w.finish();
}

export function decodeMemberIds(bytes: Uint8Array): string[] {
  return decodeWith(bytes, 'member ids', (r) => {
    const n = r.array();
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(readIdentifier(r));
    return out;
  });
}

/** Parses `--trusted-identities '{"I…": {"k": "v"}}'`; throws a DecodeError naming what is wrong. */
export function parseTrustedIdentities(json: string): Map<string, Map<string, string>> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (cause) {
    throw new DecodeError('trusted identities', `not JSON: ${(cause as Error).message}`, { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new DecodeError('trusted identities', 'expected an object of identifiers to attributes');
  const out = new Map<string, Map<string, string>>();
  for (const [id, attrs] of Object.entries(value)) {
    let identifier: string;
    try {
      identifier = identifierFromBytes(identifierToBytes(id));
    } catch (cause) {
      throw new DecodeError('trusted identities', `${JSON.stringify(id.slice(0, 80))} is not an identifier`, {
        cause,
      });
    }
    if (typeof attrs !== 'object' || attrs === null || Array.isArray(attrs))
      throw new DecodeError('trusted identities', `the attributes of ${identifier} must be an object`);
    const m = new Map<string, string>();
    for (const [k, v] of Object.entries(attrs)) {
      if (typeof v !== 'string')
        throw new DecodeError(
          'trusted identities',
          `attribute ${JSON.stringify(k)} of ${identifier} must be a string`,
        );
      m.set(k, v);
    }
    out.set(identifier, m);
  }
  return out;
}
