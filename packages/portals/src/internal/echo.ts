/**
 * The `echo` that outlets and relay services bring when their node has none: inlet and relay
 * sessions ping `echo` beside what they reach (as Ockam's do, whose nodes always run it), so an
 * outlet or a relay service alone must be enough for a portal to stay up.
 */
import { ECHO_SERVICE, type FlowControlId, type Node, startEcho, toAddress } from '@ockam/core';

/** Outlets and relay services on each node that rely on an `echo` one of them started. */
const echoUsers = new WeakMap<Node, { users: number }>();

/**
 * Makes `echo` answer the liveness pings (PROTOCOL.md §7.4, §8) of sessions that reach an outlet or
 * a relay service through `consumerOf`: starts it if the node has none (then shared by the node's
 * outlets and relay services, and stopped with the last of them); returns the release. A node's
 * own `echo` is left as it is.
 */
export function useEcho(node: Node, consumerOf: readonly FlowControlId[]): () => Promise<void> {
  let owned = echoUsers.get(node);
  if (owned === undefined) {
    if (node.has(ECHO_SERVICE)) return async () => {};
    echoUsers.set(node, (owned = { users: 0 }));
  }
  // Started again if something stopped it while outlets still relied on it.
  if (!node.has(ECHO_SERVICE)) startEcho(node);
  owned.users++;
  const echo = toAddress(ECHO_SERVICE);
  for (const id of consumerOf)
    if (!node.flowControls.isConsumer(echo, id)) node.flowControls.addConsumer(echo, id);
  let released = false;
  const record = owned;
  return async () => {
    if (released) return;
    released = true;
    if (--record.users > 0 || echoUsers.get(node) !== record) return;
    echoUsers.delete(node);
    await node.stopWorker(ECHO_SERVICE);
  };
}
