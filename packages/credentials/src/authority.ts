/**
 * The authority's services on a node's router (PROTOCOL.md §5.2), answering Ockam's API framing
 * (§10.3) to callers that come through a secure channel (`localInfo.secureChannelIdentifier`):
 *
 * - `direct_authenticator`: add, list, show and delete members — enrollers only (members with
 *   `ockam-role=enroller`); only admins may add or delete enrollers; pre-trusted members cannot
 *   be deleted;
 * - `enrollment_token_issuer`: `CreateToken` → `OneTimeCode` (600 s and 1 use by default) —
 *   enrollers only; only admins mint tokens carrying `ockam-role=enroller`;
 * - `enrollment_token_acceptor`: a `OneTimeCode` makes the caller a member with the token's
 *   attributes; existing members are refused;
 * - `credential_issuer`: a member gets a schema-1 credential with its attributes and
 *   `trust_context_id=<project id>` (unless disabled), valid 30 days; admins also get
 *   `ockam-relay=*`; non-members get 403.
 *
 * An admin is an identity with an account-authority credential whose `project` attribute is the
 * project id, or — without an account authority, or when admin checks are not enforced — any
 * enroller (`ockam_api/src/authenticator/common.rs`).
 *
 * @example
 * ```ts
 * const listener = await createSecureChannelListener(node, { identity: authority, vault, consumerOf: [tcp.flowControlId] });
 * const services = await startAuthority(node, {
 *   vault, identity: authority, projectId: 'p1',
 *   members: new MemoryMemberStore(), tokens: new MemoryTokenStore(),
 *   trustedIdentities: parseTrustedIdentities('{"I…": {"ockam-role": "enroller"}}'),
 *   flowControlId: listener.flowControlId,
 * });
 * ```
 */
import type { AttributesLookup } from '@ockam/abac';
import {
  DecodeError,
  type FlowControlId,
  type Logger,
  type Node,
  noopLogger,
  OckamError,
  type RoutedMessage,
  toHex,
  type Vault,
  type WorkerContext,
} from '@ockam/core';
import { createPurposeKey, type Identity, isIdentifier, type PurposeKey } from '@ockam/identity';
import {
  type ApiRequest,
  decodeApiRequest,
  encodeApiError,
  encodeApiResponse,
  type RequestHeader,
} from './api.js';
import {
  decodeAddMember,
  decodeCreateToken,
  encodeMemberEntry,
  encodeMemberIds,
  encodeMemberList,
  type MemberEntry,
} from './authority-messages.js';
import { DEFAULT_AUTHORITY_CREDENTIAL_TTL, issueCredential } from './issue-credential.js';
import type { Member, MemberStore } from './member-store.js';
import { createOneTimeCode, decodeOneTimeCode, encodeOneTimeCode } from './one-time-code.js';
import type { TokenStore } from './token-store.js';

/** Ockam's service addresses. */
export const AUTHORITY_SERVICES = {
  directAuthenticator: 'direct_authenticator',
  enrollmentTokenIssuer: 'enrollment_token_issuer',
  enrollmentTokenAcceptor: 'enrollment_token_acceptor',
  credentialIssuer: 'credential_issuer',
} as const;

export const OCKAM_ROLE = 'ockam-role';
export const ENROLLER = 'enroller';
export const OCKAM_RELAY = 'ockam-relay';
export const OCKAM_TLS_CERTIFICATE = 'ockam-tls-certificate';
export const TRUST_CONTEXT_ID = 'trust_context_id';
/** Enrollment token defaults (`enrollment_tokens/issuer.rs`). */
export const DEFAULT_TOKEN_TTL = 600;
export const DEFAULT_TOKEN_USES = 1;

/** An identity whose account-authority credential makes it a project admin. */
export interface AccountAuthority {
  identifier: string;
  /** Where the account authority's verified attributes are found. */
  attributes: AttributesLookup;
  /** When false (default true), every enroller is an admin too. */
  enforceAdminChecks?: boolean;
}

