/**
 * A node's trust context (PROTOCOL.md §5, §6; DESIGN.md §7):
 * - a node in a project presents its credential from the project's authority in every secure
 *   channel handshake, refreshes it before it expires, and pushes the new one over live channels;
 * - credentials peers present are verified against the authority and their attributes stored;
 * - inlets, outlets and relay registrations are decided by ABAC policies at every message, and
 *   with an authority every resource type defaults to `(= subject.has_credential true)`: deny by
 *   default;
 * - a project node also runs the authority services and issues its own credential.
 */
import {
  ALL_RESOURCE_TYPES,
  abacIncomingAccessControl,
  DEFAULT_RESOURCE_TYPE_POLICY,
  MemoryPolicyStore,
  Policies,
  type ResourceType,
} from '@ockam/abac';
import type { IncomingAccessControl, Logger, Node, Vault } from '@ockam/core';
import {
  type AttributesStore,
  type Authority,
  type AuthorityConnection,
  CredentialRetriever,
  issueCredential,
  type MemberStore,
  MemoryAttributesStore,
  parseTrustedIdentities,
  presentedCredentialsHandler,
  startAuthority,
  type TokenStore,
  verifyCredential,
} from '@ockam/credentials';
import { type Identity, importIdentity } from '@ockam/identity';
import { type OidcAuthenticator, type OidcConfig, startOidcAuthenticator } from '@ockam/oidc';
import type { State } from '@ockam/state';
import {
  openPostgres,
  PostgresMemberStore,
  PostgresTokenStore,
  type ProjectRecord,
  Projects,
  postgresConfigFromEnv,
  SqliteAttributesStore,
  SqliteMemberStore,
  SqlitePolicyStore,
  SqliteTokenStore,
} from '@ockam/state';
import type { NodeIdentities } from './memory-state.js';

/** How a project's authority runs (the flags of `ockam authority create`). */
export interface AuthorityConfig {
  /** Pre-trusted members, as JSON: `{"I…": {"k": "v"}}`. */
  trustedIdentities?: string;
  /** The account authority (exported identity, hex) whose `project` credentials make project admins. */
  accountAuthority?: string;
  /** With an account authority, enrollers are not admins (Ockam's `--enforce-admin-checks`). */
  enforceAdminChecks?: boolean;
  /** No `direct_authenticator` (members are added by tickets only). */
  noDirectAuthentication?: boolean;
  /** No enrollment tokens (members are added directly only). */
  noTokenEnrollment?: boolean;
  /** Credentials without `trust_context_id`. */
  disableTrustContextId?: boolean;
  /** People enrol with an ID token from this OpenID provider (`ockam project addon configure oidc`). */
  oidc?: OidcConfig;
}

/** What a node's `options` in the state database say about its trust. */
export interface TrustConfig {
  /** The project this node is a member of (`/project/NAME`, credentials). */
  project?: string;
  /** This node hosts the project's authority (`ockam authority create` and its flags). */
  authority?: AuthorityConfig;
  /**
   * Without a project, an authority to trust (`node create --authority-identity`): its exported
   * identity (hex). Peers' credentials are checked against it, and it is deny by default.
   */
  authorityIdentity?: string;
  /** Where that authority listens (`--authority-route`), kept for commands that ask it. */
  authorityRoute?: string;
  /**
   * The scope of the stored credential this node presents (`--credential-scope`, what
   * `ockam credential store --scope` names), read at start and when told it changed.
   */
  credentialScope?: string;
}

export interface NodeTrustOptions {
  node: Node;
  nodeName: string;
  /** The SQLite state, or none: a node in memory (no project, no authority, memory stores). */
  state: State | undefined;
  identities: NodeIdentities;
  identityName: string;
  identity: Identity;
  vault: Vault;
  config: TrustConfig;
  /** An authority given in code (`createNode({ trust })`) instead of a project in the state. */
  given?: TrustOptions;
  logger?: Logger;
}

/**
 * Credentials without a project: the authority a node trusts and the credential it presents. As
 * with a project, every inlet, outlet, relay and standard service is then deny by default
 * (`(= subject.has_credential true)`) until a policy says otherwise.
 */
export interface TrustOptions {
  /** The authority's identity: its exported change history (hex or bytes), e.g. another node's `exportIdentity()`. */
  authority: string | Uint8Array;
  /**
   * A credential the authority issued to this node's identity, presented in every secure channel
   * handshake. Checked when the node starts; not refreshed (issue one that outlives the node).
   */
  credential?: Uint8Array;
}

