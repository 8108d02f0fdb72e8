import { OckamError } from '@ockam/core';
import type { CliContext } from '../context.js';

/** What a `delete [NAME] [--all]` command deletes: `identity`/`identities`, `vault`/`vaults`… */
export interface DeletedKind {
  singular: string;
  plural: string;
  /** The names that exist now. */
  names: string[];
  /** Deletes one; throws why it cannot. */
  remove(name: string): void;
}

/**
 * `ockam identity delete` and `ockam vault delete`, as Ockam's: NAME deletes that one; --all deletes
 * each it can and warns about the others; with nothing to delete it succeeds and prints `[]` when
 * piped. Without NAME or --all it refuses (Ockam asks on a terminal; we never guess what to delete).
 */
export function deleteNamedOrAll(
  ctx: CliContext,
  kind: DeletedKind,
  name: string | undefined,
  all: boolean | undefined,
): void {
  const { singular, plural } = kind;
  if (name === undefined && kind.names.length === 0) {
    ctx.out.result(`There are no ${plural} to delete`, [], '[]');
    return;
  }
  if (name !== undefined && all)
    throw new OckamError('application', 'invalid', `Give a ${singular} NAME or --all, not both`);
  if (name === undefined && !all)
    throw new OckamError('application', 'invalid', `Give the NAME of the ${singular} to delete, or --all`);
  const deleted: string[] = [];
  for (const n of name !== undefined ? [name] : kind.names) {
    if (name !== undefined) {
      kind.remove(n);
    } else {
      try {
        kind.remove(n);
      } catch (e) {
        ctx.out.warn(`Failed to delete ${singular} ${n}: ${(e as Error).message}`);
        continue;
      }
    }
    deleted.push(n);
  }
  const capital = `${singular[0]!.toUpperCase()}${singular.slice(1)}`;
  ctx.out.result(
    deleted.length === 0
      ? `No ${singular} was deleted`
      : deleted.map((n) => `${capital} ${n} deleted`).join('\n'),
    { deleted },
    deleted.join('\n'),
  );
}