export interface AuthorityOptions {
  vault: Vault;
  /** The authority's identity; its primary key is in `vault`. */
  identity: Identity;
  /** The credential-signing purpose key; created in `vault` when absent. */
  purposeKey?: PurposeKey;
  /** The project id: the value of `trust_context_id` and of an admin's `project` attribute. */
  projectId: string;
  members: MemberStore;
  tokens: TokenStore;
  /** Pre-trusted members (`--trusted-identities`): replace the stored pre-trusted members at start. */
  trustedIdentities?: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Credential validity in seconds (default 30 days). */
  credentialTtlSeconds?: number;
  /** Run `direct_authenticator` (default true; Ockam's `--no-direct-authentication` turns it off). */
  directAuthentication?: boolean;
  /** Run the enrollment token issuer and acceptor (default true; Ockam's `--no-token-enrollment`). */
  tokenEnrollment?: boolean;
  /** Leave out `trust_context_id` (Ockam's `--disable-trust-context-id`). */
  disableTrustContextId?: boolean;
  accountAuthority?: AccountAuthority;
  /** Give admins `ockam-relay=*` (default true; with an account authority also `ockam-tls-certificate=true`). */
  adminRelayAccess?: boolean;
  /** Finds a subject's identity, to record its latest change hash in credentials (optional). */
  identities?: { get(identifier: string): Identity | undefined };
  /** The secure channel listener's flow-control id(s): the services become their consumers. */
  flowControlId?: FlowControlId | readonly FlowControlId[];
  /** Unix seconds (default: the clock). */
  now?: () => number;
  logger?: Logger;
}

export interface Authority {
  readonly addresses: typeof AUTHORITY_SERVICES;
  readonly purposeKey: PurposeKey;
  /** Stops the four service workers. */
  stop(): Promise<void>;
}

interface Caller {
  readonly isMember: boolean;
  readonly isEnroller: boolean;
  readonly isAdmin: boolean;
  readonly isPreTrusted: boolean;
  readonly member: Member | undefined;
}

type Reply = Uint8Array;

class AuthorityCore {
  readonly #o: AuthorityOptions;
  readonly purposeKey: PurposeKey;
  readonly #now: () => number;
  readonly logger: Logger;

  constructor(options: AuthorityOptions, purposeKey: PurposeKey) {
    this.#o = options;
    this.purposeKey = purposeKey;
    this.#now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.logger = options.logger ?? noopLogger;
  }

  now(): number {
    return this.#now();
  }

  async check(identifier: string): Promise<Caller> {
    const stored = await this.#o.members.getMember(identifier);
    // An expired membership (an ID token's) counts as none.
    const member = stored?.expiresAt !== undefined && stored.expiresAt <= this.now() ? undefined : stored;
    let isMember = member !== undefined;
    let isEnroller = member?.attributes.get(OCKAM_ROLE) === ENROLLER;
    let isAdmin = false;
    const account = this.#o.accountAuthority;
    if (account !== undefined) {
      const entry = await account.attributes.getAttributes(identifier, account.identifier, this.now());
      const project = entry?.attributes.get('project');
      if (project !== undefined && new TextDecoder().decode(project) === this.#o.projectId) {
        isAdmin = isEnroller = isMember = true;
      }
      isAdmin ||= account.enforceAdminChecks === false && isEnroller;
    } else isAdmin = isEnroller;
    return { isMember, isEnroller, isAdmin, isPreTrusted: member?.preTrusted ?? false, member };
  }

  // direct_authenticator

