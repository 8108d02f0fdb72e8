/**
 * Declarative node configuration (PROTOCOL.md §10.5), for `ockam node create FILE`,
 * `--configuration '<yaml>'` and `ockam run FILE`. Ockam's keys:
 *
 * ```yaml
 * variables: { PG_PORT: 5432 }        # $PG_PORT / ${PG_PORT}; environment variables override
 * name: db                            # node name (or `nodes:` for several, with `ockam run`)
 * tcp-listener-address: 127.0.0.1:4000
 * http-server: 127.0.0.1:9000
 * identity: db-identity
 * project: default
 * ticket: db.ticket                   # a file or the ticket itself; also $ENROLLMENT_TICKET
 * relays: db                          # a name, a list, or { name: { at: ROUTE } }
 * policies: [{ resource: db-outlet, expression: component.web }]
 * tcp-outlets: { db-outlet: { to: $PG_PORT, from: outlet, allow: component.web } }
 * tcp-inlets: { web-inlet: { from: 15432, to: db, via: RELAY, allow: …, authorized: [I…] } }
 * kafka-outlet: { bootstrap-server: 127.0.0.1:9092 }   # the flags of `kafka-outlet create`
 * kafka-inlets: { kafka_inlet: { from: 4000, to: /project/default/service/forward_to_kafka/secure/api } }
 * ```
 *
 * The whole file is checked before anything is created; an error names the file, the line and
 * the key (`db.yaml:7: tcp-outlets.db-outlet.to: expected a port or HOST:PORT`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { MultiAddr, OckamError, parseHostPort } from '@ockam/core';
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type YAMLMap,
  type Node as YamlNode,
} from 'yaml';

export interface OutletConfig {
  name: string;
  to: string;
  from: string;
  allow?: string;
}

export interface InletConfig {
  name: string;
  from: string;
  to?: string;
  via?: string;
  allow?: string;
  authorized?: string[];
}

export interface RelayConfig {
  name: string;
  at?: string;
}

export interface PolicyConfig {
  at?: string;
  resource?: string;
  resourceType?: string;
  expression: string;
}

export interface NodeConfig {
  name?: string;
  tcpListenerAddress?: string;
  httpServer?: string;
  identity?: string;
  project?: string;
  ticket?: string;
  relays: RelayConfig[];
  policies: PolicyConfig[];
  outlets: OutletConfig[];
  inlets: InletConfig[];
  /** `kafka-outlet(s)`: the flags of `kafka-outlet create`, by name (`--addr`). */
  kafkaOutlets: KafkaServiceFlags[];
  /** `kafka-inlet(s)`: the flags of `kafka-inlet create`, by name (`--addr`). */
  kafkaInlets: KafkaServiceFlags[];
}

/** A kafka service's flags from a configuration: kebab-case flag names, without `--`. */
export interface KafkaServiceFlags {
  addr: string;
  flags: Record<string, string | boolean | string[]>;
}

const KAFKA_INLET_KEYS = [
  'at',
  'addr',
  'from',
  'brokers-port-range',
  'to',
  'consumer',
  'consumer-relay',
  'publishing-relay',
  'avoid-publishing',
  'disable-content-encryption',
  'encrypted-field',
  'encrypted-fields',
  'allow',
  'allow-consumer',
  'allow-producer',
];
const KAFKA_OUTLET_KEYS = ['at', 'addr', 'bootstrap-server', 'tls', 'allow'];
const KAFKA_BOOLEAN_KEYS = new Set(['avoid-publishing', 'disable-content-encryption', 'tls']);

export class ConfigError extends OckamError {
  constructor(message: string) {
    super('application', 'invalid', message);
  }
}

