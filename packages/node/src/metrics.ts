/**
 * A node's Prometheus metrics, as data: the daemon's status server renders them at `/metrics`, a
 * program embedding a node can read them with `node.metrics()`.
 */
import type { InboundStats, Node } from '@ockam/core';
import type { TcpTransport } from '@ockam/transport-tcp';
import type { WebSocketTransport } from '@ockam/transport-websocket';
import type { SecureChannels } from './secure-channels.js';
import type { WorkerMessageTotals } from './worker-kinds.js';

/** One metric family: its samples and what Prometheus needs to show them. */
export interface Metric {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: Array<{ labels?: Record<string, string>; value: number }>;
}

export type TcpTotals = { bytesRead: number; bytesWritten: number; messagesIn: number; messagesOut: number };

export function nodeMetrics(
  node: Node,
  tcp: TcpTransport,
  closed: TcpTotals,
  channels: SecureChannels,
  started: number,
  workerMessages: WorkerMessageTotals,
  ws: WebSocketTransport | undefined,
): Metric[] {
  const conns = tcp.connections();
  const sum = (f: (s: TcpTotals) => number) => conns.reduce((n, c) => n + f(c.stats()), f(closed));

  const open = channels.openCounts();
  const handshakes = channels.handshakeCounts();
  return [
    {
      name: 'ockam_worker_messages_total',
      help: 'Messages delivered to workers, by kind (a service name, or secure_channel, tcp_sender, relay, ...)',
      type: 'counter',
      samples: [...workerMessages.read(node.deliveryCounts())]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([kind, value]) => ({ labels: { kind }, value })),
    },
    {
      name: 'ockam_tcp_connections_open',
      help: 'Open TCP connections',
      type: 'gauge',
      samples: [{ value: conns.length }],
    },
    {
      name: 'ockam_transport_connections_limited_total',
      help: 'Connections refused (max-connections) or closed by a limit of the TCP or WebSocket transport',
      type: 'counter',
      samples: [
        ...limitSamples('tcp', tcp.inboundStats()),
        ...(ws ? limitSamples('websocket', ws.inboundStats()) : []),
      ],
    },
    {
      name: 'ockam_tcp_bytes_received_total',
      help: 'Bytes read from open TCP connections',
      type: 'counter',
      samples: [{ value: sum((s) => s.bytesRead) }],
    },
    {
      name: 'ockam_tcp_bytes_sent_total',
      help: 'Bytes written to open TCP connections',
      type: 'counter',
      samples: [{ value: sum((s) => s.bytesWritten) }],
    },
    {
      name: 'ockam_tcp_messages_received_total',
      help: 'Messages read from open TCP connections',
      type: 'counter',
      samples: [{ value: sum((s) => s.messagesIn) }],
    },
    {
      name: 'ockam_tcp_messages_sent_total',
      help: 'Messages written to open TCP connections',
      type: 'counter',
      samples: [{ value: sum((s) => s.messagesOut) }],
    },
    {
      name: 'ockam_secure_channel_handshakes_total',
      help: 'Secure channel handshakes by outcome',
      type: 'counter',
      samples: [
        { labels: { result: 'initiated' }, value: channels.handshakes.initiated },
        { labels: { result: 'accepted' }, value: channels.handshakes.accepted },
        { labels: { result: 'failed' }, value: channels.handshakes.failed },
        { labels: { result: 'dropped' }, value: handshakes.dropped },
      ],
    },
    {
      name: 'ockam_secure_channel_handshakes_pending',
      help: 'Unfinished secure channel handshakes over all listeners (failed ones until their deadline)',
      type: 'gauge',
      samples: [{ value: handshakes.pending }],
    },
    {
      name: 'ockam_secure_channels_open',
      help: 'Open secure channels by role',
      type: 'gauge',
      samples: [
        { labels: { role: 'initiator' }, value: open.initiated },
        { labels: { role: 'responder' }, value: open.accepted },
      ],
    },
    {
      name: 'ockam_secure_channels_idle_closed_total',
      help: 'Secure channels accepted by a listener and closed for carrying nothing for the idle timeout',
      type: 'counter',
      samples: [{ value: handshakes.idleClosed }],
    },
    {
      name: 'process_resident_memory_bytes',
      help: 'Resident set size',
      type: 'gauge',
      samples: [{ value: process.memoryUsage.rss() }],
    },
    {
      name: 'process_uptime_seconds',
      help: 'Seconds since the node started',
      type: 'gauge',
      samples: [{ value: (Date.now() - started) / 1000 }],
    },
  ];
}

function limitSamples(transport: string, stats: InboundStats): Metric['samples'] {
  return [
    { labels: { transport, limit: 'max-connections' }, value: stats.refused },
    ...Object.entries(stats.closed).map(([limit, value]) => ({ labels: { transport, limit }, value })),
  ];
}
