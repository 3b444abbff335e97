import { DateTime } from 'luxon';
import { SerialPass, type Clock, type EventBus, type Logger, type Service } from '../core/index.js';
import type { SluiceConfig } from '../config/index.js';
import { IntentBook, type PendingAcceptance, type PendingDelivery } from './book.js';
import { checkOffer } from './documents.js';
import { evaluateRules, type DeviceLatest } from './evaluate.js';
import { isLoopbackHost } from '../config/index.js';
import { IntentRuleSet, type IntentRule } from './rules.js';

export interface IntentServiceOptions {
  rulesDir: string;
  pollInterval: number; // ms
  requestTimeout: number; // ms
  timezone: string;
}

export function intentOptionsFrom(config: Pick<SluiceConfig, 'intents_dir' | 'intents' | 'timezone'>): IntentServiceOptions {
  return { rulesDir: config.intents_dir, pollInterval: config.intents.poll_interval, requestTimeout: config.intents.request_timeout, timezone: config.timezone };
}

export interface IntentServiceDeps {
  book: IntentBook;
  clock: Clock;
  logger: Logger;
  events: EventBus;
  /** The latest readings of a device with its profile's kind. */
  latestOf: (deviceId: string) => DeviceLatest;
  options: IntentServiceOptions;
}

/** The need-by date of a firing: a calendar date in the household's timezone. */
export function needByDate(at: number, needWithin: number, timezone: string): string {
  return DateTime.fromMillis(at + needWithin, { zone: timezone }).toISODate()!;
}

/**
 * Drafts intents when readings fire a rule, and talks to vendors outbound only: sends approved
 * intents, fetches their offers until the deadline, delivers the acceptance. Nothing it receives
 * goes anywhere but the local inbox — this module has no way to publish to the broker.
 */
export class IntentService implements Service {
  readonly name = 'intents';
  private readonly passes = new SerialPass({ run: () => this.timedPass(), onError: (err) => this.deps.logger.error({ err }, 'intent pass failed') });
  private rules: IntentRule[] = [];
  private ruleSet: IntentRuleSet | undefined;

  constructor(private readonly deps: IntentServiceDeps) {}

  start(): void {
    this.passes.start();
    this.reloadRules();
    this.deps.events.on('readings.committed', this, ({ deviceIds }) => this.onReadings(deviceIds));
    this.deps.events.on('intent.decided', this, () => this.kick());
    this.kick();
  }

  async stop(): Promise<void> {
    this.deps.events.off(this);
    await this.passes.stop();
  }

  /**
   * Re-reads intents/*.yaml (only changed files are parsed again): an edit, a new file or a
   * removed one takes effect at the next reading or pass; a file that no longer loads is logged
   * once with its positions and its last good rule stays in force.
   */
  reloadRules(): IntentRule[] {
    this.ruleSet ??= new IntentRuleSet(this.deps.options.rulesDir);
    const loaded = this.ruleSet.current();
    if (loaded.changed.length > 0) {
      for (const err of loaded.errors) if (loaded.changed.some((f) => err.message.includes(f))) this.deps.logger.error({ code: err.code }, err.message);
      this.deps.logger.info({ changed: loaded.changed, rules: loaded.rules.map((r) => r.name) }, 'intent rules reloaded');
    }
    this.rules = loaded.rules;
    return this.rules;
  }

  /** Evaluates the rules on these devices' latest readings and drafts what fires. */
  onReadings(deviceIds: readonly string[]): number[] {
    const { book, clock, logger, latestOf, options } = this.deps;
    if (this.reloadRules().length === 0) return [];
    const devices = [...new Set(deviceIds)].map(latestOf);
    const result = evaluateRules(this.rules, devices, book.memory(), clock.now());
    book.rememberBaselines(result.baselines.filter((b) => !result.firings.some((f) => `${f.rule.name}\u0000${f.deviceId}` === b.key)));
    for (const rule of result.limited) logger.debug({ rule }, 'intent rule held back by its rate limit');
    const drafted: number[] = [];
    for (const f of result.firings) {
      const id = book.draft(f, needByDate(f.at, f.rule.request.need_within, options.timezone));
      drafted.push(id);
      logger.info({ intent: id, rule: f.rule.name }, 'intent drafted; it waits for the household to approve it');
    }
    return drafted;
  }

  /** Runs one outbound pass now. */
  kick(): void {
    void this.passes.kick();
  }

  /** A pass, then the next one after the poll interval, also when this one failed. */
  private async timedPass(): Promise<void> {
    try {
      await this.pass();
    } finally {
      this.passes.wakeIn(this.deps.options.pollInterval);
    }
  }

