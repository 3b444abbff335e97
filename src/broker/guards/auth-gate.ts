import type { Client } from 'aedes';
import type { Clock } from '../../core/index.js';
import { AuthBackoff } from '../auth-backoff.js';
import type { LimitCounters } from '../limit-counters.js';
import type { BrokerLimits } from '../limits.js';

/**
 * The gate in front of the password check: client id length, backoff after bad credentials per
 * (address, username), and a semaphore so a login storm queues instead of multiplying scrypt.
 */
export class AuthGate {
  private readonly backoff: AuthBackoff;
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly deps: {
      limits: Pick<BrokerLimits, 'maxClientIdLength' | 'maxConcurrentAuth' | 'maxPendingAuth' | 'authFreeFailures' | 'authBackoffBase' | 'authBackoffMax'>;
      clock: Clock;
      counters: LimitCounters;
      addressOf: (client: Client) => string;
    },
  ) {
    const { limits } = deps;
    this.backoff = new AuthBackoff({ freeFailures: limits.authFreeFailures, baseDelay: limits.authBackoffBase, maxDelay: limits.authBackoffMax, maxEntries: 10_000 });
  }

  /** aedes checks maxClientsIdLength for MQTT 3.1 only; this covers 3.1.1 (answered with CONNACK 0x02). */
  clientIdTooLong(client: Client, clientId: string): boolean {
    if (clientId.length <= this.deps.limits.maxClientIdLength) return false;
    this.deps.counters.hit('client_id_too_long', { remoteAddress: this.deps.addressOf(client) });
    return true;
  }

  /** ms this (address, username) must still wait; 0 when its credentials may be checked. */
  blockedFor(client: Client, username: string): number {
    const remoteAddress = this.deps.addressOf(client);
    const wait = this.backoff.blockedFor(remoteAddress, username, this.deps.clock.now());
    if (wait > 0) this.deps.counters.hit('auth_backoff', { remoteAddress, username });
    return wait;
  }

  /**
   * Runs a password check in one of the few slots: each scrypt check holds its memory, so a
   * login storm must queue instead of multiplying that. Resolves to undefined when even the
   * queue is full (the caller refuses the login as "server unavailable").
   */
  async inSlot<T>(client: Client, check: () => Promise<T>): Promise<T | undefined> {
    const { limits } = this.deps;
    if (this.running >= limits.maxConcurrentAuth) {
      if (this.waiting.length >= limits.maxPendingAuth) {
        this.deps.counters.hit('auth_busy', { remoteAddress: this.deps.addressOf(client) });
        return undefined;
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await check();
    } finally {
      const next = this.waiting.shift();
      if (next) next(); // the slot passes on
      else this.running--;
    }
  }

  failed(client: Client, username: string): void {
    this.backoff.failed(this.deps.addressOf(client), username, this.deps.clock.now());
  }

  succeeded(client: Client, username: string): void {
    this.backoff.succeeded(this.deps.addressOf(client), username);
  }

  /** Checks running and waiting for a slot. */
  get inFlight(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  stats(): { auth_backoff_entries: number } {
    return { auth_backoff_entries: this.backoff.size };
  }
}
