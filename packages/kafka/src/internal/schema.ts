/**
 * A table-driven codec for Kafka messages, after Kafka's own message definitions
 * (clients/src/main/resources/common/message/*.json): each field has a type and the versions it
 * exists in; versions at or above `flexible` use compact strings/arrays/bytes and end every
 * struct with tagged fields (KIP-482).
 *
 * Tagged fields are kept as raw bytes and written back unchanged: this proxy never needs them,
 * and a decode → encode round trip of any message must give back the same bytes. Every string,
 * bytes and array value may be null (written back as null): Kafka's nullability rules are the
 * sender's business, not this proxy's.
 */
import type { Reader, Writer } from './wire.js';

export type Scalar = 'int8' | 'int16' | 'int32' | 'int64' | 'uuid' | 'bool' | 'float64' | 'string' | 'bytes';
export type FieldType = Scalar | { array: Scalar | Field[] };

export interface Field {
  readonly name: string;
  readonly type: FieldType;
  readonly min: number;
  readonly max: number;
}

export interface MessageSchema {
  readonly name: string;
  readonly fields: readonly Field[];
  /** First flexible version (KIP-482), or Infinity. */
  readonly flexible: number;
}

/** A raw tagged field, kept as it came. */
export interface TaggedField {
  tag: number;
  data: Uint8Array;
}

export type Struct = { [name: string]: unknown; _tagged?: TaggedField[] };

/** `f('Host', 'string', '0-3')`; versions as Kafka writes them: `3+`, `0-3`, `5`. */
export function f(name: string, type: FieldType, versions = '0+'): Field {
  const m = /^(\d+)(\+|-(\d+))?$/.exec(versions);
  if (!m) throw new TypeError(`bad versions ${versions}`);
  const min = Number(m[1]);
  const max = m[2] === '+' ? Number.POSITIVE_INFINITY : m[3] !== undefined ? Number(m[3]) : min;
  return { name, type, min, max };
}

function scalarMinSize(t: Scalar): number {
  switch (t) {
    case 'int8':
    case 'bool':
      return 1;
    case 'int16':
      return 2;
    case 'int32':
      return 4;
    case 'int64':
    case 'float64':
      return 8;
    case 'uuid':
      return 16;
    case 'string':
    case 'bytes':
      return 1;
  }
}

function readLength(r: Reader, flexible: boolean, wide: boolean): number | null {
  if (flexible) {
    const n = r.uvarint();
    return n === 0 ? null : n - 1;
  }
  const n = wide ? r.int32() : r.int16();
  if (n === -1) return null;
  if (n < 0) r.fail(`negative length ${n}`);
  return n;
}

function readScalar(r: Reader, t: Scalar, flexible: boolean): unknown {
  switch (t) {
    case 'int8':
      return r.int8();
    case 'bool':
      return r.int8() !== 0;
    case 'int16':
      return r.int16();
    case 'int32':
      return r.int32();
    case 'int64':
      return r.int64();
    case 'float64':
      return r.float64();
    case 'uuid':
      return r.bytes(16);
    case 'string': {
      const n = readLength(r, flexible, false);
      return n === null ? null : decoder.decode(r.bytes(r.count(n, 1)));
    }
    case 'bytes': {
      const n = readLength(r, flexible, true);
      return n === null ? null : r.bytes(r.count(n, 1));
    }
  }
}

