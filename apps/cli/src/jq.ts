/**
 * `--jq`: jq itself (jqlang's C implementation compiled to WebAssembly, the `jq-web` package), so
 * filters mean what they mean in jq's manual. It is loaded only when `--jq` is given: its module and
 * WebAssembly instance cost tens of milliseconds that no other invocation should pay.
 */
import { OckamError } from '@ockam/core';
import type { JqFilter } from './output.js';

interface JqModule {
  raw(json: string, filter: string, flags?: string[]): string | undefined;
}

/** Loads jq and returns a filter function bound to it. */
export async function loadJq(): Promise<JqFilter> {
  const jq = (await (await import('jq-web')).default) as JqModule;
  return (value, filter, compact) => {
    try {
      return jq.raw(JSON.stringify(value), filter, compact ? ['-c'] : []) ?? '';
    } catch (cause) {
      // jq-web reports "Non-zero exit code: N" followed by jq's own stderr.
      const text = String((cause as { stderr?: string }).stderr ?? (cause as Error).message ?? cause);
      const lines = text
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('Non-zero exit code'));
      const errors = lines.filter((l) => l.startsWith('jq: error'));
      const reason = (errors.length > 0 ? errors : lines).join('; ');
      throw new OckamError('application', 'invalid', `--jq '${filter}' failed: ${reason}`, { cause });
    }
  };
}
