/**
 * Policy storage (PROTOCOL.md §6): one expression per resource name and action, and one per
 * resource type and action, kept as the TEXT of a full expression (as Ockam's `resource_policy`
 * and `resource_type_policy` tables do). `Policies` adds parsing, the lookup order
 * (resource name → resource type → none, which denies) and the default type policies.
 *
 * @example
 * ```ts
 * import { MemoryPolicyStore, Policies } from '@ockam/abac';
 * const policies = new Policies(new MemoryPolicyStore());
 * await policies.setPolicy({ resourceName: 'db-outlet' }, 'component.db');
 * await policies.storeDefaultResourceTypePolicies();
 * (await policies.expressionFor({ name: 'db-outlet', type: 'tcp-outlet' })).text;
 * // (= subject.component.db "true")
 * ```
 */
import type { Awaitable } from '@ockam/core';
import type { Expr } from './expr.js';
import { parseExpr } from './parse-expr.js';
import { type PolicyExpression, parsePolicyExpression } from './policy-expression.js';
import { printExpr } from './print-expr.js';
import {
  type Action,
  ALL_RESOURCE_TYPES,
  HANDLE_MESSAGE,
  type Resource,
  type ResourceType,
} from './resource.js';

export interface ResourcePolicy {
  readonly resourceName: string;
  readonly action: Action;
  /** The text of a full expression. */
  readonly expression: string;
}

export interface ResourceTypePolicy {
  readonly resourceType: ResourceType;
  readonly action: Action;
  readonly expression: string;
}

/** Storage of policy texts; implementations may be synchronous or asynchronous. */
export interface PolicyStore {
  getResourcePolicy(resourceName: string, action: Action): Awaitable<ResourcePolicy | undefined>;
  setResourcePolicy(resourceName: string, action: Action, expression: string): Awaitable<void>;
  /** Returns whether a policy was deleted. */
  deleteResourcePolicy(resourceName: string, action: Action): Awaitable<boolean>;
  /** Every resource policy, or those of one resource. */
  listResourcePolicies(resourceName?: string): Awaitable<ResourcePolicy[]>;
  getResourceTypePolicy(
    resourceType: ResourceType,
    action: Action,
  ): Awaitable<ResourceTypePolicy | undefined>;
  setResourceTypePolicy(resourceType: ResourceType, action: Action, expression: string): Awaitable<void>;
  deleteResourceTypePolicy(resourceType: ResourceType, action: Action): Awaitable<boolean>;
  listResourceTypePolicies(resourceType?: ResourceType): Awaitable<ResourceTypePolicy[]>;
}

/** A PolicyStore in memory. */
export class MemoryPolicyStore implements PolicyStore {
  readonly #byName = new Map<string, ResourcePolicy>();
  readonly #byType = new Map<string, ResourceTypePolicy>();

  getResourcePolicy(resourceName: string, action: Action): ResourcePolicy | undefined {
    return this.#byName.get(key(resourceName, action));
  }

  setResourcePolicy(resourceName: string, action: Action, expression: string): void {
    this.#byName.set(key(resourceName, action), { resourceName, action, expression });
  }

  deleteResourcePolicy(resourceName: string, action: Action): boolean {
    return this.#byName.delete(key(resourceName, action));
  }

  listResourcePolicies(resourceName?: string): ResourcePolicy[] {
    return [...this.#byName.values()].filter(
      (p) => resourceName === undefined || p.resourceName === resourceName,
    );
  }

  getResourceTypePolicy(resourceType: ResourceType, action: Action): ResourceTypePolicy | undefined {
    return this.#byType.get(key(resourceType, action));
  }

  setResourceTypePolicy(resourceType: ResourceType, action: Action, expression: string): void {
    this.#byType.set(key(resourceType, action), { resourceType, action, expression });
  }

  deleteResourceTypePolicy(resourceType: ResourceType, action: Action): boolean {
    return this.#byType.delete(key(resourceType, action));
  }

  listResourceTypePolicies(resourceType?: ResourceType): ResourceTypePolicy[] {
    return [...this.#byType.values()].filter(
      (p) => resourceType === undefined || p.resourceType === resourceType,
    );
  }
}

function key(name: string, action: Action): string {
  return `${action}\u0000${name}`;
}

