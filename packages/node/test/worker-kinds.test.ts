import { describe, expect, it } from 'vitest';
import { WorkerMessageTotals, workerKind } from '../src/worker-kinds.js';

describe('worker kinds in metrics', () => {
  it('names workers by kind, never by random address', () => {
    const hex = '0123456789abcdef0123456789abcdef';
    expect(workerKind(hex)).toBe('secure_channel');
    expect(workerKind(`tcp_sender_${hex}`)).toBe('tcp_sender');
    expect(workerKind(`outlet_portal_${hex}`)).toBe('outlet_portal');
    expect(workerKind('forward_to_postgres')).toBe('relay');
    expect(workerKind(`forward_to_${hex}`)).toBe('relay');
    expect(workerKind('echo')).toBe('echo');
  });

  it('keeps per-kind counters from going down when workers stop or come back', () => {
    const totals = new WorkerMessageTotals();
    const a = `tcp_sender_${'a'.repeat(32)}`;
    const b = `tcp_sender_${'b'.repeat(32)}`;
    expect(
      totals
        .read([
          { address: a, messages: 3 },
          { address: 'echo', messages: 1 },
        ])
        .get('tcp_sender'),
    ).toBe(3);
    expect(totals.read([{ address: b, messages: 2 }]).get('tcp_sender')).toBe(5);
    // A new worker at a known address starts from zero again.
    expect(totals.read([{ address: b, messages: 1 }]).get('tcp_sender')).toBe(6);
    expect(totals.read([]).get('echo')).toBe(1);
  });
});
