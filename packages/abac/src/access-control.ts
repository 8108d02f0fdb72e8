/**
 * Attribute-based access controls on the router's hooks (PROTOCOL.md §1.4, §6).
 *
 * - Incoming: the subject is the peer of the secure channel that delivered the message
 *   (`message.localInfo.secureChannelIdentifier`); no channel, no access.
 * - Outgoing: the subject is the peer behind the first terminal address of the onward route (a
 *   channel's encryptor, which `@ockam/secure-channel` marks `terminal` with the attribute
 *   `IDENTITY_SECURE_CHANNEL_IDENTIFIER` = the peer's identifier); none, no access.
 *
 * The environment holds `subject.identifier`; with an authority, `subject.has_credential` (whether
 * unexpired attributes from that authority exist for the subject) and `subject.<name>` for each
 * of those attributes; with a policy resource, `resource.id` and `action.id`. Policies are read
 * from the store at every message, so a changed policy applies to the next one. Any failure —
 * no policy, a policy that does not parse or evaluate, a result other than `true` — denies.
 *
 * @example
 * ```ts
 * import { abacIncomingAccessControl, MemoryPolicyStore, Policies } from '@ockam/abac';
 * const policies = new Policies(new MemoryPolicyStore());
 * await policies.setPolicy({ resourceName: 'db' }, 'component.db');
 * node.startWorker('db', worker, {
 *   incoming: abacIncomingAccessControl({ policies, resource: { name: 'db', type: 'tcp-outlet' }, attributes, authority }),
 * });
 * ```
 */
import type {
  IncomingAccessControl,
  Logger,
  Node,
  OutgoingAccessControl,
  RelayMessage,
  Route,
} from '@ockam/core';
import { IDENTITY_SECURE_CHANNEL_IDENTIFIER, noopLogger } from '@ockam/core';
import type { AttributesLookup } from './attributes-lookup.js';
import { type Decision, decide, type Environment } from './evaluate.js';
import { type Expr, FALSE, str, TRUE } from './expr.js';
import { parsePolicyExpression } from './policy-expression.js';
import { Policies, type PolicyStore } from './policy-store.js';
import { printExpr } from './print-expr.js';
import { type Action, HANDLE_MESSAGE, type Resource } from './resource.js';

export const SUBJECT_IDENTIFIER = 'subject.identifier';
export const SUBJECT_HAS_CREDENTIAL = 'subject.has_credential';
export const RESOURCE_ID = 'resource.id';
export const ACTION_ID = 'action.id';

export interface AbacOptions {
  /** Where verified attributes are found. */
  attributes: AttributesLookup;
  /** The authority whose attributes count; without one, `subject.has_credential` is unbound. */
  authority?: string;
  /** Extra bindings (they never override the subject's). */
  environment?: Environment;
  /** Current Unix time in seconds (default: the clock). */
  now?: () => number;
  logger?: Logger;
}

/** A policy from a store, looked up for one resource at every message. */
export interface PolicyAccessControlOptions extends AbacOptions {
  policies: Policies | PolicyStore;
  resource: Resource;
  action?: Action;
}

/** A fixed expression (Ockam's `IncomingAbac`/`OutgoingAbac`). */
export interface ExpressionAccessControlOptions extends AbacOptions {
  /** An expression, or policy text (shorthand or full). */
  expression: Expr | string;
}

export type AbacAccessControlOptions = PolicyAccessControlOptions | ExpressionAccessControlOptions;

const decoder = new TextDecoder('utf-8', { fatal: true });

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The environment in which a policy is evaluated for `identifier` (see the module comment). */
export async function subjectEnvironment(
  identifier: string,
  options: AbacOptions,
): Promise<Map<string, Expr>> {
  const env = new Map<string, Expr>(options.environment ?? []);
  env.set(SUBJECT_IDENTIFIER, str(identifier));
  if (options.authority !== undefined) {
    const now = (options.now ?? nowSeconds)();
    const entry = await options.attributes.getAttributes(identifier, options.authority, now);
    if (entry === undefined || (entry.expiresAt !== undefined && entry.expiresAt <= now)) {
      env.set(SUBJECT_HAS_CREDENTIAL, FALSE);
    } else {
      env.set(SUBJECT_HAS_CREDENTIAL, TRUE);
      for (const [name, value] of entry.attributes) {
        const k = `subject.${name}`;
        // Unlike Ockam, an attribute cannot replace subject.identifier or subject.has_credential.
        if (env.has(k)) {
          options.logger?.warn('attribute ignored: its name is already bound', {
            identifier,
            attribute: name,
          });
          continue;
        }
        let text: string;
        try {
          text = decoder.decode(value);
        } catch {
          options.logger?.warn('attribute ignored: its value is not UTF-8', { identifier, attribute: name });
          continue;
        }
        env.set(k, str(text));
      }
    }
  }
  return env;
}