function writeLength(w: Writer, n: number | null, flexible: boolean, wide: boolean): void {
  if (flexible) w.uvarint(n === null ? 0 : n + 1);
  else if (wide) w.int32(n === null ? -1 : n);
  else w.int16(n === null ? -1 : n);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function writeScalar(w: Writer, t: Scalar, v: unknown, flexible: boolean): void {
  switch (t) {
    case 'int8':
      w.int8((v as number | undefined) ?? 0);
      return;
    case 'bool':
      w.int8(v ? 1 : 0);
      return;
    case 'int16':
      w.int16((v as number | undefined) ?? 0);
      return;
    case 'int32':
      w.int32((v as number | undefined) ?? 0);
      return;
    case 'int64':
      w.int64((v as bigint | undefined) ?? 0n);
      return;
    case 'float64':
      w.float64((v as number | undefined) ?? 0);
      return;
    case 'uuid':
      w.bytes((v as Uint8Array | undefined) ?? new Uint8Array(16));
      return;
    case 'string': {
      if (v === null) {
        writeLength(w, null, flexible, false);
        return;
      }
      const b = encoder.encode((v as string | undefined) ?? '');
      writeLength(w, b.length, flexible, false);
      w.bytes(b);
      return;
    }
    case 'bytes': {
      if (v === null) {
        writeLength(w, null, flexible, true);
        return;
      }
      const b = (v as Uint8Array | undefined) ?? new Uint8Array(0);
      writeLength(w, b.length, flexible, true);
      w.bytes(b);
      return;
    }
  }
}

export function readTagged(r: Reader): TaggedField[] {
  const n = r.count(r.uvarint(), 2);
  const out: TaggedField[] = [];
  for (let i = 0; i < n; i++) {
    const tag = r.uvarint();
    const size = r.count(r.uvarint(), 1);
    out.push({ tag, data: r.bytes(size) });
  }
  return out;
}

export function writeTagged(w: Writer, tagged: readonly TaggedField[] | undefined): void {
  const list = tagged ?? [];
  w.uvarint(list.length);
  for (const t of list) {
    w.uvarint(t.tag);
    w.uvarint(t.data.length);
    w.bytes(t.data);
  }
}

export function readStruct(r: Reader, fields: readonly Field[], version: number, flexible: boolean): Struct {
  const out: Struct = {};
  for (const field of fields) {
    if (version < field.min || version > field.max) continue;
    const t = field.type;
    if (typeof t === 'string') {
      out[field.name] = readScalar(r, t, flexible);
      continue;
    }
    const n = readLength(r, flexible, true);
    if (n === null) {
      out[field.name] = null;
      continue;
    }
    const of = t.array;
    const items: unknown[] = [];
    if (typeof of === 'string') {
      r.count(n, scalarMinSize(of));
      for (let i = 0; i < n; i++) items.push(readScalar(r, of, flexible));
    } else {
      r.count(n, 1);
      for (let i = 0; i < n; i++) items.push(readStruct(r, of, version, flexible));
    }
    out[field.name] = items;
  }
  if (flexible) out._tagged = readTagged(r);
  return out;
}

export function writeStruct(
  w: Writer,
  fields: readonly Field[],
  value: Struct,
  version: number,
  flexible: boolean,
): void {
  for (const field of fields) {
    if (version < field.min || version > field.max) continue;
    const t = field.type;
    const v = value[field.name];
    if (typeof t === 'string') {
      writeScalar(w, t, v, flexible);
      continue;
    }
    if (v === null) {
      writeLength(w, null, flexible, true);
      continue;
    }
    const items = (v as unknown[] | undefined) ?? [];
    writeLength(w, items.length, flexible, true);
    const of = t.array;
    for (const item of items) {
      if (typeof of === 'string') writeScalar(w, of, item, flexible);
      else writeStruct(w, of, item as Struct, version, flexible);
    }
  }
  if (flexible) writeTagged(w, value._tagged);
}

export function decodeMessage(r: Reader, schema: MessageSchema, version: number): Struct {
  const value = readStruct(r, schema.fields, version, version >= schema.flexible);
  if (r.remaining !== 0) r.fail(`${r.remaining} trailing bytes after ${schema.name} v${version}`);
  return value;
}

export function encodeMessage(w: Writer, schema: MessageSchema, value: Struct, version: number): void {
  writeStruct(w, schema.fields, value, version, version >= schema.flexible);
}
