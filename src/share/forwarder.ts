import type { SluiceConfig } from '../config/index.js';
import { SerialPass, type Clock, type EventBus, type Logger, type Service } from '../core/index.js';
import type { ApprovedPolicy } from '../policy/index.js';
import { AGREEMENT_HEADER, agreementSignature, chainedSignature, PREVIOUS_HEADER, previousHeader } from './chain.js';
import type { ErasureClaim, Erasures } from './erasure.js';
import type { AttemptOutcome, Claim, Outbox } from './outbox.js';
import { vendorKey, type VendorKey } from './secrets.js';
import { signatureHeader } from './sign.js';

export interface ForwarderOptions {
  requestTimeout: number; // ms
  backoffInitial: number; // ms
  backoffMax: number; // ms
  backoffJitter: number; // 0–1
  retryAfterMax: number; // ms
  maxAttempts: number; // 0: unlimited
  pollInterval: number; // ms
}

/** The forwarder's options from sluice.yaml's `share` section. */
export function forwarderOptionsFrom(config: Pick<SluiceConfig, 'share'>): ForwarderOptions {
  const s = config.share;
  return {
    requestTimeout: s.request_timeout,
    backoffInitial: s.backoff_initial,
    backoffMax: s.backoff_max,
    backoffJitter: s.backoff_jitter,
    retryAfterMax: s.retry_after_max,
    maxAttempts: s.max_attempts,
    pollInterval: s.poll_interval,
  };
}

export interface ForwarderDeps {
  outbox: Outbox;
  /** Erasure requests, sent after the due summaries with the same signature, retries and backoff. */
  erasures?: Erasures;
  clock: Clock;
  logger: Logger;
  events: EventBus;
  policiesDir: string;
  options: ForwarderOptions;
  env?: NodeJS.ProcessEnv;
  /** Seeded in tests; Math.random otherwise. */
  random?: () => number;
}

/** Exponential backoff with jitter: the n-th retry waits about initial × 2^(n-1), capped. */
export function backoffDelay(attempt: number, o: Pick<ForwarderOptions, 'backoffInitial' | 'backoffMax' | 'backoffJitter'>, random: () => number): number {
  const base = Math.min(o.backoffMax, o.backoffInitial * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (1 - o.backoffJitter * random()));
}

/** Retry-After as seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * Sends queued summaries to their vendors: claim (policy re-checked, attempt in the ledger),
 * POST the stored bytes signed, then record the acknowledgement. At-least-once; the
 * Idempotency-Key (the summary id) makes it once at the vendor.
 */
export class Forwarder implements Service {
  readonly name = 'forwarder';
  private readonly passes = new SerialPass({ run: () => this.drain(), onError: (err) => this.deps.logger.error({ err }, 'forwarder pass failed') });

  constructor(private readonly deps: ForwarderDeps) {}

  start(): void {
    this.passes.start();
    this.deps.events.on('summary.queued', this, () => this.kick());
    this.kick();
  }

  async stop(): Promise<void> {
    this.deps.events.off(this);
    await this.passes.stop();
  }

  /** Looks at the outbox now. */
  kick(): void {
    void this.passes.kick();
  }

  private async drain(): Promise<void> {
    const { outbox, clock, options } = this.deps;
    while (!this.passes.stopped) {
      const lease = options.requestTimeout + options.backoffInitial;
      let key: VendorKey | undefined;
      const outcome = outbox.claim(lease, (policy) => {
        key = this.keyOf(policy);
      });
      if (outcome.kind === 'none') {
        if (await this.drainErasure(lease)) continue;
        const wait = outcome.nextDueAt === null ? options.pollInterval : Math.min(options.pollInterval, Math.max(0, outcome.nextDueAt - clock.now()));
        this.passes.wakeIn(wait);
        return;
      }
      if (outcome.kind === 'dropped') {
        this.deps.logger.info({ summary: outcome.summaryId, reason: outcome.reason }, 'summary dropped: its policy is no longer in force');
        continue;
      }
      if (outcome.kind === 'deferred') {
        // Waiting for a member's consent is the household's business, not a fault.
        const level = outcome.error.code === 'SLUICE_ERR_POLICY_WAITING_FOR_MEMBER' ? 'info' : 'error';
        this.deps.logger[level]({ summary: outcome.summaryId, code: outcome.error.code }, outcome.error.message);
        continue;
      }
      await this.deliver(outcome.claim, key!);
    }
  }

