/**
 * Enrollment tickets (PROTOCOL.md §5.2): what `ockam project ticket` prints and
 * `ockam project enroll` reads — a one-time code plus how to reach and trust the project.
 *
 * - "Exported" (newer) format: hex of the UTF-8 text
 *   `route,project_identifier,project_name,otc_hex,project_change_history_hex,authority_change_history_hex[,authority_route]`
 *   (un-hexed text is accepted too). The first field may be a project id instead of a route;
 *   the route is then Ockam's default `/dnsaddr/<id>.projects.orchestrator.ockam.io/…`.
 * - "Legacy" format: hex of the JSON `{"one_time_code": "<64 hex>", "project": <ProjectModel>}`,
 *   which Ockam still emits at this snapshot and tries first when parsing; so do we.
 *
 * @example
 * ```ts
 * const text = encodeEnrollmentTicket({ oneTimeCode, projectRoute: '/dnsaddr/p1.example/tcp/4000/service/api',
 *   projectIdentifier, projectName: 'default', projectChangeHistory, authorityChangeHistory });
 * decodeEnrollmentTicket(text).oneTimeCode; // the same 32 bytes
 * ```
 */
import { fromHex, MultiAddr, toHex } from '@ockam/core';
import { type Identity, importIdentity } from '@ockam/identity';
import { CredentialError } from './credential-error.js';
import { ONE_TIME_CODE_LENGTH, oneTimeCodeFromText, oneTimeCodeToText } from './one-time-code.js';

export interface EnrollmentTicket {
  readonly oneTimeCode: Uint8Array;
  /** The project route, a multiaddr text (`/dnsaddr/<id>…/service/api`, `/ip4/…/tcp/…/service/api`). */
  readonly projectRoute: string;
  /** The project id: from the ticket (legacy), or the first label of a `/dnsaddr` route, or the id given instead of a route. */
  readonly projectId: string | undefined;
  readonly projectName: string;
  /** The project node's identifier. */
  readonly projectIdentifier?: string;
  /** Hex of the project node's change history. */
  readonly projectChangeHistory?: string;
  /** Hex of the authority's change history. */
  readonly authorityChangeHistory?: string;
  /** The authority's route (multiaddr text), when it is not the project's. */
  readonly authorityRoute?: string;
}

/** The exported format's fields: six, then the authority route. */
const MAX_EXPORTED_FIELDS = 7;

/** Larger tickets are refused before decoding. */
export const MAX_TICKET_LENGTH = 64 * 1024;

const fatal = new TextDecoder('utf-8', { fatal: true });
const HEX = /^(?:[0-9a-fA-F]{2})*$/;

