/**
 * Resources that policies protect (PROTOCOL.md §6): a name chosen by the node (an inlet's alias,
 * an outlet's address) and a type with Ockam's codes. The only action is `handle_message`.
 */

/** Resource types and their CBOR codes (`#[cbor(index_only)]`). */
export const RESOURCE_TYPES = {
  'tcp-inlet': 1,
  'tcp-outlet': 2,
  echoer: 3,
  'kafka-consumer': 4,
  'kafka-producer': 5,
  relay: 6,
  lessor: 7,
} as const;

export type ResourceType = keyof typeof RESOURCE_TYPES;

/** Every resource type, in Ockam's order. */
export const ALL_RESOURCE_TYPES = Object.keys(RESOURCE_TYPES) as ResourceType[];

export function isResourceType(value: unknown): value is ResourceType {
  return typeof value === 'string' && Object.hasOwn(RESOURCE_TYPES, value);
}

/** The resource type for a name, with an error listing the valid ones. */
export function parseResourceType(value: string): ResourceType {
  if (!isResourceType(value))
    throw new RangeError(
      `unknown resource type ${JSON.stringify(value)}; expected one of ${ALL_RESOURCE_TYPES.join(', ')}`,
    );
  return value;
}

/** The resource type with a CBOR code. */
export function resourceTypeFromCode(code: number): ResourceType | undefined {
  return ALL_RESOURCE_TYPES.find((t) => RESOURCE_TYPES[t] === code);
}

/** The only action (`Action::HandleMessage`, code 1). */
export type Action = 'handle_message';
export const HANDLE_MESSAGE: Action = 'handle_message';

export interface Resource {
  readonly name: string;
  readonly type: ResourceType;
}
