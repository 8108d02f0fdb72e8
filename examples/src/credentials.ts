/**
 * Credentials and a policy (Ockam Rust's get_started `06-credentials-exchange-*.rs` and
 * `11-attribute-based-authentication*.rs`): an authority issues alice a credential with an
 * attribute; whoever receives it verifies it against the authority, keeps the attribute, and a
 * policy decides: alice is admitted, carol (without a credential, or presenting alice's) is
 * refused. A node whose project has an authority does the same at every secure channel handshake
 * and for every inlet, outlet and relay.
 */
import { authorizeIdentity, parseExpr } from '@ockam/abac';
import { issueCredential, MemoryAttributesStore, presentedCredentialsHandler } from '@ockam/credentials';
import { createIdentity, createPurposeKey } from '@ockam/identity';
import { createVault } from '@ockam/vault';

const vault = createVault('node');
const authority = await createIdentity(vault);
const signingKey = await createPurposeKey(vault, authority, 'credential-signing');
const alice = await createIdentity(vault);
const carol = await createIdentity(vault);

// The authority vouches for alice: `role` is `db-client` (valid 30 minutes by default).
const credential = await issueCredential({
  vault,
  issuer: authority,
  purposeKey: signingKey,
  subject: alice,
  attributes: { role: 'db-client' },
});

// The receiving side trusts the authority: it verifies what peers present and keeps the attributes.
const attributes = new MemoryAttributesStore();
const verify = presentedCredentialsHandler({ trustedAuthorities: [authority], store: attributes });
await verify({ peerIdentifier: alice.identifier, credentials: [credential] });
await verify({ peerIdentifier: carol.identifier, credentials: [credential] }).catch((e: Error) =>
  console.log(`carol presented alice's credential: rejected (${e.message})`),
);

// The policy an outlet would have: only holders of `role = db-client` from this authority.
const policy = parseExpr('(= subject.role "db-client")');
for (const [name, identity] of [
  ['alice', alice],
  ['carol', carol],
] as const) {
  const decision = await authorizeIdentity(identity.identifier, policy, {
    attributes,
    authority: authority.identifier,
  });
  console.log(`${name}: ${decision.allowed ? 'admitted' : 'refused'}`);
}
