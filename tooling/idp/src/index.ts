export { completeDeviceLogin, type DeviceLoginOptions } from './browser.js';
export { CHROMIUM_FLAGS, CHROMIUM_PATH, chromiumSkipReason } from './chromium.js';
export type { PageKind } from './pages.js';
export { type IdpClient, type IdpUser, type StartedIdp, startIdp } from './provider.js';