  /** Sends one due erasure request, if any; true when one was handled. */
  private async drainErasure(lease: number): Promise<boolean> {
    const erasures = this.deps.erasures;
    if (!erasures) return false;
    let key: VendorKey | undefined;
    const outcome = erasures.claim(lease, (policy) => {
      key = this.keyOf(policy);
    });
    if (outcome.kind === 'none') return false;
    if (outcome.kind === 'deferred') {
      this.deps.logger.error({ erasure: outcome.erasureId, code: outcome.error.code }, outcome.error.message);
      return false;
    }
    await this.deliverErasure(erasures, outcome.claim, key!);
    return true;
  }

  private async deliverErasure(erasures: Erasures, claim: ErasureClaim, key: VendorKey): Promise<void> {
    const t = Math.floor(this.deps.clock.now() / 1000);
    // Outside the summary chain: signed v1 only, no Sluice-Previous.
    const answer = await this.post(claim.endpoint, claim.body, { 'idempotency-key': claim.erasureId, 'sluice-signature': signatureHeader(key.key, key.kid, t, claim.body) });
    if (!answer) return;
    const log = { erasure: claim.erasureId, vendor: claim.policy.vendor, attempt: claim.attempt, status: answer.status };
    const next = this.nextStep(answer, claim.attempt);
    if (next.kind === 'acknowledged') {
      erasures.acknowledged(claim, answer.status!);
      this.deps.logger.info(log, 'erasure request acknowledged');
    } else if (next.kind === 'failed') {
      erasures.failed(claim, answer.status, next.error, answer.outcome);
      this.deps.logger.error(log, 'erasure request failed for good');
    } else {
      erasures.retryLater(claim, this.deps.clock.now() + next.delay, answer.error, answer.status, answer.outcome);
      this.deps.logger.warn({ ...log, retryInMs: next.delay }, 'erasure request will be retried');
    }
  }

  private keyOf(policy: ApprovedPolicy): VendorKey {
    return vendorKey(policy.effective.policy, this.deps.policiesDir, this.deps.env);
  }

  private async deliver(claim: Claim, key: VendorKey): Promise<void> {
    const t = Math.floor(this.deps.clock.now() / 1000);
    // The link is outside the body (so the body stays equal to its preview) and signed with it by v2.
    const previous = previousHeader(claim.previous);
    const answer = await this.post(claim.endpoint, claim.body, {
      'idempotency-key': claim.summaryId,
      'sluice-signature': `${signatureHeader(key.key, key.kid, t, claim.body)},v2=${chainedSignature(key.key, t, previous, claim.body)}${
        claim.agreement ? `,v3=${agreementSignature(key.key, t, previous, claim.agreement, claim.body)}` : ''
      }`,
      [PREVIOUS_HEADER]: previous,
      ...(claim.agreement ? { [AGREEMENT_HEADER]: claim.agreement } : {}),
    });
    if (!answer) return;
    const { outbox, logger } = this.deps;
    const log = { summary: claim.summaryId, vendor: claim.policy.vendor, attempt: claim.attempt, status: answer.status };
    const next = this.nextStep(answer, claim.attempt);
    if (next.kind === 'acknowledged') {
      outbox.acknowledged(claim, answer.status!);
      logger.info(log, 'summary delivered');
    } else if (next.kind === 'failed') {
      outbox.failed(claim, answer.status, next.error, answer.outcome);
      logger.error(log, 'summary delivery failed for good');
    } else {
      outbox.retryLater(claim, this.deps.clock.now() + next.delay, answer.error, answer.status, answer.outcome);
      logger.warn({ ...log, retryInMs: next.delay, error: answer.error }, 'summary delivery will be retried');
    }
  }

