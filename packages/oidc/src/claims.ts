/**
 * From verified ID token claims to member attributes (strings, as credentials carry them):
 * - a string, number or boolean claim becomes its text;
 * - an array of strings (`groups`) becomes the elements joined by `,` in the provider's order —
 *   so `(= subject.groups "db-admins")` admits a person whose groups are exactly `["db-admins"]`
 *   — and, for each element that is a valid attribute name, `ATTRIBUTE.ELEMENT = "true"`, so
 *   `(= subject.groups.db-admins "true")` (or the shorthand `groups.db-admins`) admits a person
 *   whatever other groups they have;
 * - anything else (objects, nested arrays, control characters, oversized values) is refused.
 */
import type { ClaimMapping } from './oidc-config.js';
import { OidcRefusal } from './oidc-error.js';

export const CLAIM_LIMITS = { valueLength: 256, arrayElements: 64, attributes: 256 } as const;

const ELEMENT_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const CONTROL = /[\u0000-\u001f\u007f]/;

function text(claim: string, v: unknown): string {
  let s: string;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) s = String(v);
  else
    throw new OidcRefusal(
      'claim-invalid',
      `claim ${claim} is not text, a number, a boolean or a list of text`,
    );
  if (s.length === 0 || s.length > CLAIM_LIMITS.valueLength || CONTROL.test(s))
    throw new OidcRefusal(
      'claim-invalid',
      `claim ${claim} must be 1 to ${CLAIM_LIMITS.valueLength} characters without control characters`,
    );
  return s;
}

/** The attributes the mappings give for `claims` (a verified token's payload). */
export function attributesFromClaims(
  claims: Readonly<Record<string, unknown>>,
  mappings: readonly ClaimMapping[],
): Map<string, string> {
  const out = new Map<string, string>();
  for (const { claim, attribute } of mappings) {
    const value = Object.hasOwn(claims, claim) ? claims[claim] : undefined;
    if (value === undefined || value === null)
      throw new OidcRefusal('claim-missing', `the ID token has no ${claim} claim`);
    if (!Array.isArray(value)) {
      out.set(attribute, text(claim, value));
      continue;
    }
    if (value.length === 0) throw new OidcRefusal('claim-missing', `the ${claim} claim is an empty list`);
    if (value.length > CLAIM_LIMITS.arrayElements)
      throw new OidcRefusal(
        'claim-invalid',
        `the ${claim} claim has more than ${CLAIM_LIMITS.arrayElements} elements`,
      );
    const elements = value.map((e) => {
      if (typeof e !== 'string')
        throw new OidcRefusal('claim-invalid', `the ${claim} claim holds a non-text element`);
      const s = text(claim, e);
      if (s.includes(','))
        throw new OidcRefusal('claim-invalid', `an element of the ${claim} claim holds a comma`);
      return s;
    });
    out.set(attribute, elements.join(','));
    for (const e of elements) if (ELEMENT_NAME.test(e)) out.set(`${attribute}.${e}`, 'true');
  }
  if (out.size > CLAIM_LIMITS.attributes)
    throw new OidcRefusal('claim-invalid', `the claims give more than ${CLAIM_LIMITS.attributes} attributes`);
  return out;
}
