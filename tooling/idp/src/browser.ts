/**
 * A person completing a device login: headless Chromium (Debian's, driven by playwright-core)
 * through the provider's own pages, by what the pages show, never by timing.
 */
import type { Page } from 'playwright-core';
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from './chromium.js';
import type { PageKind } from './pages.js';

/** code → confirm → login → consent → success is five pages; a loop beyond that is a fault. */
const MAX_PAGES = 10;

const collapse = (s: string): string => s.replace(/\s+/g, ' ').trim();

export interface DeviceLoginOptions {
  /** The `verification_uri_complete` if given, else the `verification_uri`. */
  verificationUri: string;
  /** Typed into the code page when the URI does not carry it. */
  userCode?: string;
  username: string;
  password: string;
  /** For each page to appear (default 60 s: a busy machine). */
  timeoutMs?: number;
  /** Told each provider page as it is reached (tests check that consent was shown). */
  onPage?: (kind: PageKind) => void;
}

/**
 * Completes a device login as a person would, in headless Chromium: opens `verificationUri`,
 * enters `userCode` when the page asks for one, confirms the device, signs in with the user's name
 * and password on the provider's login page and grants consent. Resolves when the provider shows
 * that the device is signed in; rejects with the page's text on a refusal (wrong password…).
 */
export async function completeDeviceLogin(options: DeviceLoginOptions): Promise<void> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_FLAGS],
  });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(options.timeoutMs ?? 60_000);
    await page.goto(options.verificationUri);
    await walk(page, options);
  } finally {
    await browser.close();
  }
}

async function walk(page: Page, options: DeviceLoginOptions): Promise<void> {
  let previous: string | null = null;
  const done = new Set<PageKind>();
  for (let n = 0; n < MAX_PAGES; n++) {
    // The next page of ours: a different rendering from the last one handled. Pages in between
    // (the provider's self-submitting form_post, redirects) carry no marker and are passed by.
    const main = page.locator(
      previous === null ? 'main[data-idp-page]' : `main[data-idp-page]:not([data-idp-render="${previous}"])`,
    );
    try {
      await main.waitFor({ state: 'attached' });
    } catch (err) {
      const text = await page.evaluate('document.body?.textContent ?? ""').catch(() => '');
      throw new Error(
        `no provider page at ${page.url()}: ${collapse(String(text)) || (err as Error).message}`,
      );
    }
    const kind = (await main.getAttribute('data-idp-page')) as PageKind | null;
    previous = await main.getAttribute('data-idp-render');
    if (kind !== null) options.onPage?.(kind);
    const refused = async (): Promise<Error> =>
      new Error(`device login refused (${kind} page): ${collapse((await main.textContent()) ?? '')}`);
    if (kind === 'success') return;
    if (kind === 'error' || (await main.locator('[role=alert]').count()) > 0 || (kind && done.has(kind)))
      throw await refused();
    if (kind === null) throw await refused();
    done.add(kind);
    switch (kind) {
      case 'code': {
        const input = main.locator('input[name=user_code]');
        if (options.userCode !== undefined) await input.fill(options.userCode);
        else if ((await input.inputValue()) === '')
          throw new Error(`the page at ${page.url()} asks for the user code and none was given`);
        await main.locator('button[form="op.deviceInputForm"]').click();
        break;
      }
      case 'confirm':
        await main.locator('button[form="op.deviceConfirmForm"]:not([name=abort])').click();
        break;
      case 'login':
        await main.locator('input[name=username]').fill(options.username);
        await main.locator('input[name=password]').fill(options.password);
        await main.locator('button[type=submit][value=login]').click();
        break;
      case 'consent':
        await main.locator('button[value=allow]').click();
        break;
    }
  }
  throw new Error(`device login did not finish within ${MAX_PAGES} pages (at ${page.url()})`);
}
