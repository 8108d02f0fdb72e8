/**
 * Resolves after timers and I/O had a turn. Work a peer can queue up (msg1 after msg1, forged
 * frame after forged frame) runs through promises that are already settled, which never let the
 * event loop in; awaiting this between two such items does.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) =>
    typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0),
  );
}
