import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Call } from '../app/index.js';
import type { SluiceConfig } from '../config/index.js';
import { SluiceError, isSluiceError, type Clock, type EventBus, type Logger, type Service } from '../core/index.js';
import { verifyPassword } from '../devices/index.js';
import { SLUICE_CSS, SLUICE_JS, VENDOR_ASSETS } from './assets.js';
import { AttemptLimiter, LoginLinks, Sessions, sameSecret, type Session } from './auth.js';
import { escapeHtml, html, layout } from './html.js';
import { parseInput, type WebRoutes } from './routes.js';
import { buildMetrics } from './metrics.js';
import { registerDataPages } from './pages-data.js';
import { registerDevicePages } from './pages-devices.js';
import { registerHomePage } from './pages-home.js';
import { registerLedgerPages } from './pages-ledger.js';
import { registerSharingPages } from './pages-sharing.js';
import { registerIntentPages } from './pages-intents.js';
import { registerTermsPages } from './pages-terms.js';

export const SESSION_COOKIE = 'sluice_session';

const CSP = "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

export interface WebServerDeps {
  config: Readonly<SluiceConfig>;
  call: Call;
  logins: LoginLinks;
  clock: Clock;
  logger: Logger;
  events: EventBus;
}

/** HTTP status of an application error: the caller's mistakes are 4xx, a stale review is 409. */
export function statusOf(err: unknown): number {
  if (!isSluiceError(err)) return 500;
  switch (err.code) {
    case 'SLUICE_ERR_WEB_UNAUTHENTICATED':
      return 401;
    case 'SLUICE_ERR_WEB_FORBIDDEN':
      return 403;
    case 'SLUICE_ERR_WEB_RATE_LIMITED':
      return 429;
    case 'SLUICE_ERR_POLICY_STALE_REVIEW':
    case 'SLUICE_ERR_INTENT_STATE':
    case 'SLUICE_ERR_TERMS_STATE':
      return 409;
    case 'SLUICE_ERR_DEVICE_UNKNOWN':
    case 'SLUICE_ERR_POLICY_UNKNOWN':
    case 'SLUICE_ERR_INTENT_UNKNOWN':
    case 'SLUICE_ERR_OFFER_UNKNOWN':
    case 'SLUICE_ERR_TERMS_UNKNOWN':
      return 404;
    default:
      return err.exitCode === 2 ? 400 : 500;
  }
}

const PUBLIC = new Set(['/healthz', '/readyz', '/metrics', '/login']);

/** The household dashboard: fastify on web.host:web.port inside the gateway process. */
export class WebServer implements Service {
  readonly name = 'web';
  private app: FastifyInstance | null = null;
  private readonly sessions: Sessions;
  private readonly limiter: AttemptLimiter;
  private address: { host: string; port: number } | null = null;

  constructor(private readonly deps: WebServerDeps) {
    this.sessions = new Sessions({ clock: deps.clock, ttl: deps.config.web.session_ttl });
    this.limiter = new AttemptLimiter({ clock: deps.clock, perMinute: deps.config.web.login_attempts_per_minute });
  }

