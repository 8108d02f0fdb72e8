/**
 * A provider is hostile input too: an HTTP server on a real socket that answers as an attacker
 * would (an endless discovery document, a user code with terminal escape sequences). The person's
 * side refuses before anything is parsed past the bound or printed.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { boundedFetch, deviceLogin } from '../src/index.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** Serves discovery, and `device` as the device authorization response. */
async function hostileProvider(device: Record<string, unknown>, discoveryPadding = 0): Promise<string> {
  let issuer = '';
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') {
      // Written in pieces: chunked, with no declared length to refuse it by.
      res.write(
        JSON.stringify({
          issuer,
          device_authorization_endpoint: `${issuer}/device`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          padding: 'x'.repeat(discoveryPadding),
        }),
      );
      res.end();
    } else if (req.url === '/device') res.end(JSON.stringify(device));
    else {
      res.statusCode = 400;
      res.end('{"error":"invalid_request"}');
    }
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${(server!.address() as { port: number }).port}`;
  return issuer;
}

const login = (issuer: string, onPrompt = () => {}) =>
  deviceLogin({ issuer, clientId: 'c', scopes: ['openid'], nonce: 'n', onPrompt });

describe('a hostile provider', () => {
  it("cannot print escape sequences or odd addresses on the person's terminal", async () => {
    let prompted = false;
    const good = { device_code: 'd', verification_uri: 'http://127.0.0.1/device', expires_in: 600 };
    const escapes = await hostileProvider({ ...good, user_code: '\u001b]0;pwned\u0007ABCD' });
    await expect(login(escapes, () => (prompted = true))).rejects.toThrow(
      /user code that is not 1 to 64 printable/,
    );
    server!.closeAllConnections();
    await new Promise<void>((r) => server!.close(() => r()));
    const uri = await hostileProvider({
      ...good,
      user_code: 'ABCD-EFGH',
      verification_uri: 'javascript:alert(1)',
    });
    await expect(login(uri, () => (prompted = true))).rejects.toThrow(
      /verification_uri that is not a printable web address/,
    );
    expect(prompted).toBe(false);
  });

  it('cannot make anyone read more than 256 KiB of its answers', async () => {
    const issuer = await hostileProvider({}, 300 * 1024);
    await expect(login(issuer)).rejects.toThrow(/more than 262144 bytes/);
    // A body that declares its length is refused before it is read.
    const small = boundedFetch({ maxBytes: 1 });
    await expect(small(`${issuer}/device`)).rejects.toThrow(/answered \d+ bytes; the limit is 1$/);
  });
});