  /** One signed POST with the request timeout; undefined when the gateway stopped mid-request (the lease expires and a later run retries). */
  private async post(endpoint: string, body: Buffer, headers: Record<string, string>): Promise<Answer | undefined> {
    const answer = await this.passes.abortable((controller) => signedPost(endpoint, body, headers, { timeoutMs: this.deps.options.requestTimeout, now: () => this.deps.clock.now(), controller }));
    return this.passes.stopped && answer.status === null ? undefined : answer;
  }

  /** What follows an answer: done, given up (not retryable, or out of attempts), or a retry after backoff or Retry-After. */
  private nextStep(answer: Answer, attempt: number): RetryStep {
    return retryStep(answer, attempt, this.deps.options, this.deps.random ?? Math.random);
  }
}

export type RetryStep = { kind: 'acknowledged' } | { kind: 'failed'; error: string } | { kind: 'retry'; delay: number };

/**
 * One POST of stored bytes to a vendor, as the forwarder sends summaries: the request timeout,
 * no redirects, and the failure said as a kind the household can act on. `readBody` keeps up to
 * that many bytes of the answer (the terms exchange reads the vendor's signed answer).
 */
export async function signedPost(
  endpoint: string,
  body: Buffer,
  headers: Record<string, string>,
  o: { timeoutMs: number; now: () => number; controller?: AbortController; readBody?: number },
): Promise<Answer> {
  const controller = o.controller ?? new AbortController();
  const timer = setTimeout(() => controller.abort(), o.timeoutMs);
  try {
    const res = await fetch(endpoint, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...headers, 'user-agent': 'sluice/1' },
      // [PRIV-7] only to the approved endpoint: redirects are not followed.
      redirect: 'manual',
      signal: controller.signal,
    });
    const answer: Answer = { status: res.status, retryAfter: parseRetryAfter(res.headers.get('retry-after'), o.now()), error: `HTTP ${res.status}`, outcome: 'http' };
    if (o.readBody !== undefined) {
      const bytes = Buffer.from(await res.arrayBuffer());
      answer.body = bytes.length > o.readBody ? null : bytes;
    } else await res.body?.cancel().catch(() => undefined);
    return answer;
  } catch (err) {
    const cause = causeOf(err);
    const outcome = controller.signal.aborted ? 'timeout' : outcomeOf(cause);
    return { status: null, retryAfter: undefined, outcome, error: controller.signal.aborted ? `no answer within ${o.timeoutMs} ms` : `request failed (${outcome}): ${cause}` };
  } finally {
    clearTimeout(timer);
  }
}

/** The one retry decision of summaries, erasure requests and terms: 2xx done; 408/425/429/5xx and network errors retried with backoff or Retry-After until attempts run out. */
export function retryStep(answer: Pick<Answer, 'status' | 'retryAfter' | 'error'>, attempt: number, options: Pick<ForwarderOptions, 'maxAttempts' | 'retryAfterMax' | 'backoffInitial' | 'backoffMax' | 'backoffJitter'>, random: () => number): RetryStep {
  const { status } = answer;
  if (status !== null && status >= 200 && status < 300) return { kind: 'acknowledged' };
  const retryable = status === null || RETRYABLE.has(status);
  if (!retryable || (options.maxAttempts > 0 && attempt >= options.maxAttempts)) {
    return { kind: 'failed', error: retryable ? `gave up after ${attempt} attempts: ${answer.error}` : answer.error };
  }
  const delay = answer.retryAfter !== undefined ? Math.min(answer.retryAfter, options.retryAfterMax) : backoffDelay(attempt, options, random);
  return { kind: 'retry', delay };
}

/** A vendor's answer to one POST, or why there was none. */
export interface Answer {
  status: number | null;
  retryAfter: number | undefined;
  error: string;
  outcome: AttemptOutcome;
  /** The answer's bytes when asked for (null: larger than allowed). */
  body?: Buffer | null;
}

/** The kind of failure a household can act on: the vendor refused the connection, did not answer, or failed TLS. */
function outcomeOf(cause: string): AttemptOutcome {
  if (cause === 'ECONNREFUSED') return 'refused';
  if (cause === 'ETIMEDOUT' || cause === 'UND_ERR_CONNECT_TIMEOUT' || cause === 'UND_ERR_HEADERS_TIMEOUT') return 'timeout';
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/i.test(cause)) return 'tls';
  return 'network';
}

function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
