/**
 * Issue 15, matrix 6: what both sides have in 0.139 over UDP. A rendezvous server of one
 * implementation tells nodes of the other their address, and a TCP portal runs over a punched UDP
 * path (`tcp-inlet create --udp --no-tcp-fallback`) between an inlet of one implementation and an
 * outlet of the other, negotiated through a secure channel over TCP (PROTOCOL.md §2.2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BodyServer, getSha256, serveBody } from '../src/http.js';
import { bothSides, PAIRS, rustMissing } from '../src/ockam.js';
import { freePort } from '../src/ports.js';
import { until } from '../src/wait.js';

/**
 * The body carried over UDP. Ockam Rust's UDP receiver reassembles one routing message at a time and
 * drops it whole when any of its 493-byte fragments is lost; on loopback, fragments are lost when
 * the receiving process falls behind and its socket buffer (about 208 KiB by default) overflows,
 * as happens on a busy 2-core machine with a 2 MiB body. 64 KiB fits that buffer, so a request
 * holds up under load and the test checks the portal, not the machine's scheduler.
 */
const UDP_BODY_BYTES = 64 * 1024;

const skip = rustMissing();
if (skip) console.warn(`interop udp: skipped: ${skip}`);

describe.skipIf(skip !== undefined)('UDP puncture between our nodes and Ockam Rust 0.139', () => {
  const sides = bothSides();
  let web: BodyServer;
  beforeAll(async () => {
    web = await serveBody(UDP_BODY_BYTES);
  });
  afterAll(async () => {
    await web?.close();
  });

  /** Starts a rendezvous server of `impl` on a free UDP port; resolves with `127.0.0.1:PORT`. */
  async function rendezvous(impl: 'ours' | 'rust'): Promise<string> {
    const port = await freePort('udp');
    const address = `127.0.0.1:${port}`;
    if (impl === 'ours') await sides.ours.ok(['rendezvous', 'create', 'rv', '--udp-address', address]);
    else {
      const server = sides.rust.start([
        'rendezvous',
        'create',
        `--udp=${address}`,
        '--healthcheck=127.0.0.1:0',
      ]);
      await until(
        () => !server.running || /rendezvous|listen|started/i.test(server.output),
        60_000,
        'rust rendezvous up',
      );
      expect(server.running, server.output).toBe(true);
    }
    return address;
  }

  describe.each(PAIRS)('%s inlet, %s outlet', (inletSide, outletSide) => {
    it(`carries a TCP portal over a punched UDP path, with a ${outletSide} rendezvous server`, async () => {
      const server = await rendezvous(outletSide);
      const udpArgs = (impl: 'ours' | 'rust') =>
        impl === 'ours' ? ['--udp', '--rendezvous', server] : ['--udp'];
      const env = { OCKAM_RENDEZVOUS_SERVER: server };
      const O = sides[outletSide];
      const I = sides[inletSide];
      const bob = await O.createNode(`bob-${inletSide}`, udpArgs(O.impl), env);
      await O.ok(['tcp-outlet', 'create', '--at', bob.name, '--to', `127.0.0.1:${web.port}`]);
      const alice = await I.createNode(`alice-${outletSide}`, udpArgs(I.impl), env);
      const port = await freePort('tcp');
      await I.ok(
        [
          'tcp-inlet',
          'create',
          '--at',
          alice.name,
          '--udp',
          '--no-tcp-fallback',
          '--from',
          `127.0.0.1:${port}`,
          '--to',
          `${bob.route}/secure/api/service/outlet`,
        ],
        { env },
      );
      const digest = await getSha256(`http://127.0.0.1:${port}/`);
      expect(digest).toBe(web.sha256);
    });
  });
});