  /** The dashboard's base URL once it listens. */
  get url(): string | null {
    if (!this.address) return null;
    const { host, port } = this.address;
    const scheme = this.tls ? 'https' : 'http';
    return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /** A fresh one-time login URL; with a member, the session acts as that member (their approvals and vetoes are theirs). */
  loginLink(member: string | null = null): string {
    const base = this.url;
    if (!base) throw new SluiceError('SLUICE_ERR_GATEWAY_NOT_RUNNING', 'the dashboard is not listening (web.enabled is false or it has not started)');
    return `${base}/login?token=${this.deps.logins.mint(member)}`;
  }

  private tlsFiles: { cert: Buffer; key: Buffer } | null | undefined;

  /** The certificate and key, read once at start (null: plain HTTP). */
  private get tls(): { cert: Buffer; key: Buffer } | null {
    if (this.tlsFiles !== undefined) return this.tlsFiles;
    this.tlsFiles = this.readTls();
    return this.tlsFiles;
  }

  private readTls(): { cert: Buffer; key: Buffer } | null {
    const t = this.deps.config.web.tls;
    if (!t.cert_file || !t.key_file) return null;
    try {
      return { cert: readFileSync(t.cert_file), key: readFileSync(t.key_file) };
    } catch (err) {
      throw new SluiceError('SLUICE_ERR_TLS', `web.tls: cannot read the certificate or key: ${(err as Error).message}`);
    }
  }

  private passwordHash(): string {
    const w = this.deps.config.web;
    if (w.password_hash) return w.password_hash;
    if (w.password_file) return readFileSync(w.password_file, 'utf8').trim();
    return '';
  }

  async start(): Promise<void> {
    const { config, logger } = this.deps;
    const tls = this.tls;
    const app = Fastify({ logger: false, bodyLimit: 64 * 1024, forceCloseConnections: true, ...(tls ? { https: tls } : {}) }) as unknown as FastifyInstance;
    this.app = app;
    await app.register(cookie);
    await app.register(formbody);
    this.hooks(app);
    this.publicRoutes(app);
    const routes: WebRoutes = {
      app,
      call: this.deps.call,
      events: this.deps.events,
      timezone: config.timezone,
      session: (req) => (req as FastifyRequest & { session: Session }).session,
      page: (reply, req, title, section, body, status = 200) =>
        reply
          .code(status)
          .type('text/html; charset=utf-8')
          .send(layout({ title, section, csrf: (req as FastifyRequest & { session?: Session }).session?.csrf, body })),
    };
    registerHomePage(routes);
    registerDevicePages(routes);
    registerSharingPages(routes);
    registerTermsPages(routes);
    registerIntentPages(routes);
    registerLedgerPages(routes);
    registerDataPages(routes, { dataDir: config.data_dir, now: () => this.deps.clock.now() });

    const host = config.web.host;
    try {
      await app.listen({ host, port: config.web.port });
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new SluiceError(code === 'EADDRINUSE' ? 'SLUICE_ERR_PORT_IN_USE' : 'SLUICE_ERR_LISTEN', `the dashboard cannot listen on ${host}:${config.web.port}: ${(err as Error).message}`);
    }
    const addr = app.server.address() as AddressInfo;
    this.address = { host, port: addr.port };
    announceListening(logger, { host, port: addr.port, url: this.url!, tls: tls !== null });
  }

  async stop(): Promise<void> {
    this.deps.events.off(this);
    const app = this.app;
    this.app = null;
    this.address = null;
    if (app) await app.close();
  }

  private hooks(app: FastifyInstance): void {
    app.addHook('onRequest', async (req, reply) => {
      reply.header('Content-Security-Policy', CSP);
      reply.header('X-Content-Type-Options', 'nosniff');
      reply.header('X-Frame-Options', 'DENY');
      // Login links carry their token in the URL: no referrer to other sites. (no-referrer would make Chromium send `Origin: null` on our own forms.)
      reply.header('Referrer-Policy', 'same-origin');
      reply.header('Cross-Origin-Opener-Policy', 'same-origin');
      reply.header('Cross-Origin-Resource-Policy', 'same-origin');
      reply.header('Permissions-Policy', 'camera=(), microphone=(), geolocation=()');
      const path = req.url.split('?')[0]!;
      if (PUBLIC.has(path) || path.startsWith('/assets/')) return;
      reply.header('Cache-Control', 'no-store');
      const session = this.sessions.get(req.cookies[SESSION_COOKIE]);
      if (!session) {
        if (req.method === 'GET' && !path.startsWith('/api/') && !path.startsWith('/events/')) return reply.redirect('/login', 303);
        throw new SluiceError('SLUICE_ERR_WEB_UNAUTHENTICATED', 'log in first: run `sluice web login` for a login link');
      }
      (req as FastifyRequest & { session: Session }).session = session;
    });
    // [CSRF] every state change carries the session's token and comes from this origin.
    app.addHook('preHandler', async (req) => {
      if (req.method === 'GET' || req.method === 'HEAD') return;
      this.checkOrigin(req);
      const session = (req as FastifyRequest & { session?: Session }).session;
      if (!session) return; // only the public POST /login gets here without a session; it has no token to check
      const body = req.body as Record<string, unknown> | undefined;
      const sent = (typeof body?._csrf === 'string' ? body._csrf : undefined) ?? (req.headers['x-csrf-token'] as string | undefined);
      if (!sent || !sameSecret(sent, session.csrf)) throw new SluiceError('SLUICE_ERR_WEB_FORBIDDEN', 'the form is missing its security token or it is out of date; reload the page and try again');
    });
    app.setErrorHandler((err, req, reply) => {
      const status = isSluiceError(err) ? statusOf(err) : ((err as { statusCode?: number }).statusCode ?? 500);
      const code = isSluiceError(err) ? err.code : status < 500 ? 'SLUICE_ERR_USAGE' : 'SLUICE_ERR_INTERNAL';
      const message = status >= 500 && !isSluiceError(err) ? 'an unexpected fault; the gateway log says more' : (err as Error).message;
      if (status >= 500) this.deps.logger.error({ err, url: req.url.split('?')[0] }, 'dashboard request failed');
      const wantsJson = req.url.startsWith('/api/') || req.url.startsWith('/events/') || (req.headers.accept ?? '').startsWith('application/json');
      if (wantsJson) return reply.code(status).type('application/json').send({ error: { code, message } });
      const session = (req as FastifyRequest & { session?: Session }).session;
      return reply
        .code(status)
        .type('text/html; charset=utf-8')
        .send(
          layout({
            title: status === 409 ? 'Changed since you looked' : 'Something went wrong',
            csrf: session?.csrf,
            body: html`<h1>${status === 409 ? 'Changed since you looked' : status === 401 ? 'Please log in' : 'That did not work'}</h1>
<div class="banner bad" role="alert"><p><strong>${code}</strong></p><p>${message}</p></div>
<p><a href="/">Back to the start page</a></p>`,
          }),
        );
    });
    app.setNotFoundHandler((req, reply) => {
      reply.code(404).type('text/html; charset=utf-8').send(layout({ title: 'Not found', body: html`<h1>Not found</h1><p>There is no page at ${req.url.split('?')[0]}.</p><p><a href="/">Back to the start page</a></p>` }));
    });
  }

  private checkOrigin(req: FastifyRequest): void {
    const origin = req.headers.origin;
    const expected = `${this.tls ? 'https' : 'http'}://${req.headers.host ?? ''}`;
    if (!origin || origin !== expected) throw new SluiceError('SLUICE_ERR_WEB_FORBIDDEN', `refused a change from another origin (${origin ?? 'none given'}); use the dashboard's own pages`);
  }

  private publicRoutes(app: FastifyInstance): void {
    const { call, config } = this.deps;
    app.get('/healthz', async () => ({ ok: true }));
    app.get('/readyz', async (_req, reply) => {
      let facts: ReadinessFacts;
      try {
        const [status, info] = await Promise.all([call('status'), call('metrics.snapshot')]);
        facts = { brokerExpected: config.broker.mode === 'embedded' && config.broker.tcp, mqttPort: status.mqtt_port, store: status.store, storeFault: status.store_fault, freeDiskBytes: info.free_disk_bytes };
      } catch (err) {
        facts = { brokerExpected: false, mqttPort: null, store: 'faulted', storeFault: (err as Error).message, freeDiskBytes: null };
      }
      const reasons = readinessProblems(facts, config.web.ready_min_free_disk_bytes);
      return reply.code(reasons.length ? 503 : 200).send({ ready: reasons.length === 0, reasons });
    });
    const metrics = config.metrics.enabled ? buildMetrics(call) : null;
    app.get('/metrics', async (_req, reply) => {
      if (!metrics) return reply.code(404).send({ error: { code: 'SLUICE_ERR_USAGE', message: 'metrics are off (metrics.enabled: false)' } });
      return reply.type(metrics.contentType).send(await metrics.metrics());
    });
    app.get('/assets/:file', async (req, reply) => {
      const { file } = parseInput(z.object({ file: z.string() }), req.params);
      reply.header('Cache-Control', 'public, max-age=3600');
      if (file === 'sluice.css') return reply.type('text/css; charset=utf-8').send(SLUICE_CSS);
      if (file === 'sluice.js') return reply.type('text/javascript; charset=utf-8').send(SLUICE_JS);
      const asset = Object.hasOwn(VENDOR_ASSETS, file) ? VENDOR_ASSETS[file] : undefined;
      if (!asset) return reply.code(404).send('not found');
      return reply.type(asset.type).send(readFileSync(asset.file));
    });

    app.get('/login', async (req, reply) => {
      const q = parseInput(z.object({ token: z.string().max(200).optional() }), req.query);
      if (q.token !== undefined) {
        const redeemed = this.deps.logins.redeem(q.token);
        if (redeemed) return this.startSession(reply, redeemed.member);
        return this.loginPage(reply, 401, 'This login link is not valid: it was used already or it is older than 10 minutes. Run `sluice web login` for a new one.');
      }
      return this.loginPage(reply, 200, null);
    });
    app.post('/login', async (req, reply) => {
      const address = req.ip;
      if (!this.limiter.allow(address)) throw new SluiceError('SLUICE_ERR_WEB_RATE_LIMITED', 'too many login attempts; wait a minute and try again');
      const body = parseInput(z.object({ password: z.string({ error: 'password is required' }).min(1, { error: 'password is required' }).max(1024) }), req.body);
      const hash = this.passwordHash();
      if (!hash) throw new SluiceError('SLUICE_ERR_WEB_UNAUTHENTICATED', 'no household password is set (web.password_hash); log in with `sluice web login`');
      if (!(await verifyPassword(body.password, hash))) return this.loginPage(reply, 401, 'That password is not right.');
      return this.startSession(reply);
    });
    app.post('/logout', async (req, reply) => {
      const session = (req as FastifyRequest & { session?: Session }).session;
      if (session) this.sessions.end(session.id);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.redirect('/login', 303);
    });
  }

  private startSession(reply: FastifyReply, member: string | null = null): FastifyReply {
    const session = this.sessions.create(member);
    reply.setCookie(SESSION_COOKIE, session.id, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: this.tls !== null,
      maxAge: Math.floor(this.deps.config.web.session_ttl / 1000),
    });
    // A page, not a redirect: a SameSite=Strict cookie set by a link opened from another app is
    // not sent on a redirect that app's navigation started, but it is on the household's next click.
    return reply
      .code(200)
      .type('text/html; charset=utf-8')
      .send(layout({ title: 'Logged in', csrf: session.csrf, body: html`<h1>You are logged in${member ? ` as ${member}` : ''}</h1><p><a class="button" href="/">Open the dashboard</a></p>` }));
  }

