import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const require = createRequire(import.meta.url);

/** Debian's headless shell first (what `.ci/run` installs), then the full browser. */
export function chromiumBinary(): string | null {
  for (const candidate of ['/usr/bin/chromium-headless-shell', '/usr/lib/chromium/chromium-headless-shell', '/usr/bin/chromium']) {
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** Under CI=true a missing Chromium is a failure (`.ci/run` installs it); elsewhere browser tests skip. */
export function requireChromium(): boolean {
  if (chromiumBinary()) return true;
  if (process.env.CI === 'true') throw new Error('Chromium is not installed; .ci/run installs chromium-headless-shell');
  return false;
}

export interface TestBrowser {
  browser: Browser;
  /** A fresh context (cookies of its own); width 375 for the phone check. */
  context(options?: { width?: number; height?: number }): Promise<BrowserContext>;
  close(): Promise<void>;
}

/**
 * Real headless Chromium driven by playwright-core. The flags keep it off the network (this
 * machine's closed network refuses Chromium's background connections) and sandbox-free as root.
 */
export async function launchBrowser(): Promise<TestBrowser> {
  const executablePath = chromiumBinary();
  if (!executablePath) throw new Error('no Chromium binary found');
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    context: (options = {}) => browser.newContext({ viewport: { width: options.width ?? 1280, height: options.height ?? 900 } }),
    close: () => browser.close(),
  };
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: number;
}

/** Injects axe-core into the page and returns the serious and critical violations. */
export async function seriousAccessibilityViolations(page: Page): Promise<AxeViolation[]> {
  const source = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  // Evaluated over the DevTools protocol, not as a <script>: the dashboard's CSP forbids inline scripts.
  await page.evaluate(source);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: unknown[] }> }> } }).axe;
    const result = await axe.run((globalThis as unknown as { document: unknown }).document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** True when the page is wider than its viewport (scrolls sideways). */
export async function scrollsSideways(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
    return root.scrollWidth > root.clientWidth + 1;
  });
}
