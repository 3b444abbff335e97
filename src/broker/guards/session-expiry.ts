import type { Aedes, Client } from 'aedes';
import type { Clock, Logger } from '../../core/index.js';
import type { LimitCounters } from '../limit-counters.js';

/**
 * Forgets persistent sessions that stay offline longer than broker.limits.session_expiry, so
 * their subscriptions and queued messages do not pile up.
 */
export class SessionExpiry {
  private readonly offlineSince = new Map<string, number>();
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      /** ms */
      sessionExpiry: number;
      clock: Clock;
      logger: Logger;
      counters: LimitCounters;
      dropSession: (clientId: string) => Promise<void>;
    },
  ) {}

  attach(aedes: Aedes): void {
    aedes.on('client', (client) => this.online(client.id));
    aedes.on('clientDisconnect', (client) => {
      if (!(client as Client & { clean: boolean }).clean) this.offline(client.id);
    });
    const every = Math.max(10, Math.min(60_000, Math.floor(this.deps.sessionExpiry / 4)));
    this.sweepTimer = setInterval(() => void this.sweep(), every);
    this.sweepTimer.unref();
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  online(clientId: string): void {
    this.offlineSince.delete(clientId);
  }

  offline(clientId: string): void {
    this.offlineSince.set(clientId, this.deps.clock.now());
  }

  /** Drops every session offline for longer than the expiry. */
  async sweep(): Promise<void> {
    const cutoff = this.deps.clock.now() - this.deps.sessionExpiry;
    for (const [clientId, since] of this.offlineSince) {
      if (since > cutoff) continue;
      this.offlineSince.delete(clientId);
      this.deps.counters.hit('sessions_expired', { clientId });
      try {
        await this.deps.dropSession(clientId);
      } catch (err) {
        this.deps.logger.error({ err, clientId }, 'an expired session could not be removed');
      }
    }
  }

  stats(): { offline_sessions: number } {
    return { offline_sessions: this.offlineSince.size };
  }
}
