/** The harness's reading of `--output json` (no Rust binary needed). */
import { describe, expect, it } from 'vitest';
import { lastJsonValue } from '../src/ockam.js';

describe('lastJsonValue', () => {
  it('takes the second of two documents printed back to back (Rust creating the default node on the way)', () => {
    const text =
      '{\n  "name": "n",\n  "route": {"short": "/node/n"}\n}{\n  "alias": "a}{\\"",\n  "bind_addr": "127.0.0.1:1"\n}';
    expect(JSON.parse(lastJsonValue(text))).toEqual({ alias: 'a}{"', bind_addr: '127.0.0.1:1' });
  });

  it('keeps a single document, an array, or a scalar as it is', () => {
    expect(JSON.parse(lastJsonValue('{"a":[1,{"b":2}]}\n'))).toEqual({ a: [1, { b: 2 }] });
    expect(JSON.parse(lastJsonValue('[{"x":"]"}]'))).toEqual([{ x: ']' }]);
    expect(JSON.parse(lastJsonValue('"/service/outlet"\n'))).toBe('/service/outlet');
  });
});
