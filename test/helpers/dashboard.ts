import type { GatewayChild } from './gateway.js';
import { cli } from './gateway.js';

/** The dashboard URL a gateway started with `--web-port 0` logged. */
export async function dashboardUrl(gw: GatewayChild): Promise<string> {
  const line = await gw.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('dashboard listening'));
  return line.url as string;
}

/** A fresh one-time login link from `sluice web login --json`. */
export function loginLink(dataDir: string, env: Record<string, string> = {}): string {
  const r = cli(['web', 'login', '--json'], { dataDir, env });
  if (r.status !== 0) throw new Error(`web login failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { url: string }).url;
}

/** A logged-in HTTP client of the dashboard: keeps the session cookie and reads CSRF tokens from pages. */
export interface DashboardClient {
  base: string;
  cookie: string;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  /** POSTs a form from the dashboard's own origin; `csrf: false` leaves the token out. */
  post(path: string, form: Record<string, string>, options?: { csrf?: boolean; origin?: string | null }): Promise<Response>;
  csrf: string;
}

export async function logIn(base: string, link: string): Promise<DashboardClient> {
  const res = await fetch(link, { redirect: 'manual' });
  if (res.status !== 200) throw new Error(`login answered ${res.status}`);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  const html = await res.text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!csrf) throw new Error('no CSRF token on the logged-in page');
  const client: DashboardClient = {
    base,
    cookie,
    csrf,
    get: (path, headers = {}) => fetch(base + path, { headers: { cookie, ...headers }, redirect: 'manual' }),
    post: (path, form, options = {}) => {
      const body = new URLSearchParams({ ...(options.csrf === false ? {} : { _csrf: csrf }), ...form });
      const origin = options.origin === undefined ? base : options.origin;
      return fetch(base + path, {
        method: 'POST',
        body,
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...(origin ? { origin } : {}) },
        redirect: 'manual',
      });
    },
  };
  return client;
}
