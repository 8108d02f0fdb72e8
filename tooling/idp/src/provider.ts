/**
 * A real OpenID provider in this process: panva's oidc-provider (OpenID Certified), with the
 * device authorization grant (RFC 8628) for public clients, the given users behind its own login
 * and consent pages, and signing keys generated at start.
 */
import {
  createHash,
  generateKeyPair,
  type JsonWebKey,
  randomBytes,
  randomUUID,
  timingSafeEqual,
} from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { memoryAdapterFactory } from './adapter.js';
import { consentPage, escapeHtml, loginPage, page } from './pages.js';

export interface IdpUser {
  username: string;
  password: string;
  /** Claims released for the scopes `openid email groups` (e.g. { email, email_verified, groups: ['db-admins'] }). */
  claims: Record<string, unknown>;
}

export interface IdpClient {
  clientId: string;
  /** ID token lifetime for this client, seconds (default 3600); tests of expiry use a few seconds. */
  idTokenTtlSeconds?: number;
  /** How this client's ID tokens are signed (default RS256, what most enterprise providers use). */
  idTokenSigningAlg?: 'RS256' | 'ES256';
}

export interface StartedIdp {
  /** http://127.0.0.1:<port> (or with a path); discovery at `${issuer}/.well-known/openid-configuration`. */
  readonly issuer: string;
  stop(): Promise<void>;
}

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** Which claims each scope releases; `openid` always gives `sub`. */
const SCOPE_CLAIMS = { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] } as const;
/** Login and consent forms are a few fields: anything larger is refused before it is buffered. */
const MAX_FORM_BYTES = 16 * 1024;

