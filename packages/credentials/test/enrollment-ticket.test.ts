import { toHex } from '@ockam/core';
import { describe, expect, it } from 'vitest';
import {
  CredentialError,
  decodeEnrollmentTicket,
  decodeProjectModel,
  defaultProjectRoute,
  encodeEnrollmentTicket,
  encodeLegacyEnrollmentTicket,
  ticketIdentities,
} from '../src/index.js';

// ockam_api/src/cli_state/enrollments.rs (ExportedEnrollmentTicket::new_test and its tests)
const PROJECT_HISTORY =
  '81825837830101583285f68200815820245ba33c7729dce1c94d8c1a00fcf89a7af33689d4563176f9dffbdd147d4488f41a66e2ee7b1a79aef17b820081584070856bb8da621154a39c894a2fedded55257715b00940b9cffe54b51d87889aff2c077124ee6e0e1c2e711688470affbc65d909c87acf4e41d38bdfb03e2000d';
const AUTHORITY_HISTORY =
  '81825837830101583285f6820081582045d9dac79f226762025fc82e7407aee4a4c8e7068dc04edd44f1c777b8f0cf6bf41a66e2ee7b1a79aef17b8200815840c65ce655fd57cf2ea0b0679066a24bc99e2b223341186b5eaec951101f291e96c5fc8343291a23cbd8dc063ad1f9a9554f036e8f34ab5388e444977e7e29ab0b';
const PROJECT_IDENTIFIER = 'I59469f87a447f9e6302fce0b09d82db8d60657c7a0f76fe88c3b3d1a58286636';
const AUTHORITY_IDENTIFIER = 'If5e3906385b214c84e81c433aad7f673c8f3bffc5f6630d8bc88ed80c79d91d5';
const PROJECT_ID = 'c4a6a4b4-537b-4f2e-ace4-ef1992b922a6';
const code = new Uint8Array(32).map((_, i) => 255 - i);