const now = () => Math.floor(Date.now() / 1000);

export class NodeTrust {
  readonly project: ProjectRecord | undefined;
  readonly authority: Identity | undefined;
  readonly attributes: AttributesStore;
  readonly policies: Policies;
  readonly #o: NodeTrustOptions;
  #credential: Uint8Array | undefined;
  #retriever: CredentialRetriever | undefined;
  #authority: Authority | undefined;
  #oidc: OidcAuthenticator | undefined;
  readonly #listeners = new Set<(credentials: readonly Uint8Array[]) => void>();

  constructor(options: NodeTrustOptions) {
    this.#o = options;
    const state = options.state;
    this.attributes = state
      ? new SqliteAttributesStore(state, options.nodeName)
      : new MemoryAttributesStore();
    this.policies = new Policies(
      state ? new SqlitePolicyStore(state, options.nodeName) : new MemoryPolicyStore(),
    );
    if (options.given) {
      if (options.config.project)
        throw new TypeError(
          `node ${options.nodeName} is in project ${options.config.project}: it cannot also be given an authority`,
        );
      this.authority = importIdentity(options.given.authority);
      if (options.given.credential) this.present(options.given.credential);
    } else if (options.config.project) {
      const projects = new Projects(this.#state);
      this.project = projects.require(options.config.project);
      this.authority = projects.authority(this.project).identity;
      this.#credential = projects.credential(options.identityName, this.project.name);
    } else if (options.config.authorityIdentity) {
      this.authority = importIdentity(options.config.authorityIdentity);
      const scope = options.config.credentialScope;
      if (scope !== undefined && options.state)
        this.#credential = new Projects(options.state).credential(options.identityName, scope);
    }
  }

  /** Projects and authorities live in the SQLite state; a node in memory has neither. */
  get #state(): State {
    if (!this.#o.state) throw new TypeError('a node without state has no project and runs no authority');
    return this.#o.state;
  }

  /** The identifier of the authority whose credentials this node checks and presents, if any. */
  get authorityIdentifier(): string | undefined {
    return this.authority?.identifier;
  }

  get hasAuthority(): boolean {
    return this.authority !== undefined;
  }

  get isAuthority(): boolean {
    return this.#o.config.authority !== undefined;
  }

  /** Stores the default type policies (deny by default) where none is set yet. */
  async start(): Promise<void> {
    if (!this.hasAuthority) return;
    for (const t of ALL_RESOURCE_TYPES) {
      if ((await this.policies.getPolicy({ resourceType: t })) === undefined)
        await this.policies.setPolicy({ resourceType: t }, DEFAULT_RESOURCE_TYPE_POLICY);
    }
  }

  /** What channels present: our current credential, if any. Read at every handshake. */
  credentials(): readonly Uint8Array[] {
    return this.#credential ? [this.#credential] : [];
  }

  /** Called with new credentials after each refresh (to push RefreshCredentials on live channels). */
  onRefresh(listener: (credentials: readonly Uint8Array[]) => void): void {
    this.#listeners.add(listener);
  }

  /** The handshake hook: verify what peers present against our authority and store their attributes. */
  get verifyCredentials():
    | ((c: { peerIdentifier: string; credentials: readonly Uint8Array[] }) => Promise<void>)
    | undefined {
    if (!this.authority) return undefined;
    // An authority also takes its account authority's project-admin credentials.
    return presentedCredentialsHandler({
      trustedAuthorities: [this.authority, ...(this.#accountAuthority ? [this.#accountAuthority] : [])],
      store: this.attributes,
      ...(this.#o.logger ? { logger: this.#o.logger } : {}),
    });
  }

  /** A check of what one channel's peer presents, against `authority` (exported identity), stored with the node's attributes. */
  verifyAgainst(
    authority: string | Uint8Array,
  ): (c: { peerIdentifier: string; credentials: readonly Uint8Array[] }) => Promise<void> {
    return presentedCredentialsHandler({
      trustedAuthorities: [importIdentity(authority)],
      store: this.attributes,
      ...(this.#o.logger ? { logger: this.#o.logger } : {}),
    });
  }

  #pool: { end(): Promise<void> } | undefined;

  /** The account authority of an authority node, if its flags name one. */
  get #accountAuthority(): Identity | undefined {
    const hex = this.#o.config.authority?.accountAuthority;
    return hex ? importIdentity(hex) : undefined;
  }

  /** Member and token stores: PostgreSQL when OCKAM_POSTGRES_HOST/PORT are set (replicas share it), else SQLite. */
  async #stores(authority: string): Promise<{ members: MemberStore; tokens: TokenStore }> {
    const pgConfig = postgresConfigFromEnv();
    if (!pgConfig)
      return {
        members: new SqliteMemberStore(this.#state, authority),
        tokens: new SqliteTokenStore(this.#state, authority),
      };
    const pool = await openPostgres(pgConfig);
    this.#pool = pool;
    this.#o.logger?.info('authority members and tokens are stored in PostgreSQL', {
      host: pgConfig.host,
      port: pgConfig.port,
      database: pgConfig.database,
    });
    return {
      members: new PostgresMemberStore(pool, authority),
      tokens: new PostgresTokenStore(pool, authority),
    };
  }

  /** This node's credential-signing purpose key (created once, then reused). */
  #signingKey() {
    const { identities, identity, vault, logger } = this.#o;
    return identities.ensurePurposeKey(identity, vault, 'credential-signing', logger);
  }

  /** Starts the authority services on a project node (after its `api` listener exists), and issues our own credential. */
  async startAuthority(flowControlIds: readonly string[]): Promise<void> {
    const cfg = this.#o.config.authority;
    if (!cfg || !this.project) return;
    const { identity, vault } = this.#o;
    const purposeKey = await this.#signingKey();
    const account = this.#accountAuthority;
    const stores = await this.#stores(identity.identifier);
    this.#authority = await startAuthority(this.#o.node, {
      vault,
      identity,
      purposeKey,
      projectId: this.project.id,
      ...stores,
      ...(cfg.trustedIdentities ? { trustedIdentities: parseTrustedIdentities(cfg.trustedIdentities) } : {}),
      ...(account
        ? {
            accountAuthority: {
              identifier: account.identifier,
              attributes: this.attributes,
              enforceAdminChecks: cfg.enforceAdminChecks === true,
            },
          }
        : {}),
      ...(cfg.noDirectAuthentication ? { directAuthentication: false } : {}),
      ...(cfg.noTokenEnrollment ? { tokenEnrollment: false } : {}),
      ...(cfg.disableTrustContextId ? { disableTrustContextId: true } : {}),
      flowControlId: flowControlIds,
      ...(this.#o.logger ? { logger: this.#o.logger } : {}),
    });
    if (cfg.oidc)
      this.#oidc = await startOidcAuthenticator(this.#o.node, {
        config: cfg.oidc,
        members: stores.members,
        authority: identity.identifier,
        flowControlId: flowControlIds,
        ...(this.#o.logger ? { logger: this.#o.logger } : {}),
      });
    const pk = this.#authority.purposeKey;
    // The project node is a member of its own project, with admin rights on its relays.
    this.#credential = await issueCredential({
      vault,
      issuer: identity,
      purposeKey: pk,
      subject: identity,
      attributes: { 'ockam-relay': '*', trust_context_id: this.project.id },
      ttlSeconds: 30 * 24 * 3600,
    });
    this.#o.logger?.info('authority started', {
      project: this.project.name,
      identifier: identity.identifier,
    });
  }

  /**
   * For a member node: refreshes the credential through the project (before it expires, Ockam's
   * 60 s + 60 s gaps) and tells listeners. Runs in the background; failures are logged and retried.
   */
  startRetriever(connect: (signal?: AbortSignal) => Promise<AuthorityConnection>): void {
    if (!this.project || !this.authority || this.isAuthority) return;
    const projects = new Projects(this.#state);
    const project = this.project;
    this.#retriever = new CredentialRetriever({
      subject: this.#o.identity.identifier,
      authority: this.authority,
      connect,
      ...(this.#o.logger ? { logger: this.#o.logger } : {}),
    });
    this.#retriever.subscribe((c) => {
      this.#credential = c.encoded;
      projects.saveCredential(this.#o.identityName, project.name, c.encoded, c.verified.expiresAt);
      for (const l of this.#listeners) l(this.credentials());
    });
    void this.#retriever.start().catch((e) =>
      this.#o.logger?.warn('could not get a credential from the project authority yet', {
        error: (e as Error).message,
      }),
    );
  }

  /** The incoming access control of an inlet or outlet, or undefined for allow-all (no authority, no policy). */
  async accessControl(
    type: 'tcp-inlet' | 'tcp-outlet',
    name: string,
    allow: string | undefined,
  ): Promise<IncomingAccessControl | undefined> {
    if (allow !== undefined) await this.policies.setPolicy({ resourceName: name }, allow);
    if (!this.hasAuthority && allow === undefined) return undefined;
    return abacIncomingAccessControl({
      policies: this.policies,
      resource: { name, type: type as ResourceType },
      attributes: this.attributes,
      ...(this.authority ? { authority: this.authority.identifier } : {}),
      ...(this.#o.logger ? { logger: this.#o.logger } : {}),
    });
  }

  /**
   * The incoming access control of a standard service (`echo`, `uppercase`: resource type
   * `echoer`, named by the service's address) on a node with an authority; undefined without one
   * (the services then answer anyone, as in Ockam). A message that did not come from the network
   * (no connection or channel delivered it: a local client, the control API's `POST /messages`) is
   * answered; any other goes through the resource's policy, or the `echoer` type's, which is deny
   * by default: `(= subject.has_credential true)`.
   */
  serviceAccessControl(address: string): IncomingAccessControl | undefined {
    if (!this.authority) return undefined;
    const node = this.#o.node;
    const abac = abacIncomingAccessControl({
      policies: this.policies,
      resource: { name: address, type: 'echoer' },
      attributes: this.attributes,
      authority: this.authority.identifier,
      ...(this.#o.logger ? { logger: this.#o.logger } : {}),
    });
    return {
      isAuthorized: (relay) => {
        const info = relay.message.localInfo;
        const fromNetwork =
          info.flowControlId !== undefined ||
          info.secureChannelIdentifier !== undefined ||
          node.flowControls.producer(relay.source) !== undefined;
        return fromNetwork ? abac.isAuthorized(relay) : true;
      },
    };
  }

  /** Relay registrations: with an authority, the `ockam-relay` attribute must be `*` or the name, and the relay policy must allow. */
  async authorizeRelay(name: string, peer: string | undefined): Promise<boolean> {
    if (!this.authority) return true;
    if (peer === undefined) return false;
    const entry = await this.attributes.getAttributes(peer, this.authority.identifier, now());
    const value = entry?.attributes.get('ockam-relay');
    const relay = value ? new TextDecoder().decode(value) : undefined;
    // The relay service answers and logs a refusal (once per reason, not per attempt).
    if (relay !== '*' && relay !== name) return false;
    const ac = abacIncomingAccessControl({
      policies: this.policies,
      resource: { name, type: 'relay' },
      attributes: this.attributes,
      authority: this.authority.identifier,
    });
    const msg = {
      source: { key: '', value: '' },
      destination: { key: '', value: name },
      message: { localInfo: { secureChannelIdentifier: peer } },
    };
    return ac.isAuthorized(msg as never);
  }

  /**
   * Presents `credential` from now on, in new handshakes and pushed over live channels. Checked
   * here, not at the first handshake: a credential every peer would refuse fails loudly now.
   */
  present(credential: Uint8Array): void {
    if (!this.authority) throw new TypeError('a node without an authority presents no credential');
    verifyCredential(credential, {
      trustedAuthorities: [this.authority],
      expectedSubject: this.#o.identity.identifier,
    });
    this.#credential = credential;
    for (const l of this.#listeners) l(this.credentials());
  }

  /** Issues a credential signed by this node's identity (this node acting as an authority for nodes that trust it). */
  async issue(subject: string, attributes: Record<string, string>, ttlSeconds?: number): Promise<Uint8Array> {
    const { identity, vault } = this.#o;
    return issueCredential({
      vault,
      issuer: identity,
      purposeKey: await this.#signingKey(),
      subject,
      attributes,
      ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
    });
  }

  /** Verifies a credential against this node's authority (for `ockam credential verify` style checks). */
  verify(bytes: Uint8Array, subject?: string) {
    if (!this.authority) throw new Error('This node has no authority');
    return verifyCredential(bytes, {
      trustedAuthorities: [this.authority],
      ...(subject ? { expectedSubject: subject } : {}),
    });
  }

  async stop(): Promise<void> {
    this.#retriever?.stop();
    await this.#oidc?.stop();
    await this.#authority?.stop();
    await this.#pool?.end().catch(() => {});
  }
}