function invalid(message: string, cause?: unknown): CredentialError {
  return new CredentialError(
    'invalid-ticket',
    `invalid enrollment ticket: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

/** Ockam's default project route for an id. */
export function defaultProjectRoute(projectId: string): string {
  return `/dnsaddr/${projectId}.projects.orchestrator.ockam.io/tcp/443/service/${projectId}/service/api`;
}

function projectIdOf(route: string): string | undefined {
  const first = MultiAddr.parse(route).components[0];
  return first?.protocol === 'dnsaddr' ? first.value.split('.')[0] : undefined;
}

/** The exported (newer) text form: hex of the comma-separated fields. */
export function encodeEnrollmentTicket(
  ticket: Omit<EnrollmentTicket, 'projectId'> & { projectId?: string },
): string {
  const fields = [
    ticket.projectRoute,
    ticket.projectIdentifier ?? '',
    ticket.projectName,
    oneTimeCodeToText(ticket.oneTimeCode),
    ticket.projectChangeHistory ?? '',
    ticket.authorityChangeHistory ?? '',
    ...(ticket.authorityRoute === undefined ? [] : [ticket.authorityRoute]),
  ];
  for (const f of fields)
    if (f.includes(',')) throw new RangeError(`a ticket field cannot contain ',': ${f.slice(0, 60)}`);
  if (projectIdOf(ticket.projectRoute) === undefined)
    throw new RangeError(
      `the project route of an exported ticket must start with /dnsaddr (Ockam reads the project id from it): ${ticket.projectRoute}`,
    );
  if (ticket.authorityRoute !== undefined) MultiAddr.parse(ticket.authorityRoute);
  return toHex(new TextEncoder().encode(fields.join(',')));
}

/** The legacy form (`export_legacy().hex_encoded()`): hex of `{"one_time_code", "project"}` JSON. */
export function encodeLegacyEnrollmentTicket(ticket: EnrollmentTicket): string {
  const project = {
    id: ticket.projectId ?? '',
    name: ticket.projectName,
    space_name: '',
    access_route: ticket.projectRoute,
    users: [],
    space_id: '',
    identity: ticket.projectIdentifier ?? null,
    authority_access_route: ticket.authorityRoute ?? null,
    authority_identity: ticket.authorityChangeHistory ?? null,
    version: null,
    running: null,
    operation_id: null,
    user_roles: [],
    project_change_history: ticket.projectChangeHistory ?? null,
  };
  return toHex(
    new TextEncoder().encode(
      JSON.stringify({ one_time_code: oneTimeCodeToText(ticket.oneTimeCode), project }),
    ),
  );
}

function hexField(value: string, what: string): string | undefined {
  if (value === '') return undefined;
  if (!HEX.test(value)) throw invalid(`${what} is not hex`);
  return value.toLowerCase();
}

function parseRoute(value: string, what: string): string {
  try {
    return MultiAddr.parse(value).toString();
  } catch (cause) {
    throw invalid(`${what} is not a multiaddr: ${value.slice(0, 100)}`, cause);
  }
}

function decodeExported(contents: string): EnrollmentTicket {
  // Ockam reads the first six fields, the seventh when present, and ignores any more.
  const values = contents.split(',', MAX_EXPORTED_FIELDS + 1);
  if (values.length < 6) throw invalid(`expected 6 or 7 comma-separated fields, found ${values.length}`);
  const [routeOrId, projectIdentifier, projectName, otc, projectHistory, authorityHistory, authorityRoute] =
    values as [string, string, string, string, string, string, string | undefined];
  let projectRoute: string;
  let projectId: string | undefined;
  if (routeOrId.startsWith('/')) {
    projectRoute = parseRoute(routeOrId, 'the project route');
    // Ockam takes the project id from the route's first label, so the route must start with
    // /dnsaddr (`ProjectRoute::new`); any other route is refused, not read as an id.
    projectId = projectIdOf(projectRoute);
    if (projectId === undefined)
      throw invalid(`the project route must start with /dnsaddr/<id>…: ${routeOrId.slice(0, 100)}`);
  } else {
    if (!/^[A-Za-z0-9_-]+$/.test(routeOrId))
      throw invalid(`the project id ${JSON.stringify(routeOrId.slice(0, 60))} is not valid`);
    projectId = routeOrId;
    projectRoute = defaultProjectRoute(routeOrId);
  }
  let oneTimeCode: Uint8Array;
  try {
    oneTimeCode = oneTimeCodeFromText(otc);
  } catch (cause) {
    throw invalid(`the one-time code must be ${ONE_TIME_CODE_LENGTH * 2} hex characters`, cause);
  }
  const pch = hexField(projectHistory, 'the project change history');
  const ach = hexField(authorityHistory, 'the authority change history');
  return {
    oneTimeCode,
    projectRoute,
    projectId,
    projectName,
    ...(projectIdentifier === '' ? {} : { projectIdentifier }),
    ...(pch === undefined ? {} : { projectChangeHistory: pch }),
    ...(ach === undefined ? {} : { authorityChangeHistory: ach }),
    ...(authorityRoute === undefined || authorityRoute === ''
      ? {}
      : { authorityRoute: parseRoute(authorityRoute, 'the authority route') }),
  };
}

function optionalString(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(`project.${key} must be a string`);
  return v;
}

/**
 * A project as Ockam's JSON `ProjectModel` describes it (what `ockam project import --project-file`
 * reads and what a legacy ticket carries): only the fields a member needs.
 */
export interface ProjectModel {
  readonly id: string;
  readonly name: string;
  /** The project route (multiaddr text), e.g. `/dnsaddr/127.0.0.1/tcp/4000/service/api`. */
  readonly accessRoute: string;
  /** The project's identifier (`identity`). */
  readonly identifier?: string;
  /** Hex of the project's change history (`project_change_history`). */
  readonly projectChangeHistory?: string;
  /** Hex of the authority's change history (`authority_identity`). */
  readonly authorityChangeHistory?: string;
  /** The authority's route (`authority_access_route`). */
  readonly authorityRoute?: string;
}

/** Reads a JSON `ProjectModel` (already parsed): checks each field's type, routes and hex. */
export function decodeProjectModel(json: unknown): ProjectModel {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw invalid('project must be an object');
  const project = json as Record<string, unknown>;
  const id = optionalString(project, 'id');
  const name = optionalString(project, 'name');
  const accessRoute = optionalString(project, 'access_route');
  if (id === undefined || name === undefined || accessRoute === undefined)
    throw invalid('project needs id, name and access_route');
  const projectChangeHistory = optionalString(project, 'project_change_history');
  const authorityChangeHistory = optionalString(project, 'authority_identity');
  const identifier = optionalString(project, 'identity');
  const authorityRoute = optionalString(project, 'authority_access_route');
  const pch =
    projectChangeHistory === undefined
      ? undefined
      : hexField(projectChangeHistory, 'project.project_change_history');
  const ach =
    authorityChangeHistory === undefined
      ? undefined
      : hexField(authorityChangeHistory, 'project.authority_identity');
  return {
    id,
    name,
    accessRoute: parseRoute(accessRoute, 'project.access_route'),
    ...(identifier === undefined ? {} : { identifier }),
    ...(pch === undefined ? {} : { projectChangeHistory: pch }),
    ...(ach === undefined ? {} : { authorityChangeHistory: ach }),
    ...(authorityRoute === undefined
      ? {}
      : { authorityRoute: parseRoute(authorityRoute, 'project.authority_access_route') }),
  };
}

function decodeLegacy(json: unknown): EnrollmentTicket {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw invalid('expected a JSON object');
  const o = json as Record<string, unknown>;
  if (typeof o.one_time_code !== 'string') throw invalid('one_time_code must be a string');
  let oneTimeCode: Uint8Array;
  try {
    oneTimeCode = oneTimeCodeFromText(o.one_time_code);
  } catch (cause) {
    throw invalid(`the one-time code must be ${ONE_TIME_CODE_LENGTH * 2} hex characters`, cause);
  }
  if (o.project === undefined || o.project === null) throw invalid('no project in legacy ticket');
  const project = decodeProjectModel(o.project);
  if (project.projectChangeHistory === undefined) throw invalid('no project change history in legacy ticket');
  if (project.authorityChangeHistory === undefined)
    throw invalid('no authority change history in legacy ticket');
  return {
    oneTimeCode,
    projectRoute: project.accessRoute,
    projectId: project.id,
    projectName: project.name,
    ...(project.identifier === undefined ? {} : { projectIdentifier: project.identifier }),
    projectChangeHistory: project.projectChangeHistory,
    authorityChangeHistory: project.authorityChangeHistory,
    ...(project.authorityRoute === undefined ? {} : { authorityRoute: project.authorityRoute }),
  };
}

/**
 * Reads a ticket in either format: hex of legacy JSON first (as Ockam does), then the exported
 * text, hex or not. Throws a CredentialError (`invalid-ticket`) saying what is wrong.
 */
export function decodeEnrollmentTicket(text: string): EnrollmentTicket {
  if (typeof text !== 'string') throw new TypeError('decodeEnrollmentTicket expects a string');
  const trimmed = text.trim();
  if (trimmed.length > MAX_TICKET_LENGTH) throw invalid(`longer than ${MAX_TICKET_LENGTH} characters`);
  let contents = trimmed;
  if (trimmed.length > 0 && HEX.test(trimmed)) {
    try {
      contents = fatal.decode(fromHex(trimmed));
    } catch (cause) {
      throw invalid('the hex does not decode to UTF-8 text', cause);
    }
    if (contents.trimStart().startsWith('{')) {
      let json: unknown;
      try {
        json = JSON.parse(contents);
      } catch (cause) {
        throw invalid('the legacy ticket is not JSON', cause);
      }
      return decodeLegacy(json);
    }
  }
  return decodeExported(contents);
}

/** The project and authority identities a ticket carries, verified (and checked against `projectIdentifier`). */
export function ticketIdentities(ticket: EnrollmentTicket): { project?: Identity; authority?: Identity } {
  try {
    return {
      ...(ticket.projectChangeHistory === undefined
        ? {}
        : {
            project: importIdentity(
              ticket.projectChangeHistory,
              undefined,
              ticket.projectIdentifier === undefined ? {} : { expectedIdentifier: ticket.projectIdentifier },
            ),
          }),
      ...(ticket.authorityChangeHistory === undefined
        ? {}
        : { authority: importIdentity(ticket.authorityChangeHistory) }),
    };
  } catch (cause) {
    throw invalid(`its identities do not verify: ${(cause as Error).message}`, cause);
  }
}