const NODE_KEYS = new Set([
  'version',
  'variables',
  'name',
  'tcp-listener-address',
  'http-server',
  'http-server-port',
  'identity',
  'project',
  'ticket',
  'relay',
  'relays',
  'policy',
  'policies',
  'tcp-outlet',
  'tcp-outlets',
  'tcp-inlet',
  'tcp-inlets',
  'kafka-inlet',
  'kafka-inlets',
  'kafka-outlet',
  'kafka-outlets',
  'nodes',
  'skip-is-running-check',
  'foreground',
]);

class Reader {
  constructor(
    readonly file: string,
    readonly lines: LineCounter,
    readonly vars: Map<string, string>,
  ) {}

  fail(node: YamlNode | null | undefined, key: string, message: string): never {
    const offset = node?.range?.[0];
    const line = offset === undefined ? '' : `:${this.lines.linePos(offset).line}`;
    throw new ConfigError(`${this.file}${line}: ${key}: ${message}`);
  }

  /** A scalar as text, with $VAR / ${VAR} replaced. */
  text(node: YamlNode | null | undefined, key: string): string {
    if (!isScalar(node) || node.value === null || typeof node.value === 'object')
      this.fail(node, key, 'expected a single value');
    return String(node.value).replace(
      /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
      (_m, a: string | undefined, b: string | undefined) => {
        const name = (a ?? b)!;
        const v = this.vars.get(name);
        if (v === undefined)
          this.fail(node, key, `variable $${name} is not defined (in 'variables:' or the environment)`);
        return v;
      },
    );
  }

  optText(map: YAMLMap, k: string, key: string): string | undefined {
    const n = map.get(k, true) as YamlNode | undefined;
    return n === undefined ? undefined : this.text(n, `${key}.${k}`);
  }

  map(node: YamlNode | null | undefined, key: string): YAMLMap {
    if (!isMap(node)) this.fail(node, key, 'expected a mapping of names to settings');
    return node;
  }

  /** `{ name: {…} }`, or a list of names / of `{ name: {…} }`. */
  entries(node: YamlNode | null | undefined, key: string): Array<[string, YAMLMap | undefined, YamlNode]> {
    if (isScalar(node)) return [[this.text(node, key), undefined, node]];
    if (isSeq(node)) return node.items.flatMap((item, i) => this.entries(item as YamlNode, `${key}[${i}]`));
    if (isMap(node)) {
      return node.items.map((pair) => {
        const name = this.text(pair.key as YamlNode, key);
        const v = pair.value as YamlNode | null;
        if (v !== null && !isMap(v)) this.fail(v, `${key}.${name}`, 'expected settings (a mapping)');
        return [name, (v ?? undefined) as YAMLMap | undefined, pair.key as YamlNode] as [
          string,
          YAMLMap | undefined,
          YamlNode,
        ];
      });
    }
    return this.fail(node, key, 'expected a name, a list or a mapping');
  }

  checkKeys(map: YAMLMap | undefined, allowed: string[], key: string): void {
    if (!map) return;
    for (const pair of map.items) {
      const k = String((pair.key as { value?: unknown }).value);
      if (!allowed.includes(k))
        this.fail(pair.key as YamlNode, `${key}.${k}`, `unknown key (expected one of ${allowed.join(', ')})`);
    }
  }
}

function hostPortText(r: Reader, node: YamlNode, key: string): string {
  const v = r.text(node, key);
  try {
    parseHostPort(v);
  } catch {
    r.fail(node, key, `expected a port or HOST:PORT, got '${v}'`);
  }
  return v;
}

/**
 * `kafka-inlet(s)` / `kafka-outlet(s)`, as Ockam reads them: a map of the command's flags (one
 * service, named by its `addr` or the default), or a map of named services whose name is the
 * `addr`.
 */
