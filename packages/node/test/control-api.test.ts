import { describe, expect, it } from 'vitest';
import { CONTROL_API, endpointUrl } from '../src/control/api.js';

describe('the control API definition', () => {
  it('fills path parameters (encoded), puts the rest of a GET or DELETE in the query, and leaves a POST body alone', () => {
    expect(endpointUrl(CONTROL_API.deleteInlet, { name: 'a b/c' })).toBe('/tcp-inlets/a%20b%2Fc');
    expect(endpointUrl(CONTROL_API.getPolicy, { resourceType: 'tcp-outlet' })).toBe(
      '/policy?resourceType=tcp-outlet',
    );
    expect(endpointUrl(CONTROL_API.listInlets, {})).toBe('/tcp-inlets');
    expect(endpointUrl(CONTROL_API.createInlet, { name: 'x', from: '1', to: '/node/n' })).toBe('/tcp-inlets');
    expect(() => endpointUrl(CONTROL_API.getRelay, {})).toThrow("Missing path parameter 'name'");
  });

  it('names each method and path once', () => {
    const routes = Object.values(CONTROL_API).map((e) => `${e.method} ${e.path}`);
    expect(new Set(routes).size).toBe(routes.length);
  });
});
