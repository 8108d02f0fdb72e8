/**
 * The browser example served by a node under /example/ (`ockam node create --http-server … `):
 * a node in the page with the WebSocket transport (the browser entry), a noble vault and a fresh
 * identity. It connects to a node's WebSocket listener, opens a secure channel through a relay to
 * the `api` secure-channel listener of the node that registered it, and asks `uppercase` there.
 *
 *   page --WS--> relay node: forward_to_NAME --TCP--> service node: api (secure channel) --> uppercase
 *
 * Bundled by scripts/bundle-browser-example.mjs (esbuild, platform=browser) into
 * browser-example/ockam-example.js.
 */
import { decodeBareString, encodeBareString, Node } from '@ockam/core';
import { createIdentity } from '@ockam/identity';
import { createSecureChannel, type TrustPolicy, trustEveryone, trustIdentifier } from '@ockam/secure-channel';
import { WebSocketTransport } from '@ockam/transport-websocket';
import { createVault } from '@ockam/vault';

export interface SendOptions {
  /** The node's WebSocket listener: `host:port` or a `ws://`/`wss://` URL. */
  ws: string;
  /** Hops from the WebSocket connection to the secure-channel listener's node, e.g. `forward_to_svc`. */
  route: string[];
  /** The text sent to `uppercase`. */
  message: string;
  /** The identifier the service node must prove; anyone when omitted. */
  identifier?: string;
  /** Progress, for the page. */
  onStatus?: (status: string) => void;
}

export interface SendResult {
  reply: string;
  identifier: string;
  peerIdentifier: string;
}

/** Opens a secure channel through `route` to `api` and asks `uppercase` for `message`. */
export async function sendThroughSecureChannel(options: SendOptions): Promise<SendResult> {
  const status = options.onStatus ?? (() => {});
  const node = new Node({ name: 'browser' });
  const transport = new WebSocketTransport(node);
  node.registerTransport(transport);
  try {
    const vault = createVault('noble');
    const me = await createIdentity(vault);
    status(`connecting to ${options.ws}`);
    const connection = await transport.connect(options.ws);
    status('opening a secure channel');
    const trustPolicy: TrustPolicy = options.identifier ? trustIdentifier(options.identifier) : trustEveryone;
    const channel = await createSecureChannel(node, [connection.senderAddress, ...options.route, 'api'], {
      identity: me,
      vault,
      trustPolicy,
      consumerOf: [connection.flowControlId],
      timeoutMs: 15_000,
    });
    try {
      status('sending');
      const client = node.client();
      node.flowControls.addConsumer(client.address, channel.flowControlId);
      const reply = await client.request(
        [channel.encryptorAddress, 'uppercase'],
        encodeBareString(options.message),
        {
          timeoutMs: 15_000,
        },
      );
      return {
        reply: decodeBareString(reply.payload),
        identifier: me.identifier,
        peerIdentifier: channel.peerIdentifier,
      };
    } finally {
      await channel.close().catch(() => {});
    }
  } finally {
    await node.stop();
  }
}

/** Wires the page: #message, #send, #reply, #status; `?ws=HOST:PORT&route=forward_to_NAME[&id=I…]`. */
function start(): void {
  const params = new URLSearchParams(location.search);
  const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T | null;
  const input = $<HTMLInputElement>('message');
  const button = $<HTMLButtonElement>('send');
  const reply = $('reply');
  const statusEl = $('status');
  if (!input || !button || !reply) return;
  const setStatus = (s: string) => {
    if (statusEl) statusEl.textContent = s;
  };
  const ws = params.get('ws') ?? (location.hostname ? `${location.hostname}:4000` : '');
  const route = (params.get('route') ?? 'forward_to_default').split(',').filter((h) => h !== '');
  const identifier = params.get('id') ?? undefined;
  const routeEl = $('route');
  if (routeEl)
    routeEl.textContent = `ws://${ws.replace(/^wss?:\/\//, '')} → ${[...route, 'api'].join(' → ')} → uppercase`;
  button.disabled = false;
  setStatus('ready');
  button.addEventListener('click', () => {
    button.disabled = true;
    reply.textContent = '';
    reply.removeAttribute('data-error');
    sendThroughSecureChannel({
      ws,
      route,
      message: input.value,
      ...(identifier ? { identifier } : {}),
      onStatus: setStatus,
    })
      .then(
        (r) => {
          reply.textContent = r.reply;
          setStatus(`secure channel with ${r.peerIdentifier}`);
        },
        (e: unknown) => {
          reply.setAttribute('data-error', 'true');
          reply.textContent = '';
          setStatus(`error: ${e instanceof Error ? e.message : String(e)}`);
        },
      )
      .finally(() => {
        button.disabled = false;
      });
  });
}

if (typeof document !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}