function kafkaServices(
  r: Reader,
  node: YamlNode,
  key: string,
  allowed: string[],
  defaultAddr: string,
): KafkaServiceFlags[] {
  const m = r.map(node, key);
  // Flags have single values (or a list of fields); a named service's settings are a mapping.
  const single = m.items.some(
    (pair) => allowed.includes(String((pair.key as { value?: unknown }).value)) && !isMap(pair.value),
  );
  const entries: Array<[string | undefined, YAMLMap | undefined, string]> = single
    ? [[undefined, m, key]]
    : r.entries(node, key).map(([n, settings]) => [n, settings, `${key}.${n}`]);
  return entries.map(([name, settings, k]) => {
    r.checkKeys(settings, allowed, k);
    const flags: Record<string, string | boolean | string[]> = {};
    for (const pair of settings?.items ?? []) {
      const flag = String((pair.key as { value?: unknown }).value);
      const value = pair.value as YamlNode;
      if (KAFKA_BOOLEAN_KEYS.has(flag)) {
        const text = r.text(value, `${k}.${flag}`);
        if (text !== 'true' && text !== 'false') r.fail(value, `${k}.${flag}`, 'expected true or false');
        flags[flag] = text === 'true';
      } else if (flag === 'encrypted-field' || flag === 'encrypted-fields')
        flags['encrypted-field'] = [
          ...((flags['encrypted-field'] as string[] | undefined) ?? []),
          ...(isSeq(value)
            ? value.items.map((v, i) => r.text(v as YamlNode, `${k}.${flag}[${i}]`))
            : [r.text(value, `${k}.${flag}`)]),
        ];
      else flags[flag] = r.text(value, `${k}.${flag}`);
    }
    const addr = (flags.addr as string | undefined) ?? name ?? defaultAddr;
    return { addr, flags };
  });
}

