import { SerialPass, type Clock, type EventBus, type Logger, type Service } from '../core/index.js';
import { retryStep, signatureHeader, signedPost, signingKey, type ForwarderOptions } from '../share/index.js';
import type { Terms, TermsClaim } from './terms.js';

/** Largest answer read from a vendor; a signed answer is well under 2 KiB. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface TermsExchangeDeps {
  terms: Terms;
  clock: Clock;
  logger: Logger;
  events: EventBus;
  policiesDir: string;
  /** The forwarder's timeouts, backoff and attempts: an exchange is retried like a summary. */
  options: ForwarderOptions;
  env?: NodeJS.ProcessEnv;
  random?: () => number;
}

/**
 * Sends the household's proffers (and acceptances of counter-offers) to each vendor's terms
 * endpoint and takes the vendor's signed answer from the response. Outbound only: a vendor
 * never calls in; a vendor that needs time answers 202 and is asked again with backoff.
 */
export class TermsExchange implements Service {
  readonly name = 'terms-exchange';
  private readonly passes = new SerialPass({ run: () => this.drain(), onError: (err) => this.deps.logger.error({ err }, 'terms exchange pass failed') });

  constructor(private readonly deps: TermsExchangeDeps) {}

  start(): void {
    this.passes.start();
    this.deps.events.on('policy.decided', this, () => this.kick());
    this.deps.events.on('terms.decided', this, () => this.kick());
    this.kick();
  }

  async stop(): Promise<void> {
    this.deps.events.off(this);
    await this.passes.stop();
  }

  /** Looks for proffers to make and answers to fetch now. */
  kick(): void {
    void this.passes.kick();
  }

  /** Resolves when the current pass (if any) is done: for an operation that wants the answer now. */
  settled(): Promise<void> {
    return this.passes.settled();
  }

  private async drain(): Promise<void> {
    const { terms, clock, options } = this.deps;
    terms.prepare();
    while (!this.passes.stopped) {
      const claim = terms.claim(options.requestTimeout + options.backoffInitial);
      if (!claim) {
        const next = terms.nextDueAt();
        const wait = next === null ? options.pollInterval : Math.min(options.pollInterval, Math.max(0, next - clock.now()));
        this.passes.wakeIn(wait);
        return;
      }
      await this.deliver(claim);
    }
  }

  private async deliver(claim: TermsClaim): Promise<void> {
    const { terms, clock, options, logger } = this.deps;
    const log = { exchange: claim.exchangeId, vendor: claim.vendorName, attempt: claim.attempt };
    let headers: Record<string, string>;
    try {
      const key = signingKey(claim.policy.effective.policy, this.deps.policiesDir, this.deps.env);
      headers = { 'idempotency-key': claim.sentId, 'sluice-signature': signatureHeader(key.key, key.kid, Math.floor(clock.now() / 1000), claim.body) };
    } catch (err) {
      terms.retryLater(claim, clock.now() + options.pollInterval, (err as Error).message, null);
      logger.error(log, (err as Error).message);
      return;
    }
    const answer = await this.passes.abortable((controller) => signedPost(claim.endpoint, claim.body, headers, { timeoutMs: options.requestTimeout, now: () => clock.now(), controller, readBody: MAX_ANSWER_BYTES }));
    if (this.passes.stopped && answer.status === null) return;
    const random = this.deps.random ?? Math.random;
    // 202: the vendor has not decided yet; the same document is sent again (same Idempotency-Key) with backoff.
    const pending = answer.status === 202;
    const step = retryStep(pending ? { ...answer, status: 503, error: 'HTTP 202: the vendor has not answered yet' } : answer, claim.attempt, options, random);
    if (step.kind === 'acknowledged') {
      const taken = terms.answered(claim, answer.body ?? Buffer.alloc(0));
      if (taken.taken) {
        logger.info({ ...log, state: taken.state }, 'terms answered');
        this.deps.events.emit('terms.decided', { vendor: claim.vendorName, state: taken.state });
        return;
      }
      // An answer that does not check is asked for again, like a 503, until attempts run out.
      const again = retryStep({ status: 503, retryAfter: undefined, error: `answer refused: ${taken.reason}` }, claim.attempt, options, random);
      if (again.kind === 'retry') {
        terms.retryLater(claim, clock.now() + again.delay, `answer refused: ${taken.reason}`, answer.status);
        logger.warn({ ...log, reason: taken.reason }, 'terms answer refused; asking again later');
      } else {
        terms.failed(claim, answer.status, again.kind === 'failed' ? again.error : taken.reason);
        logger.error({ ...log, reason: taken.reason }, 'terms answer refused; giving up');
      }
    } else if (step.kind === 'failed') {
      terms.failed(claim, answer.status, step.error);
      logger.error({ ...log, status: answer.status }, 'terms proffer failed for good');
    } else {
      terms.retryLater(claim, clock.now() + step.delay, answer.error, answer.status);
      logger.warn({ ...log, status: answer.status, retryInMs: step.delay }, 'terms proffer will be retried');
    }
  }
}
