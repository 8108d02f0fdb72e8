/**
 * The provider's HTML pages. Each one marks its kind (`data-idp-page`) and its rendering
 * (`data-idp-render`, fresh each time) on <main>, so the browser helper knows where it is and
 * when a form submission has produced a new page; an error is the <p role="alert">. No external
 * resources (the library's default pages load a web font), so nothing leaves the machine.
 */
import { randomUUID } from 'node:crypto';

export type PageKind = 'code' | 'confirm' | 'login' | 'consent' | 'success' | 'error';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** A whole page; `body` is trusted HTML (built here or by oidc-provider), `error` is text. */
export function page(kind: PageKind, title: string, body: string, error?: string): string {
  const alert = error === undefined ? '' : `<p role="alert">${escapeHtml(error)}</p>`;
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body>
<main data-idp-page="${kind}" data-idp-render="${randomUUID()}">
<h1>${escapeHtml(title)}</h1>
${alert}
${body}
</main>
</body>
</html>`;
}

export function loginPage(uid: string, clientId: string, error?: string, username = ''): string {
  return page(
    'login',
    'Sign in',
    `<p>Sign in to continue to <strong>${escapeHtml(clientId)}</strong>.</p>
<form method="post" action="/interaction/${encodeURIComponent(uid)}/login" autocomplete="off">
<label>Username <input name="username" value="${escapeHtml(username)}" autofocus required></label>
<label>Password <input type="password" name="password" required></label>
<button type="submit" name="submit" value="login">Sign in</button>
</form>`,
    error,
  );
}

export function consentPage(uid: string, clientId: string, scopes: string[], claims: string[]): string {
  const items = [...scopes.map((s) => `scope ${s}`), ...claims.map((c) => `claim ${c}`)]
    .map((i) => `<li>${escapeHtml(i)}</li>`)
    .join('');
  return page(
    'consent',
    'Authorize',
    `<p><strong>${escapeHtml(clientId)}</strong> asks for:</p>
<ul>${items}</ul>
<form method="post" action="/interaction/${encodeURIComponent(uid)}/confirm">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`,
  );
}