function nodeConfig(r: Reader, map: YAMLMap, base: string): NodeConfig {
  for (const pair of map.items) {
    const k = String((pair.key as { value?: unknown }).value);
    if (!NODE_KEYS.has(k))
      r.fail(
        pair.key as YamlNode,
        `${base}${k}`,
        `unknown key (expected one of ${[...NODE_KEYS].join(', ')})`,
      );
  }
  const get = (...names: string[]) =>
    names.map((n) => map.get(n, true) as YamlNode | undefined).find((x) => x !== undefined);
  const cfg: NodeConfig = {
    relays: [],
    policies: [],
    outlets: [],
    inlets: [],
    kafkaOutlets: [],
    kafkaInlets: [],
  };
  const name = map.get('name', true) as YamlNode | undefined;
  if (name) cfg.name = r.text(name, `${base}name`);
  const tla = map.get('tcp-listener-address', true) as YamlNode | undefined;
  if (tla) cfg.tcpListenerAddress = hostPortText(r, tla, `${base}tcp-listener-address`);
  const http = get('http-server', 'http-server-port');
  if (http) cfg.httpServer = hostPortText(r, http, `${base}http-server`);
  const identity = map.get('identity', true) as YamlNode | undefined;
  if (identity) cfg.identity = r.text(identity, `${base}identity`);
  const project = map.get('project', true) as YamlNode | undefined;
  if (project) cfg.project = r.text(project, `${base}project`);
  const ticket = map.get('ticket', true) as YamlNode | undefined;
  if (ticket) cfg.ticket = r.text(ticket, `${base}ticket`);

  const relays = get('relays', 'relay');
  if (relays) {
    for (const [n, settings, at] of r.entries(relays, `${base}relays`)) {
      r.checkKeys(settings, ['at', 'to'], `${base}relays.${n}`);
      const route = settings ? r.optText(settings, 'at', `${base}relays.${n}`) : undefined;
      if (route) {
        try {
          MultiAddr.parse(route);
        } catch (e) {
          r.fail(at, `${base}relays.${n}.at`, (e as Error).message);
        }
      }
      cfg.relays.push({ name: n, ...(route ? { at: route } : {}) });
    }
  }

  const outlets = get('tcp-outlets', 'tcp-outlet');
  if (outlets) {
    // `tcp-outlets: {to: 8080}`: one outlet's settings without a name (Ockam accepts it); its
    // worker address is then Ockam's default, `outlet`.
    const unnamed = isMap(outlets) && isScalar(outlets.get('to', true));
    const entries: Array<[string, YAMLMap | undefined, YamlNode]> = unnamed
      ? [['outlet', outlets as YAMLMap, outlets as YamlNode]]
      : r.entries(outlets, `${base}tcp-outlets`);
    for (const [n, settings, at] of entries) {
      const key = `${base}tcp-outlets.${n}`;
      if (!settings) r.fail(at, key, "needs settings, at least 'to'");
      r.checkKeys(settings, ['to', 'from', 'allow', 'at'], key);
      const to = settings.get('to', true) as YamlNode | undefined;
      if (!to) r.fail(at, `${key}.to`, 'is required (the TCP service, PORT or HOST:PORT)');
      const from = r.optText(settings, 'from', key);
      const allow = r.optText(settings, 'allow', key);
      cfg.outlets.push({
        name: n,
        to: hostPortText(r, to, `${key}.to`),
        from: (from ?? n).replace(/^\/service\//, ''),
        ...(allow ? { allow } : {}),
      });
    }
  }

  const inlets = get('tcp-inlets', 'tcp-inlet');
  if (inlets) {
    for (const [n, settings, at] of r.entries(inlets, `${base}tcp-inlets`)) {
      const key = `${base}tcp-inlets.${n}`;
      r.checkKeys(settings, ['from', 'to', 'via', 'allow', 'authorized', 'at'], key);
      const from = settings?.get('from', true) as YamlNode | undefined;
      const to = settings ? r.optText(settings, 'to', key) : undefined;
      const via = settings ? r.optText(settings, 'via', key) : undefined;
      const allow = settings ? r.optText(settings, 'allow', key) : undefined;
      if (to?.startsWith('/')) {
        try {
          MultiAddr.parse(to);
        } catch (e) {
          r.fail(settings?.get('to', true) as YamlNode, `${key}.to`, (e as Error).message);
        }
      }
      const authorizedNode = settings?.get('authorized', true) as YamlNode | undefined;
      const authorized = authorizedNode
        ? r
            .entries(authorizedNode, `${key}.authorized`)
            .map(([v, , node]) =>
              /^I[0-9a-f]{64}$/.test(v)
                ? v
                : r.fail(node, `${key}.authorized`, `'${v}' is not an identifier`),
            )
        : undefined;
      cfg.inlets.push({
        name: n,
        from: from ? hostPortText(r, from, `${key}.from`) : '127.0.0.1:0',
        ...(to ? { to } : {}),
        ...(via ? { via } : {}),
        ...(allow ? { allow } : {}),
        ...(authorized ? { authorized } : {}),
      });
      void at;
    }
  }

  const kafkaOutlets = get('kafka-outlets', 'kafka-outlet');
  if (kafkaOutlets)
    cfg.kafkaOutlets = kafkaServices(
      r,
      kafkaOutlets,
      `${base}kafka-outlets`,
      KAFKA_OUTLET_KEYS,
      'kafka_outlet',
    );
  const kafkaInlets = get('kafka-inlets', 'kafka-inlet');
  if (kafkaInlets)
    cfg.kafkaInlets = kafkaServices(r, kafkaInlets, `${base}kafka-inlets`, KAFKA_INLET_KEYS, 'kafka_inlet');

  const policies = get('policies', 'policy');
  if (policies) {
    const items = isSeq(policies) ? policies.items : [policies];
    items.forEach((item, i) => {
      const key = `${base}policies[${i}]`;
      const m = r.map(item as YamlNode, key);
      r.checkKeys(m, ['at', 'resource', 'resource-type', 'expression', 'allow'], key);
      const expression = r.optText(m, 'expression', key) ?? r.optText(m, 'allow', key);
      if (!expression) r.fail(m, `${key}.expression`, 'is required');
      const resource = r.optText(m, 'resource', key);
      const resourceType = r.optText(m, 'resource-type', key);
      // Ockam's files write `resource: tcp-inlet` for a resource type.
      const types = [
        'tcp-inlet',
        'tcp-outlet',
        'relay',
        'echoer',
        'kafka-consumer',
        'kafka-producer',
        'lessor',
      ];
      const asType = resourceType ?? (resource && types.includes(resource) ? resource : undefined);
      const at = r.optText(m, 'at', key);
      cfg.policies.push({
        ...(at ? { at } : {}),
        ...(asType ? { resourceType: asType } : { resource: resource! }),
        expression,
      });
      if (!asType && !resource) r.fail(m, key, "needs 'resource' or 'resource-type'");
    });
  }
  return cfg;
}

/** Parses and checks a configuration; nothing is created. `source` is a path or inline text. */
export function loadConfig(
  source: { file: string } | { text: string },
  env: NodeJS.ProcessEnv = process.env,
): { nodes: NodeConfig[]; baseDir: string } {
  const file = 'file' in source ? source.file : '--configuration';
  let text: string;
  if ('file' in source) {
    if (!existsSync(source.file)) throw new ConfigError(`${source.file}: no such file`);
    text = readFileSync(source.file, 'utf8');
  } else text = source.text;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new ConfigError(`${file}:${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`);
  }
  const root = doc.contents as YamlNode | null;
  if (!isMap(root)) throw new ConfigError(`${file}: expected a mapping at the top level`);
  const vars = new Map<string, string>();
  const varsNode = root.get('variables', true) as YamlNode | undefined;
  const r0 = new Reader(file, lines, vars);
  if (varsNode) {
    for (const pair of r0.map(varsNode, 'variables').items) {
      const k = String((pair.key as { value?: unknown }).value);
      vars.set(k, r0.text(pair.value as YamlNode, `variables.${k}`));
    }
  }
  for (const [k, v] of Object.entries(env))
    if (v !== undefined && (vars.has(k) || /^[A-Z_][A-Z0-9_]*$/.test(k))) vars.set(k, v);
  const r = new Reader(file, lines, vars);
  const nodesNode = root.get('nodes', true) as YamlNode | undefined;
  const top = nodeConfig(r, root, '');
  if (!top.ticket && env.ENROLLMENT_TICKET) top.ticket = env.ENROLLMENT_TICKET;
  let nodes: NodeConfig[] = [top];
  if (nodesNode && isMap(nodesNode)) {
    // Several nodes, each with its own settings; top-level resources stay with the first.
    nodes = nodesNode.items.map((pair) => {
      const name = r.text(pair.key as YamlNode, 'nodes');
      const n = pair.value
        ? nodeConfig(r, r.map(pair.value as YamlNode, `nodes.${name}`), `nodes.${name}.`)
        : { relays: [], policies: [], outlets: [], inlets: [], kafkaOutlets: [], kafkaInlets: [] };
      return { ...n, name };
    });
    const first = nodes[0];
    if (first)
      Object.assign(first, {
        ticket: first.ticket ?? top.ticket,
        relays: [...top.relays, ...first.relays],
        policies: [...top.policies, ...first.policies],
        outlets: [...top.outlets, ...first.outlets],
        inlets: [...top.inlets, ...first.inlets],
        kafkaOutlets: [...top.kafkaOutlets, ...first.kafkaOutlets],
        kafkaInlets: [...top.kafkaInlets, ...first.kafkaInlets],
      });
  } else if (nodesNode) {
    const names = r.entries(nodesNode, 'nodes').map(([n]) => n);
    if (names.length !== 1)
      r.fail(nodesNode, 'nodes', 'a list of several nodes needs settings per node: use a mapping');
    top.name = names[0]!;
  }
  return { nodes, baseDir: 'file' in source ? dirname(resolve(source.file)) : process.cwd() };
}