/** The policy every resource type gets when an authority is configured (DESIGN.md decision 7). */
export const DEFAULT_RESOURCE_TYPE_POLICY = '(= subject.has_credential true)';

/** What a policy applies to: one resource by name, or every resource of a type. */
export type PolicyTarget = { readonly resourceName: string } | { readonly resourceType: ResourceType };

/** The expression that applies to a resource, and where it came from. */
export interface ResolvedPolicy {
  readonly text: string;
  readonly expr: Expr;
  readonly source: 'resource' | 'resource-type';
}

/** Policies over a store: parsing, normalising and resolving. */
export class Policies {
  readonly store: PolicyStore;
  readonly #parsed = new Map<string, Expr>();

  constructor(store: PolicyStore) {
    this.store = store;
  }

  /**
   * Stores a policy given as shorthand or full text (or an already parsed expression). It is
   * stored as the printed full expression, as Ockam stores `PolicyExpression::to_expression()`.
   * Throws an AbacError (`syntax`) and stores nothing when the text does not parse.
   */
  async setPolicy(
    target: PolicyTarget,
    policy: string | Expr | PolicyExpression,
    action: Action = HANDLE_MESSAGE,
  ): Promise<string> {
    const expr =
      typeof policy === 'string'
        ? parsePolicyExpression(policy).expr
        : 'kind' in policy
          ? policy.expr
          : policy;
    const text = printExpr(expr);
    // A stored text must parse back as a policy; this rejects, say, a bare `true`.
    parseExpr(text);
    if ('resourceName' in target) await this.store.setResourcePolicy(target.resourceName, action, text);
    else await this.store.setResourceTypePolicy(target.resourceType, action, text);
    return text;
  }

  async getPolicy(target: PolicyTarget, action: Action = HANDLE_MESSAGE): Promise<string | undefined> {
    const p =
      'resourceName' in target
        ? await this.store.getResourcePolicy(target.resourceName, action)
        : await this.store.getResourceTypePolicy(target.resourceType, action);
    return p?.expression;
  }

  async deletePolicy(target: PolicyTarget, action: Action = HANDLE_MESSAGE): Promise<boolean> {
    return 'resourceName' in target
      ? await this.store.deleteResourcePolicy(target.resourceName, action)
      : await this.store.deleteResourceTypePolicy(target.resourceType, action);
  }

  async listPolicies(): Promise<{ resources: ResourcePolicy[]; resourceTypes: ResourceTypePolicy[] }> {
    return {
      resources: await this.store.listResourcePolicies(),
      resourceTypes: await this.store.listResourceTypePolicies(),
    };
  }

  /**
   * The policy for a resource: its own, else its type's, else undefined (which denies). Stored
   * text that does not parse throws an AbacError (`syntax`).
   */
  async expressionFor(
    resource: Resource,
    action: Action = HANDLE_MESSAGE,
  ): Promise<ResolvedPolicy | undefined> {
    const own = await this.store.getResourcePolicy(resource.name, action);
    if (own !== undefined)
      return { text: own.expression, expr: this.#parse(own.expression), source: 'resource' };
    const byType = await this.store.getResourceTypePolicy(resource.type, action);
    if (byType !== undefined)
      return { text: byType.expression, expr: this.#parse(byType.expression), source: 'resource-type' };
    return undefined;
  }

  /**
   * Gives every resource type the default policy `(= subject.has_credential true)`. Ockam does
   * this at every node start when an authority is configured; `overwrite: false` keeps type
   * policies a user has set.
   */
  async storeDefaultResourceTypePolicies(options: { overwrite?: boolean } = {}): Promise<void> {
    for (const type of ALL_RESOURCE_TYPES) {
      if (
        options.overwrite === false &&
        (await this.store.getResourceTypePolicy(type, HANDLE_MESSAGE)) !== undefined
      )
        continue;
      await this.store.setResourceTypePolicy(type, HANDLE_MESSAGE, DEFAULT_RESOURCE_TYPE_POLICY);
    }
  }

  #parse(text: string): Expr {
    let e = this.#parsed.get(text);
    if (e === undefined) {
      e = parseExpr(text);
      if (this.#parsed.size >= 256) this.#parsed.clear();
      this.#parsed.set(text, e);
    }
    return e;
  }
}
