import { defaultPage } from '../daemon/defaultPage.js';

/** The page at the dashboard URL. */
export function dashboardPage(nonce: string): string {
  return defaultPage(nonce);
}