  async directAuthenticator(from: string, req: ApiRequest): Promise<Reply> {
    const { header } = req;
    const segments = header.path.replace(/^\//, '').split('/');
    const [a, b] = segments;
    const caller = await this.check(from);
    const forbidden = (message: string) => {
      this.logger.warn(message, { caller: from });
      return encodeApiError(header, 403, message);
    };
    const parseId = (id: string | undefined): string | undefined =>
      id !== undefined && isIdentifier(id) ? id : undefined;
    const { members } = this.#o;
    switch (header.method) {
      case 'POST':
        if (segments.length === 1 && (a === '' || a === 'members')) {
          const add = decodeAddMember(requireBody(req));
          if (!caller.isEnroller)
            return forbidden(`Non-enroller ${from} is trying to add a member ${add.member}`);
          if (add.attributes.get(OCKAM_ROLE) === ENROLLER && !caller.isAdmin)
            return forbidden('Not pre trusted enroller is trying to create an enroller');
          await members.addMember({
            identifier: add.member,
            attributes: new Map(add.attributes),
            addedBy: from,
            addedAt: this.now(),
            preTrusted: false,
          });
          this.logger.info('added a member', { member: add.member, by: from });
          return encodeApiResponse(header.id, 200);
        }
        break;
      case 'GET': {
        if (segments.length > 2) break;
        if (!caller.isEnroller) return forbidden('Non-enroller is trying to list or show members');
        if (segments.length === 1 && a === 'member_ids')
          return encodeApiResponse(
            header.id,
            200,
            encodeMemberIds((await members.listMembers()).map((m) => m.identifier)),
          );
        if (segments.length === 1 && (a === '' || a === 'members')) {
          const list = new Map((await members.listMembers()).map((m) => [m.identifier, entryOf(m)] as const));
          return encodeApiResponse(header.id, 200, encodeMemberList(list));
        }
        const id = parseId(segments.length === 1 ? a : a === 'members' ? b : undefined);
        if (id === undefined)
          return encodeApiError(header, 400, `not an identifier: ${header.path.slice(0, 100)}`);
        const m = await members.getMember(id);
        if (m === undefined) return encodeApiError(header, 404, `Member ${id} not found`);
        return encodeApiResponse(header.id, 200, encodeMemberEntry(entryOf(m)));
      }
      case 'DELETE': {
        if (segments.length > 2) break;
        if (segments.length === 1 && a === 'members') {
          if (!caller.isEnroller) return forbidden('Non-enroller is trying to delete members');
          for (const m of await members.listMembers()) {
            if (m.identifier === from) continue;
            await this.#deleteMember(from, caller, m.identifier);
          }
          return encodeApiResponse(header.id, 200);
        }
        const id = parseId(segments.length === 1 ? a : a === 'members' ? b : undefined);
        if (id === undefined)
          return encodeApiError(header, 400, `not an identifier: ${header.path.slice(0, 100)}`);
        const refusal = await this.#deleteMember(from, caller, id);
        return refusal === undefined ? encodeApiResponse(header.id, 200) : forbidden(refusal);
      }
      default:
        break;
    }
    return unknownPath(header);
  }

  /** Deletes a member; returns why not when refused. */
  async #deleteMember(from: string, caller: Caller, id: string): Promise<string | undefined> {
    if (!caller.isEnroller) return 'Non-enroller is trying to delete a member';
    const target = await this.check(id);
    if (target.isPreTrusted) return 'Enroller is trying to delete a pre trusted identity';
    if (target.isEnroller && !caller.isAdmin) return 'Not admin is trying to delete an enroller';
    await this.#o.members.deleteMember(id);
    this.logger.info('deleted a member', { member: id, by: from });
    return undefined;
  }

  // enrollment_token_issuer

