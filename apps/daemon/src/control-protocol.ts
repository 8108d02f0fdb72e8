/**
 * The control API between the `ockam` command and a node: HTTP/1.1 with JSON bodies on a Unix
 * socket (`nodes/<name>/api.sock`, mode 0600). This protocol is ours, not Ockam's (DESIGN.md §5).
 */

export interface NodeStatus {
  name: string;
  pid: number;
  tcpListenerAddress: string;
  /** The identifier of the identity the node presents in secure channels. */
  identifier: string;
  uptimeMs: number;
  services: string[];
  tcpConnections: TcpConnectionInfo[];
  secureChannels: { initiated: number; accepted: number };
  httpServerAddress: string | null;
  websocketListenerAddress: string | null;
  udp: { rendezvous: string | null; rendezvousService: string | null; stats: Record<string, number> } | null;
}

export interface TcpConnectionInfo {
  senderAddress: string;
  peer: string;
  flowControlId: string;
  exposed: boolean;
}

export interface CreateTcpConnectionRequest {
  /** HOST:PORT to connect to. */
  to: string;
  /** Make the connection reachable from this node's listener (for multi-hop routes). */
  expose?: boolean;
}

export interface SendMessageRequest {
  /** Route as a list of address texts: `0#echo`, `1#127.0.0.1:4000`. */
  route: string[];
  payloadHex: string;
  timeoutMs?: number;
}

export interface SendMessageResponse {
  payloadHex: string;
  returnRoute: string[];
}

export interface ApiErrorBody {
  error: { kind: string; message: string };
}