function invalid(text: string): string {
  try {
    decodeEnrollmentTicket(text);
  } catch (e) {
    expect(CredentialError.isReason(e, 'invalid-ticket')).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected an invalid ticket');
}

describe('enrollment tickets', () => {
  const fields = () => [
    defaultProjectRoute(PROJECT_ID),
    PROJECT_IDENTIFIER,
    'default',
    toHex(code),
    PROJECT_HISTORY,
    AUTHORITY_HISTORY,
  ];
  const ticket = {
    oneTimeCode: code,
    projectRoute: defaultProjectRoute(PROJECT_ID),
    projectIdentifier: PROJECT_IDENTIFIER,
    projectName: 'default',
    projectChangeHistory: PROJECT_HISTORY,
    authorityChangeHistory: AUTHORITY_HISTORY,
  };

  it('write the exported format as hex of the comma-separated fields, and read it back', () => {
    const text = encodeEnrollmentTicket(ticket);
    expect(Buffer.from(text, 'hex').toString('utf8')).toBe(
      [
        defaultProjectRoute(PROJECT_ID),
        PROJECT_IDENTIFIER,
        'default',
        toHex(code),
        PROJECT_HISTORY,
        AUTHORITY_HISTORY,
      ].join(','),
    );
    expect(decodeEnrollmentTicket(text)).toEqual({ ...ticket, projectId: PROJECT_ID });
    const withAuthority = encodeEnrollmentTicket({
      ...ticket,
      authorityRoute: '/ip4/127.0.0.1/tcp/4001/service/api',
    });
    expect(decodeEnrollmentTicket(withAuthority).authorityRoute).toBe('/ip4/127.0.0.1/tcp/4001/service/api');
  });

  it('read the un-hexed text, and a project id in place of the route', () => {
    const text = [
      PROJECT_ID,
      PROJECT_IDENTIFIER,
      'default',
      toHex(code),
      PROJECT_HISTORY,
      AUTHORITY_HISTORY,
    ].join(',');
    const t = decodeEnrollmentTicket(text);
    expect(t.projectId).toBe(PROJECT_ID);
    expect(t.projectRoute).toBe(
      `/dnsaddr/${PROJECT_ID}.projects.orchestrator.ockam.io/tcp/443/service/${PROJECT_ID}/service/api`,
    );
    expect(t.oneTimeCode).toEqual(code);
    // Ockam takes the project id from a /dnsaddr route's first label and refuses any other route.
    expect(() =>
      encodeEnrollmentTicket({ ...ticket, projectRoute: '/ip4/127.0.0.1/tcp/4000/service/api' }),
    ).toThrow(/must start with \/dnsaddr/);
    expect(invalid(['/ip4/127.0.0.1/tcp/4000/service/api', ...fields().slice(1)].join(','))).toMatch(
      /project route must start with \/dnsaddr/,
    );
    const local = decodeEnrollmentTicket(
      encodeEnrollmentTicket({ ...ticket, projectRoute: '/dnsaddr/127.0.0.1/tcp/4000/service/api' }),
    );
    expect(local.projectId).toBe('127');
    // Fields after the seventh are ignored, as Ockam does.
    const eight = [...fields(), '/dnsaddr/127.0.0.1/tcp/4001/service/api', 'extra'].join(',');
    expect(decodeEnrollmentTicket(eight).authorityRoute).toBe('/dnsaddr/127.0.0.1/tcp/4001/service/api');
  });

  it("write the legacy ticket byte for byte as Ockam's serde_json does (field order, nulls, no spaces)", () => {
    const text = encodeLegacyEnrollmentTicket({
      ...ticket,
      projectRoute: '/dnsaddr/127.0.0.1/tcp/4000/service/api',
      projectId: 'p1',
      authorityRoute: '/dnsaddr/127.0.0.1/tcp/4001/service/api',
    });
    // ockam_api/src/cli_state/enrollments.rs (LegacyEnrollmentTicket, EnrollmentTicket::project)
    // and cloud/project/models.rs (ProjectModel's field order; okta_config and kafka_config are
    // skipped when absent).
    expect(Buffer.from(text, 'hex').toString('utf8')).toBe(
      `{"one_time_code":"${toHex(code)}","project":{"id":"p1","name":"default","space_name":"","access_route":"/dnsaddr/127.0.0.1/tcp/4000/service/api","users":[],"space_id":"","identity":"${PROJECT_IDENTIFIER}","authority_access_route":"/dnsaddr/127.0.0.1/tcp/4001/service/api","authority_identity":"${AUTHORITY_HISTORY}","version":null,"running":null,"operation_id":null,"user_roles":[],"project_change_history":"${PROJECT_HISTORY}"}}`,
    );
    expect(text).toMatch(/^[0-9a-f]+$/);
  });

  it("read a project file as Ockam's project import does, and refuse one with a bad route", () => {
    const model = decodeProjectModel({
      id: '1',
      name: 'default',
      space_name: 'together-porgy',
      access_route: '/dnsaddr/127.0.0.1/tcp/4000/service/api',
      users: [],
      space_id: '1',
      identity: PROJECT_IDENTIFIER,
      project_change_history: PROJECT_HISTORY,
      authority_access_route: '/dnsaddr/127.0.0.1/tcp/4001/service/api',
      authority_identity: AUTHORITY_HISTORY,
      version: '605c4632ded93eb17edeeef31fa3860db225b3ab-2023-12-05',
      running: false,
      operation_id: null,
      user_roles: [],
    });
    expect(model).toEqual({
      id: '1',
      name: 'default',
      accessRoute: '/dnsaddr/127.0.0.1/tcp/4000/service/api',
      identifier: PROJECT_IDENTIFIER,
      projectChangeHistory: PROJECT_HISTORY,
      authorityChangeHistory: AUTHORITY_HISTORY,
      authorityRoute: '/dnsaddr/127.0.0.1/tcp/4001/service/api',
    });
    expect(() => decodeProjectModel({ id: '1', name: 'x', access_route: '/nope/1' })).toThrow(
      /access_route is not a multiaddr/,
    );
    expect(() => decodeProjectModel({ id: 1, name: 'x', access_route: '/ip4/1.2.3.4/tcp/1' })).toThrow(
      /project.id must be a string/,
    );
  });

  it('read the legacy JSON format that Ockam emits, and write one', () => {
    const legacy = {
      one_time_code: toHex(code),
      project: {
        id: PROJECT_ID,
        name: 'name',
        space_name: '',
        access_route: '/dnsaddr/project.ockam.io/tcp/443',
        users: [],
        space_id: '',
        identity: null,
        authority_access_route: '/dnsaddr/authority.ockam.io/tcp/443',
        authority_identity: AUTHORITY_HISTORY,
        version: null,
        running: null,
        operation_id: null,
        user_roles: [],
        project_change_history: PROJECT_HISTORY,
      },
    };
    const t = decodeEnrollmentTicket(toHex(new TextEncoder().encode(JSON.stringify(legacy))));
    expect(t).toEqual({
      oneTimeCode: code,
      projectRoute: '/dnsaddr/project.ockam.io/tcp/443',
      projectId: PROJECT_ID,
      projectName: 'name',
      projectChangeHistory: PROJECT_HISTORY,
      authorityChangeHistory: AUTHORITY_HISTORY,
      authorityRoute: '/dnsaddr/authority.ockam.io/tcp/443',
    });
    expect(decodeEnrollmentTicket(encodeLegacyEnrollmentTicket(t))).toEqual(t);
  });

  it("carry the project and authority identities of Ockam's test histories", () => {
    const ids = ticketIdentities(decodeEnrollmentTicket(encodeEnrollmentTicket(ticket)));
    expect(ids.project?.identifier).toBe(PROJECT_IDENTIFIER);
    expect(ids.authority?.identifier).toBe(AUTHORITY_IDENTIFIER);
    // Ockam's new_test passes a placeholder identifier that matches neither history.
    const placeholder = encodeEnrollmentTicket({
      ...ticket,
      projectIdentifier: 'I5cf1bc8d300018d9a0fa6a177c073347abe35f95e55837b23e22a5f6857a1e0c',
    });
    expect(() => ticketIdentities(decodeEnrollmentTicket(placeholder))).toThrow(/identities do not verify/);
  });

  it('say what is wrong with a bad ticket', () => {
    const fields = [
      defaultProjectRoute(PROJECT_ID),
      PROJECT_IDENTIFIER,
      'default',
      toHex(code),
      PROJECT_HISTORY,
      AUTHORITY_HISTORY,
    ];
    expect(invalid(fields.slice(0, 5).join(','))).toMatch(/expected 6 or 7 comma-separated fields, found 5/);
    expect(invalid([...fields.slice(0, 3), 'abcd', ...fields.slice(4)].join(','))).toMatch(
      /one-time code must be 64 hex/,
    );
    expect(invalid([...fields.slice(0, 4), 'xyz', fields[5]].join(','))).toMatch(
      /project change history is not hex/,
    );
    expect(invalid(['/bogus/x', ...fields.slice(1)].join(','))).toMatch(/project route is not a multiaddr/);
    expect(invalid(['p!d', ...fields.slice(1)].join(','))).toMatch(/project id "p!d" is not valid/);
    expect(invalid(toHex(new TextEncoder().encode('{"one_time_code": 1}')))).toMatch(
      /one_time_code must be a string/,
    );
    expect(
      invalid(toHex(new TextEncoder().encode(JSON.stringify({ one_time_code: toHex(code), project: null })))),
    ).toMatch(/no project/);
    expect(invalid('ff')).toMatch(/does not decode to UTF-8/);
    expect(invalid('a'.repeat(70_000))).toMatch(/longer than/);
    expect(() => encodeEnrollmentTicket({ ...ticket, projectName: 'a,b' })).toThrow(RangeError);
  });
});
