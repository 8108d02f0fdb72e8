// ABAC benchmark against dist: parsing and evaluating typical policies, and a full incoming
// access-control decision (environment from an attribute lookup + evaluation), beside the same
// decision written by hand in JavaScript as the reference. Run `pnpm build` first.
import { performance } from 'node:perf_hooks';
import {
  abacIncomingAccessControl,
  environment,
  evaluate,
  MemoryPolicyStore,
  Policies,
  parseExpr,
  parsePolicyExpression,
} from '../dist/index.js';

const TARGET_MS = Number(process.env.BENCH_MS ?? 400);

async function measure(fn) {
  const warmEnd = performance.now() + TARGET_MS / 4;
  while (performance.now() < warmEnd) await fn();
  let ops = 0;
  const start = performance.now();
  while (performance.now() - start < TARGET_MS) {
    await fn();
    ops++;
  }
  return (ops * 1000) / (performance.now() - start);
}

function row(name, opsPerSecond, reference) {
  const ref =
    reference === undefined ? '' : `   (reference ${Math.round(reference).toLocaleString('en-US')} ops/s)`;
  console.log(
    `${name.padEnd(52)} ${Math.round(opsPerSecond).toLocaleString('en-US').padStart(12)} ops/s${ref}`,
  );
}

console.log(`node ${process.version}, ${TARGET_MS} ms per measurement`);
const full =
  '(and (= subject.component "db") (= subject.has_credential true) (member? subject.role ["admin" "dev"]))';
row('parseExpr (3 clauses)', await measure(() => parseExpr(full)));
row(
  'parsePolicyExpression (shorthand)',
  await measure(() => parsePolicyExpression('component.db and not web')),
);
const expr = parseExpr(full);
const env = environment({ 'subject.component': 'db', 'subject.has_credential': true, 'subject.role': 'dev' });
const byHand = (e) =>
  e.get('subject.component')?.value === 'db' &&
  e.get('subject.has_credential')?.value === true &&
  ['admin', 'dev'].includes(e.get('subject.role')?.value);
row('evaluate (3 clauses)', await measure(() => evaluate(expr, env)), await measure(() => byHand(env)));

const AUTHORITY = `I${'a'.repeat(64)}`;
const PEER = `I${'1'.repeat(64)}`;
const entry = {
  attributes: new Map([
    ['component', new TextEncoder().encode('db')],
    ['role', new TextEncoder().encode('dev')],
  ]),
  attestedBy: AUTHORITY,
  addedAt: 0,
};
const attributes = { getAttributes: (s, a) => (s === PEER && a === AUTHORITY ? entry : undefined) };
const policies = new Policies(new MemoryPolicyStore());
await policies.setPolicy({ resourceName: 'db' }, full);
const ac = abacIncomingAccessControl({
  policies,
  resource: { name: 'db', type: 'tcp-outlet' },
  attributes,
  authority: AUTHORITY,
});
const relay = {
  source: {},
  destination: { value: 'db' },
  message: { localInfo: { secureChannelIdentifier: PEER } },
};
const decoder = new TextDecoder();
const handDecision = async (r) => {
  const e = attributes.getAttributes(r.message.localInfo.secureChannelIdentifier, AUTHORITY);
  return (
    e !== undefined &&
    decoder.decode(e.attributes.get('component')) === 'db' &&
    ['admin', 'dev'].includes(decoder.decode(e.attributes.get('role')))
  );
};
row(
  'incoming access control decision (policy store)',
  await measure(() => ac.isAuthorized(relay)),
  await measure(() => handDecision(relay)),
);
