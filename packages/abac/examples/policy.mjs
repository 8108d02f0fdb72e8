import {
  abacIncomingAccessControl,
  environment,
  isAllowed,
  MemoryPolicyStore,
  Policies,
  parseExpr,
  parsePolicyExpression,
  printExpr,
} from '@ockam/abac';
import { encodeBareString, Node } from '@ockam/core';

// 1. Expressions: the shorthand and the full language, printed as Ockam prints them.
const policy = parsePolicyExpression('component.db and not web');
console.log(printExpr(policy.expr));

// 2. Evaluation: anything but `true` — an error included — denies.
const env = environment({ 'subject.component.db': 'true', 'subject.web': 'false' });
console.log(isAllowed(policy.expr, env), isAllowed(parseExpr('(= subject.missing "x")'), env));

// 3. An access control on a worker: the subject is the secure channel peer that delivered the
//    message, its attributes come from an AttributesLookup (see @ockam/credentials).
const AUTHORITY = `I${'a'.repeat(64)}`;
const ALICE = `I${'1'.repeat(64)}`;
const attributes = {
  getAttributes: (subject, issuer) =>
    subject === ALICE && issuer === AUTHORITY
      ? {
          attributes: new Map([['component.db', new TextEncoder().encode('true')]]),
          attestedBy: issuer,
          addedAt: 0,
        }
      : undefined,
};
const policies = new Policies(new MemoryPolicyStore());
await policies.storeDefaultResourceTypePolicies(); // (= subject.has_credential true) for every type
await policies.setPolicy({ resourceName: 'db' }, 'component.db');

const node = new Node();
node.startWorker(
  'db',
  {
    handleMessage: (_ctx, m) =>
      console.log('db got a message from', m.message.localInfo.secureChannelIdentifier.slice(0, 5)),
  },
  {
    incoming: abacIncomingAccessControl({
      policies,
      resource: { name: 'db', type: 'tcp-outlet' },
      attributes,
      authority: AUTHORITY,
    }),
  },
);
const client = node.client();
// Here we pose as a secure channel; in a real node the channel's decryptor sets this local info.
await client.send(['db'], encodeBareString('hi'), { localInfo: { secureChannelIdentifier: ALICE } });
await client.send(['db'], encodeBareString('hi'), {
  localInfo: { secureChannelIdentifier: `I${'2'.repeat(64)}` },
});
await new Promise((r) => setTimeout(r, 10));
await node.stop();
