// An authority, an admin who mints an enrollment ticket, and a newcomer who enrolls with it and
// keeps a fresh credential — all on real TCP sockets and secure channels, in one process.
import { Node } from '@ockam/core';
import {
  CredentialRetriever,
  createEnrollmentToken,
  decodeEnrollmentTicket,
  encodeEnrollmentTicket,
  MemoryMemberStore,
  MemoryTokenStore,
  presentEnrollmentToken,
  startAuthority,
  ticketIdentities,
} from '@ockam/credentials';
import { createIdentity } from '@ockam/identity';
import { createSecureChannel, createSecureChannelListener, trustIdentifier } from '@ockam/secure-channel';
import { TcpTransport } from '@ockam/transport-tcp';
import { createVault } from '@ockam/vault';

// The authority node: TCP listener, secure channel listener at `api`, the four services.
const authorityVault = createVault();
const authority = await createIdentity(authorityVault);
const adminVault = createVault();
const admin = await createIdentity(adminVault);

const authorityNode = new Node({ name: 'authority' });
const tcp = new TcpTransport(authorityNode);
authorityNode.registerTransport(tcp);
const tcpListener = await tcp.listen('127.0.0.1:0');
const channels = await createSecureChannelListener(authorityNode, {
  identity: authority,
  vault: authorityVault,
  consumerOf: [tcpListener.flowControlId],
});
await startAuthority(authorityNode, {
  vault: authorityVault,
  identity: authority,
  projectId: 'my-project',
  members: new MemoryMemberStore(),
  tokens: new MemoryTokenStore(),
  trustedIdentities: new Map([[admin.identifier, new Map([['ockam-role', 'enroller']])]]),
  flowControlId: channels.flowControlId,
});
// Ockam reads a project id from the first label of a /dnsaddr route (here "127"), and takes an
// address literal there as such.
const route = `/dnsaddr/127.0.0.1/tcp/${tcpListener.address.port}/service/api`;

// A client node; `open` gives a secure channel to the authority as `who`.
const edge = new Node({ name: 'edge' });
edge.registerTransport(new TcpTransport(edge));
async function open(who, vault) {
  const channel = await createSecureChannel(edge, [`1#127.0.0.1:${tcpListener.address.port}`, 'api'], {
    identity: who,
    vault,
    trustPolicy: trustIdentifier(authority.identifier),
  });
  const client = edge.client();
  edge.flowControls.addConsumer(client.address, channel.flowControlId);
  return {
    client,
    via: [channel.encryptorAddress],
    close: async () => {
      await client.stop();
      await channel.close();
    },
  };
}

// The admin mints a one-time code and writes a ticket.
const adminConnection = await open(admin, adminVault);
const oneTimeCode = await createEnrollmentToken(adminConnection.client, adminConnection.via, {
  attributes: new Map([['component', 'db']]),
});
await adminConnection.close();
const ticket = encodeEnrollmentTicket({
  oneTimeCode,
  projectRoute: route,
  projectName: 'default',
  authorityChangeHistory: authority.export(),
});

// The newcomer reads the ticket, presents the code, and keeps a credential.
const read = decodeEnrollmentTicket(ticket);
const trusted = ticketIdentities(read).authority;
const newcomerVault = createVault();
const newcomer = await createIdentity(newcomerVault);
const connection = await open(newcomer, newcomerVault);
await presentEnrollmentToken(connection.client, connection.via, read.oneTimeCode);
await connection.close();

const retriever = new CredentialRetriever({
  subject: newcomer.identifier,
  authority: trusted,
  connect: () => open(newcomer, newcomerVault),
});
const { verified } = await retriever.start();
console.log(Object.fromEntries(verified.attributes));
console.log('valid for', (verified.expiresAt - verified.createdAt) / 86400, 'days');

retriever.stop();
await edge.stop();
await authorityNode.stop();