  async tokenIssuer(from: string, req: ApiRequest): Promise<Reply> {
    const { header } = req;
    if (header.method !== 'POST' || (header.path !== '/' && header.path !== '/tokens'))
      return unknownPath(header);
    const create = decodeCreateToken(requireBody(req));
    const caller = await this.check(from);
    if (!caller.isEnroller)
      return encodeApiError(header, 403, 'Non-enroller is trying to issue an enrollment token');
    if (create.attributes.get(OCKAM_ROLE) === ENROLLER && !caller.isAdmin)
      return encodeApiError(header, 403, 'Not admin is trying to issue an enrollment token for an enroller');
    const now = this.now();
    const ttl = Math.min(create.ttlSeconds ?? DEFAULT_TOKEN_TTL, Number.MAX_SAFE_INTEGER - now);
    const code = createOneTimeCode();
    const reference = randomReference();
    await this.#o.tokens.storeToken({
      oneTimeCode: code,
      reference,
      issuedBy: from,
      createdAt: now,
      expiresAt: now + ttl,
      ttlCount: create.ttlCount ?? DEFAULT_TOKEN_USES,
      attributes: new Map(create.attributes),
    });
    this.logger.info('issued an enrollment token', { reference, by: from, expiresAt: now + ttl });
    return encodeApiResponse(header.id, 200, encodeOneTimeCode(code));
  }

  // enrollment_token_acceptor

  async tokenAcceptor(from: string, req: ApiRequest): Promise<Reply> {
    const { header } = req;
    if (header.method !== 'POST' || (header.path !== '/' && header.path !== '/credential'))
      return unknownPath(header);
    const code = decodeOneTimeCode(requireBody(req));
    if ((await this.#o.members.getMember(from)) !== undefined)
      return encodeApiError(header, 403, 'Already a member');
    const now = this.now();
    const token = await this.#o.tokens.useToken(code, now);
    if (token === undefined) {
      this.logger.warn('unknown or expired enrollment token', { from });
      return encodeApiError(header, 403, 'Unknown enrollment token');
    }
    await this.#o.members.addMember({
      identifier: from,
      attributes: new Map(token.attributes),
      addedBy: token.issuedBy,
      addedAt: now,
      preTrusted: false,
    });
    this.logger.info('accepted an enrollment token', { member: from, reference: token.reference });
    return encodeApiResponse(header.id, 200);
  }

  // credential_issuer

  async credentialIssuer(from: string, req: ApiRequest): Promise<Reply> {
    const { header } = req;
    if (header.method !== 'POST' || (header.path !== '/' && header.path !== '/credential'))
      return unknownPath(header);
    const caller = await this.check(from);
    if (!caller.isMember) return encodeApiError(header, 403, 'unauthorized member');
    const o = this.#o;
    const attributes = new Map<string, string>();
    if (!o.disableTrustContextId) attributes.set(TRUST_CONTEXT_ID, o.projectId);
    for (const [k, v] of caller.member?.attributes ?? []) attributes.set(k, v);
    if (caller.isAdmin && o.adminRelayAccess !== false) {
      attributes.set(OCKAM_RELAY, '*');
      if (o.accountAuthority !== undefined) attributes.set(OCKAM_TLS_CERTIFICATE, 'true');
    }
    // Never before the purpose key (a clock that stepped back, or a key made this very second).
    const now = Math.max(this.now(), this.purposeKey.data.createdAt);
    const ttl = Math.min(
      o.credentialTtlSeconds ?? DEFAULT_AUTHORITY_CREDENTIAL_TTL,
      this.purposeKey.data.expiresAt - now,
      // No credential outlives its membership.
      (caller.member?.expiresAt ?? Number.MAX_SAFE_INTEGER) - now,
    );
    const subject = o.identities?.get(from) ?? from;
    try {
      const credential = await issueCredential({
        vault: o.vault,
        issuer: o.identity,
        purposeKey: this.purposeKey,
        subject,
        attributes,
        ttlSeconds: ttl,
        now,
      });
      this.logger.info('issued a credential', { subject: from, expiresAt: now + ttl });
      return encodeApiResponse(header.id, 200, credential);
    } catch (e) {
      this.logger.error('cannot issue a credential', { subject: from, error: String(e) });
      return encodeApiError(header, 500, e instanceof Error ? e.message : String(e));
    }
  }
}

function entryOf(m: Member): MemberEntry {
  return {
    attributes: m.attributes,
    addedAt: m.addedAt,
    // Ockam's AttributesEntry carries expires_at: a membership from an ID token shows its end.
    ...(m.expiresAt === undefined ? {} : { expiresAt: m.expiresAt }),
    attestedBy: m.addedBy,
  };
}

function requireBody(req: ApiRequest): Uint8Array {
  if (req.body === undefined) throw new DecodeError('API request', 'a body is required');
  return req.body;
}

function unknownPath(header: RequestHeader): Reply {
  return encodeApiError(
    header,
    404,
    `unknown path ${header.method ?? 'no method'} ${header.path.slice(0, 100)}`,
  );
}

function randomReference(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = new Uint8Array(10);
  crypto.getRandomValues(bytes);
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
}

type Handler = (from: string, req: ApiRequest) => Promise<Reply>;