  private loginPage(reply: FastifyReply, status: number, problem: string | null): FastifyReply {
    const hasPassword = this.passwordHash() !== '';
    const body = html`<h1>Log in to Sluice</h1>
${problem ? html`<div class="banner bad" role="alert"><p>${problem}</p></div>` : ''}
<section><h2>With a login link</h2><p>On the computer that runs Sluice, run <code>sluice web login</code> and open the link it prints. Each link works once, for 10 minutes.</p></section>
${hasPassword ? html`<section><h2>With the household password</h2><form method="post" action="/login"><label for="password">Household password</label><input id="password" name="password" type="password" autocomplete="current-password" required><div class="actions"><button type="submit">Log in</button></div></form></section>` : ''}`;
    return reply.code(status).type('text/html; charset=utf-8').send(layout({ title: 'Log in', body }));
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** The warning to log when the dashboard listens beyond this machine without TLS; null when it need not. */
export function lanWarning(host: string, tls: boolean): string | null {
  if (isLoopback(host) || tls) return null;
  return `the dashboard listens on ${host} without TLS: anyone on the network can watch its traffic, session cookie included; set web.tls.cert_file and web.tls.key_file, or web.host: 127.0.0.1`;
}

/** The start-up lines: where the dashboard listens, and the warning when that is the network without TLS. */
export function announceListening(logger: Logger, at: { host: string; port: number; url: string; tls: boolean }): void {
  logger.info({ host: at.host, port: at.port, url: at.url }, `dashboard listening on ${at.url} (log in with: sluice web login)`);
  const warning = lanWarning(at.host, at.tls);
  if (warning) logger.warn({ host: at.host }, warning);
}

/** What /readyz looks at. */
export interface ReadinessFacts {
  /** The embedded broker should listen on TCP (external mode and `broker.tcp: false` have no listener). */
  brokerExpected: boolean;
  mqttPort: number | null;
  store: string;
  storeFault: string | null | undefined;
  freeDiskBytes: number | null;
}

/** Why the gateway is not ready (empty: ready). */
export function readinessProblems(f: ReadinessFacts, minFreeDiskBytes: number): string[] {
  const reasons: string[] = [];
  if (f.brokerExpected && f.mqttPort === null) reasons.push('broker not listening');
  if (f.store !== 'ok') reasons.push(`store fault: ${f.storeFault ?? f.store}`);
  if (f.freeDiskBytes !== null && f.freeDiskBytes < minFreeDiskBytes) reasons.push(`disk low: ${f.freeDiskBytes} bytes free, below ${minFreeDiskBytes}`);
  return reasons;
}

export { escapeHtml };