/** Evaluates `expression` for `identifier`; never throws (errors deny, with the reason). */
export async function authorizeIdentity(
  identifier: string,
  expression: Expr,
  options: AbacOptions,
): Promise<Decision> {
  const env = await subjectEnvironment(identifier, options);
  const decision = decide(expression, env);
  const logger = options.logger ?? noopLogger;
  if (decision.error !== undefined)
    logger.warn('policy evaluation failed; access denied', {
      identifier,
      policy: printExpr(expression),
      error: decision.error.message,
    });
  else if (decision.result.type !== 'bool')
    logger.warn('policy did not yield a boolean; access denied', {
      identifier,
      policy: printExpr(expression),
    });
  else logger.debug('policy evaluated', { identifier, allowed: decision.allowed });
  return decision;
}

/**
 * The identifier behind the first terminal address of `route` (Ockam's `find_terminal_address`);
 * undefined if there is none, if it carries no identifier, or if the route has a non-local hop.
 */
export function outgoingIdentifier(node: Pick<Node, 'metadata'>, route: Route): string | undefined {
  for (const a of route.addresses) {
    if (!a.isLocal) return undefined;
    const md = node.metadata(a);
    if (md?.terminal) return md.attributes?.[IDENTITY_SECURE_CHANNEL_IDENTIFIER];
  }
  return undefined;
}

/** The identifier of the secure channel peer that delivered a message. */
export function incomingIdentifier(relay: RelayMessage): string | undefined {
  return relay.message.localInfo.secureChannelIdentifier;
}

function policyResolver(options: AbacAccessControlOptions): () => Promise<Expr | undefined> {
  if ('expression' in options) {
    const expr =
      typeof options.expression === 'string'
        ? parsePolicyExpression(options.expression).expr
        : options.expression;
    return async () => expr;
  }
  const policies = options.policies instanceof Policies ? options.policies : new Policies(options.policies);
  const { resource } = options;
  const action = options.action ?? HANDLE_MESSAGE;
  const logger = options.logger ?? noopLogger;
  return async () => {
    try {
      const p = await policies.expressionFor(resource, action);
      if (p === undefined)
        logger.debug('no policy found; access denied', { resource: resource.name, type: resource.type });
      return p?.expr;
    } catch (e) {
      logger.warn('stored policy does not parse; access denied', {
        resource: resource.name,
        error: String(e),
      });
      return undefined;
    }
  };
}

function withResource(options: AbacAccessControlOptions): AbacOptions {
  if ('expression' in options) return options;
  const env = new Map(options.environment ?? []);
  env.set(RESOURCE_ID, str(options.resource.name));
  env.set(ACTION_ID, str(options.action ?? HANDLE_MESSAGE));
  return { ...options, environment: env };
}

function accessControl(
  options: AbacAccessControlOptions,
  identify: (relay: RelayMessage) => string | undefined,
): IncomingAccessControl & OutgoingAccessControl {
  const resolve = policyResolver(options);
  const abac = withResource(options);
  const logger = options.logger ?? noopLogger;
  return {
    async isAuthorized(relay: RelayMessage): Promise<boolean> {
      const expr = await resolve();
      if (expr === undefined) return false;
      const identifier = identify(relay);
      if (identifier === undefined) {
        logger.debug('no identifier for the subject; access denied', { to: relay.destination.value });
        return false;
      }
      return (await authorizeIdentity(identifier, expr, abac)).allowed;
    },
  };
}

/** An incoming access control: the subject is the secure channel peer that delivered the message. */
export function abacIncomingAccessControl(options: AbacAccessControlOptions): IncomingAccessControl {
  return accessControl(options, incomingIdentifier);
}

/**
 * An outgoing access control: the subject is the peer behind the first terminal address on the
 * onward route, found through `node.metadata`.
 */
export function abacOutgoingAccessControl(
  options: AbacAccessControlOptions & { node: Pick<Node, 'metadata'> },
): OutgoingAccessControl {
  const { node } = options;
  return accessControl(options, (relay) => outgoingIdentifier(node, relay.message.onwardRoute));
}
