// Debian's Chromium for the differential tests, through playwright-core, on a page of the
// test server's own origin (Chromium's Local Network Access checks block loopback from about:blank).
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM } from '../support/peers-available.js';

/** Headless, no sandbox (containers), nothing that talks to the network. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launch(url: string): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const page = await (await browser.newContext()).newPage();
  await page.goto(url);
  return { browser, page };
}