  /** One pass: send, fetch offers, deliver acceptances, close what is over. */
  async pass(): Promise<void> {
    const { book, logger } = this.deps;
    this.reloadRules();
    for (const d of book.pendingDeliveries()) {
      if (this.passes.stopped) return;
      if (!d.sent) await this.send(d);
      else await this.fetchOffers(d);
    }
    for (const a of book.pendingAcceptances()) {
      if (this.passes.stopped) return;
      await this.deliverAcceptance(a);
    }
    for (const id of book.closeExpired()) logger.info({ intent: id }, 'intent closed: its offer window is over');
  }

  private async send(d: PendingDelivery): Promise<void> {
    const res = await this.request('POST', `${trimSlash(d.endpoint)}/intents`, d.document);
    if (res.ok) {
      this.deps.book.sent(d, res.status);
      this.deps.logger.info({ intent: d.intentId, vendor: d.vendor }, 'intent sent');
      // Ask for offers in the same pass: a vendor may answer at once.
      await this.fetchOffers({ ...d, sent: true });
    } else {
      this.deps.book.deliveryFailed(d, res.error);
      this.deps.logger.warn({ intent: d.intentId, vendor: d.vendor, error: res.error }, 'intent not delivered; retried on the next pass');
    }
  }

  private async fetchOffers(d: PendingDelivery): Promise<void> {
    const res = await this.request('GET', `${trimSlash(d.endpoint)}/offers?reply=${encodeURIComponent(d.reply)}`);
    if (!res.ok) {
      this.deps.logger.warn({ intent: d.intentId, vendor: d.vendor, error: res.error }, 'offers not fetched');
      return;
    }
    let list: unknown;
    try {
      list = (JSON.parse(res.body) as { offers?: unknown }).offers;
    } catch {
      list = undefined;
    }
    if (!Array.isArray(list)) {
      this.deps.logger.warn({ intent: d.intentId, vendor: d.vendor }, 'offers answer is not {"offers": […]}');
      return;
    }
    for (const doc of list.slice(0, 20)) {
      const checked = checkOffer(doc, d.reply, d.publicKey);
      if (!checked.ok) {
        this.deps.logger.warn({ intent: d.intentId, vendor: d.vendor, reason: checked.reason }, 'offer refused');
        continue;
      }
      // [PRIV-INTENT-2] an offer goes to the local inbox only; no code path hands it to the broker or a device.
      if (this.deps.book.received(d, checked.offer)) this.deps.logger.info({ intent: d.intentId, vendor: d.vendor }, 'offer received');
    }
  }

  private async deliverAcceptance(a: PendingAcceptance): Promise<void> {
    const res = await this.request('POST', `${trimSlash(a.endpoint)}/acceptances`, a.body);
    if (res.ok) {
      this.deps.book.acceptanceSent(a, res.status);
      this.deps.logger.info({ intent: a.intentId, offer: a.offerId, vendor: a.vendor }, 'acceptance sent');
    } else {
      this.deps.book.acceptanceFailed(a, res.error);
      this.deps.logger.warn({ offer: a.offerId, vendor: a.vendor, error: res.error }, 'acceptance not delivered; retried on the next pass');
    }
  }

  private async request(method: 'GET' | 'POST', url: string, body?: string): Promise<{ ok: true; status: number; body: string } | { ok: false; error: string }> {
    const target = new URL(url);
    // [PRIV-7] verified TLS, or plain http to this machine only (the rule files say so too; checked again here).
    if (!(target.protocol === 'https:' || (target.protocol === 'http:' && isLoopbackHost(target.hostname)))) return { ok: false, error: `refused to send to ${target.origin}` };
    return this.passes.abortable(async (controller) => {
      const timer = setTimeout(() => controller.abort(), this.deps.options.requestTimeout);
      try {
        const res = await fetch(target, {
          method,
          body,
          headers: { ...(body ? { 'content-type': 'application/json' } : {}), 'user-agent': 'sluice/1', accept: 'application/json' },
          // Redirects are not followed: an intent goes only to the endpoint the household chose.
          redirect: 'manual',
          signal: controller.signal,
        });
        const text = await res.text();
        if (res.status < 200 || res.status >= 300) return { ok: false, error: `HTTP ${res.status}` };
        // A vendor's answer is bounded: offers are small.
        if (text.length > 256 * 1024) return { ok: false, error: 'answer too large' };
        return { ok: true, status: res.status, body: text };
      } catch (err) {
        return { ok: false, error: controller.signal.aborted ? `no answer within ${this.deps.options.requestTimeout} ms` : `request failed: ${(err as Error).message}` };
      } finally {
        clearTimeout(timer);
      }
    });
  }
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