/** What the device authorization response tells devices to wait between polls. */
const POLL_INTERVAL_SECONDS = 1;

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Hashing first gives equal-length inputs, so the comparison takes the same time whatever differs. */
function samePassword(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

async function signingKeys(): Promise<JsonWebKey[]> {
  const gen = promisify(generateKeyPair);
  const [rsa, ec] = await Promise.all([
    gen('rsa', { modulusLength: 2048 }),
    gen('ec', { namedCurve: 'P-256' }),
  ]);
  return [
    { ...rsa.privateKey.export({ format: 'jwk' }), kid: `rs256-${randomUUID()}`, alg: 'RS256', use: 'sig' },
    { ...ec.privateKey.export({ format: 'jwk' }), kid: `es256-${randomUUID()}`, alg: 'ES256', use: 'sig' },
  ];
}

class FormTooLarge extends Error {}

/** A urlencoded form, refused past MAX_FORM_BYTES without buffering the rest. */
function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) {
        req.off('data', onData);
        req.pause();
        reject(new FormTooLarge(`form larger than ${MAX_FORM_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

function sendHtml(res: ServerResponse, status: number, html: string, close = false): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(html);
}

function errorText(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { error?: unknown; error_description?: unknown; message?: unknown };
    if (typeof e.error_description === 'string') return `${String(e.error)}: ${e.error_description}`;
    if (typeof e.message === 'string') return e.message;
  }
  return String(err);
}

export async function startIdp(options: { users: IdpUser[]; clients: IdpClient[] }): Promise<StartedIdp> {
  const users = new Map(options.users.map((u) => [u.username, u]));
  const clients = new Map(options.clients.map((c) => [c.clientId, c]));
  let provider: Provider | undefined;
  let handle: ((req: IncomingMessage, res: ServerResponse) => unknown) | undefined;

  const server = createServer((req, res) => {
    if (!provider || !handle) {
      sendHtml(res, 503, page('error', 'Starting', '', 'the provider is starting'));
      return;
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const m = /^\/interaction\/([A-Za-z0-9_-]{1,128})(?:\/(login|confirm))?$/.exec(path);
    if (!m) {
      handle(req, res);
      return;
    }
    interaction(provider, req, res, m[2]).catch((err: unknown) => {
      // Too large: answered, then the connection is closed with the rest of the body unread.
      const tooLarge = err instanceof FormTooLarge;
      if (!res.headersSent)
        sendHtml(res, tooLarge ? 413 : 400, page('error', 'Sign-in failed', '', errorText(err)), tooLarge);
      else res.destroy();
    });
  });

  async function interaction(
    p: Provider,
    req: IncomingMessage,
    res: ServerResponse,
    action: string | undefined,
  ) {
    // The body first, bounded, whatever the cookies say.
    const form = req.method === 'POST' ? await readForm(req) : undefined;
    const details = await p.interactionDetails(req, res);
    const clientId = String(details.params.client_id);
    const { name, details: missing } = details.prompt;
    if (req.method === 'GET' && action === undefined) {
      if (name === 'login') return sendHtml(res, 200, loginPage(details.uid, clientId));
      if (name === 'consent')
        return sendHtml(
          res,
          200,
          consentPage(
            details.uid,
            clientId,
            (missing.missingOIDCScope as string[] | undefined) ?? [],
            (missing.missingOIDCClaims as string[] | undefined) ?? [],
          ),
        );
      return sendHtml(res, 400, page('error', 'Sign-in failed', '', `unexpected prompt ${name}`));
    }
    if (form === undefined)
      return sendHtml(res, 405, page('error', 'Sign-in failed', '', 'method not allowed'));
    if (action === 'login' && name === 'login') {
      const username = form.get('username') ?? '';
      const user = users.get(username);
      // Compared even for an unknown user, so the answer takes as long either way.
      const ok =
        samePassword(form.get('password') ?? '', user?.password ?? randomUUID()) && user !== undefined;
      if (!ok)
        return sendHtml(
          res,
          401,
          loginPage(details.uid, clientId, 'Invalid username or password.', username),
        );
      return p.interactionFinished(
        req,
        res,
        { login: { accountId: username } },
        { mergeWithLastSubmission: false },
      );
    }
    if (action === 'confirm' && name === 'consent') {
      if (form.get('decision') !== 'allow')
        return p.interactionFinished(
          req,
          res,
          { error: 'access_denied', error_description: 'End-User denied the request' },
          { mergeWithLastSubmission: false },
        );
      const accountId = details.session?.accountId;
      if (!accountId) throw new Error('consent without a signed-in user');
      const grant = details.grantId
        ? await p.Grant.find(details.grantId)
        : new p.Grant({ accountId, clientId });
      if (!grant) throw new Error('the grant being extended is gone');
      const scopes = missing.missingOIDCScope as string[] | undefined;
      const claims = missing.missingOIDCClaims as string[] | undefined;
      const resources = missing.missingResourceScopes as Record<string, string[]> | undefined;
      if (scopes) grant.addOIDCScope(scopes.join(' '));
      if (claims) grant.addOIDCClaims(claims);
      for (const [indicator, s] of Object.entries(resources ?? {}))
        grant.addResourceScope(indicator, s.join(' '));
      const grantId = await grant.save();
      return p.interactionFinished(
        req,
        res,
        { consent: details.grantId ? {} : { grantId } },
        { mergeWithLastSubmission: true },
      );
    }
    return sendHtml(res, 400, page('error', 'Sign-in failed', '', `cannot ${action} during ${name}`));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('idp: no TCP address');
  const issuer = `http://127.0.0.1:${address.port}`;

  const configuration: Configuration = {
    adapter: memoryAdapterFactory(),
    clients: options.clients.map((c) => ({
      client_id: c.clientId,
      token_endpoint_auth_method: 'none',
      grant_types: [DEVICE_GRANT],
      response_types: [],
      redirect_uris: [],
      id_token_signed_response_alg: c.idTokenSigningAlg ?? 'RS256',
    })),
    jwks: { keys: await signingKeys() },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    scopes: Object.keys(SCOPE_CLAIMS),
    claims: { ...SCOPE_CLAIMS },
    // Claims of the granted scopes go into the ID token itself, not only to userinfo: the ID
    // token is what a device sends to the authority.
    conformIdTokenClaims: false,
    async findAccount(_ctx, id) {
      const user = users.get(id);
      if (!user) return undefined;
      return { accountId: id, claims: () => ({ ...user.claims, sub: id }) };
    },
    // Every lifetime set, as the library asks (it prints a notice for each default used).
    ttl: {
      AccessToken: 3600,
      DeviceCode: 600,
      Grant: 3600,
      Interaction: 3600,
      Session: 3600,
      IdToken: (_ctx, _token, client) => clients.get(client.clientId)?.idTokenTtlSeconds ?? 3600,
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        userCodeInputSource(ctx: KoaContextWithOIDC, form: string, _out: unknown, err: unknown) {
          const message = err === undefined ? undefined : `The code was not accepted: ${errorText(err)}`;
          ctx.type = 'html';
          ctx.body = page(
            'code',
            'Enter the code',
            `<p>Enter the code shown on your device.</p>${form}<button type="submit" form="op.deviceInputForm">Continue</button>`,
            message,
          );
        },
        userCodeConfirmSource(ctx: KoaContextWithOIDC, form: string, client, _deviceInfo, userCode: string) {
          ctx.type = 'html';
          ctx.body = page(
            'confirm',
            'Confirm the device',
            `<p><strong>${escapeHtml(client.clientId)}</strong> shows the code <code>${escapeHtml(userCode)}</code>.</p>${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>`,
          );
        },
        successSource(ctx: KoaContextWithOIDC) {
          ctx.type = 'html';
          ctx.body = page(
            'success',
            'Device signed in',
            '<p>The device is signed in; you may close this page.</p>',
          );
        },
      },
    },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('error', 'Sign-in failed', '', `${out.error}: ${out.error_description ?? ''}`);
    },
  };
  provider = new Provider(issuer, configuration);
  // RFC 8628 §3.2: without `interval` a device polls every 5 s. The provider has no setting for
  // it, so its documented post-middleware adds one: tests then wait about a second for a login.
  provider.use(async (ctx, next) => {
    await next();
    if (
      ctx.oidc?.route === 'device_authorization' &&
      ctx.status === 200 &&
      ctx.body &&
      typeof ctx.body === 'object'
    )
      (ctx.body as Record<string, unknown>).interval = POLL_INTERVAL_SECONDS;
  });
  handle = provider.callback();

  return {
    issuer,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