/**
 * A worker answering Ockam's API framing to callers that come through a secure channel: `handle`
 * gets the caller's identifier and the decoded request; malformed requests get 400, throws 500
 * (400 for serialization errors). For services beside the authority's (the `oidc` add-on).
 */
export function apiServiceWorker(
  logger: Logger,
  name: string,
  handle: (from: string, req: ApiRequest) => Promise<Uint8Array>,
) {
  const core = { logger };
  return {
    async handleMessage(ctx: WorkerContext, m: RoutedMessage): Promise<void> {
      const from = m.message.localInfo.secureChannelIdentifier;
      const reply = (bytes: Uint8Array) => ctx.send(m.message.returnRoute, bytes);
      if (from === undefined) {
        await reply(encodeApiError(undefined, 400, 'secure channel required'));
        return;
      }
      let req: ApiRequest;
      try {
        req = decodeApiRequest(m.message.payload);
      } catch (e) {
        core.logger.warn('malformed API request', { service: name, from, error: String(e) });
        await reply(encodeApiError(undefined, 400, e instanceof Error ? e.message : String(e)));
        return;
      }
      let response: Uint8Array;
      try {
        response = await handle(from, req);
      } catch (e) {
        const malformed = OckamError.isKind(e, 'serialization');
        core.logger.warn('authority request failed', { service: name, from, error: String(e) });
        response = encodeApiError(
          req.header,
          malformed ? 400 : 500,
          e instanceof Error ? e.message : String(e),
        );
      }
      await reply(response);
    },
  };
}

/**
 * Starts the four authority services on `node` (bootstrapping the pre-trusted members first).
 * Without `flowControlId`, make the services consumers of the secure channel listener yourself.
 */
export async function startAuthority(node: Node, options: AuthorityOptions): Promise<Authority> {
  const purposeKey =
    options.purposeKey ?? (await createPurposeKey(options.vault, options.identity, 'credential-signing'));
  if (
    purposeKey.data.subject !== options.identity.identifier ||
    purposeKey.data.publicKey.purpose !== 'credential-signing'
  )
    throw new TypeError("purposeKey must be the authority's credential-signing purpose key");
  const core = new AuthorityCore(options, purposeKey);
  if (options.trustedIdentities !== undefined) {
    const now = core.now();
    await options.members.bootstrapPreTrusted(
      [...options.trustedIdentities].map(([identifier, attributes]) => ({
        identifier,
        attributes: new Map(attributes),
        addedBy: options.identity.identifier,
        addedAt: now,
        preTrusted: true,
      })),
    );
  }
  const direct = options.directAuthentication !== false;
  const tokens = options.tokenEnrollment !== false;
  const services: Array<[string, Handler]> = [
    ...(direct
      ? [
          [AUTHORITY_SERVICES.directAuthenticator, (f, r) => core.directAuthenticator(f, r)] as [
            string,
            Handler,
          ],
        ]
      : []),
    ...(tokens
      ? ([
          [AUTHORITY_SERVICES.enrollmentTokenIssuer, (f, r) => core.tokenIssuer(f, r)],
          [AUTHORITY_SERVICES.enrollmentTokenAcceptor, (f, r) => core.tokenAcceptor(f, r)],
        ] as Array<[string, Handler]>)
      : []),
    [AUTHORITY_SERVICES.credentialIssuer, (f, r) => core.credentialIssuer(f, r)],
  ];
  const ids =
    options.flowControlId === undefined
      ? []
      : typeof options.flowControlId === 'string'
        ? [options.flowControlId]
        : options.flowControlId;
  const started: string[] = [];
  try {
    for (const [address, handle] of services) {
      node.startWorker(address, apiServiceWorker(core.logger, address, handle));
      started.push(address);
      for (const id of ids) node.flowControls.addConsumer(address, id);
    }
  } catch (e) {
    for (const a of started) await node.stopWorker(a);
    throw e;
  }
  core.logger.info('authority started', {
    identifier: options.identity.identifier,
    purposeKey: toHex(purposeKey.data.publicKey.bytes).slice(0, 16),
  });
  return {
    addresses: AUTHORITY_SERVICES,
    purposeKey,
    async stop() {
      for (const a of started) await node.stopWorker(a);
    },
  };
}
