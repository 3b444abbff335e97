import type { Duplex } from 'node:stream';
import type { Client } from 'aedes';
import type { Clock } from '../../core/index.js';
import type { LimitCounters } from '../limit-counters.js';
import type { BrokerLimits } from '../limits.js';
import { PacketGuard } from '../packet-guard.js';
import type { TokenBucket } from '../token-bucket.js';

/** Facts of one admitted connection, keyed by the stream aedes sees as `client.conn`. */
interface Admitted {
  remoteAddress: string;
  budget: TokenBucket;
}

/**
 * Admission of connections, before aedes sees a byte: the connection cap, the per-address cap,
 * and the packet guard (packet size, publish rate, outbound backlog) around each transport.
 */
export class Admission {
  private readonly open = new Set<Duplex>();
  private readonly perAddress = new Map<string, number>();
  private readonly admitted = new WeakMap<object, Admitted>();

  constructor(
    private readonly deps: {
      limits: Pick<BrokerLimits, 'maxConnections' | 'maxConnectionsPerAddress' | 'maxPacketBytes' | 'maxOutboundBufferBytes'>;
      clock: Clock;
      counters: LimitCounters;
      /** A new connection's publish budget (until its role is known, a device's). */
      publishBudget: () => TokenBucket;
    },
  ) {}

  /** Wraps a new transport in the packet guard, or closes it over a cap; undefined when refused. */
  admit(transport: Duplex, remoteAddress: string, outboundBytes?: () => number): Duplex | undefined {
    const { limits, clock, counters } = this.deps;
    if (this.open.size >= limits.maxConnections) {
      counters.hit('connections', { remoteAddress });
      transport.destroy();
      return undefined;
    }
    const fromAddress = this.perAddress.get(remoteAddress) ?? 0;
    if (fromAddress >= limits.maxConnectionsPerAddress) {
      counters.hit('connections_per_address', { remoteAddress });
      transport.destroy();
      return undefined;
    }
    this.perAddress.set(remoteAddress, fromAddress + 1);
    const budget = this.deps.publishBudget();
    const guard = new PacketGuard(transport, {
      maxPacketBytes: limits.maxPacketBytes,
      maxOutboundBytes: limits.maxOutboundBufferBytes,
      outboundBytes,
      rate: budget,
      now: () => clock.now(),
      onLimit: (name) => counters.hit(name, { remoteAddress }),
    });
    this.open.add(guard);
    this.admitted.set(guard, { remoteAddress, budget });
    guard.once('close', () => this.release(guard, remoteAddress));
    guard.on('error', () => undefined); // aedes reports stream errors itself
    return guard;
  }

  /** Open connections. */
  get connections(): number {
    return this.open.size;
  }

  /** Connections open from one address. */
  connectionsFrom(remoteAddress: string): number {
    return this.perAddress.get(remoteAddress) ?? 0;
  }

  /** Remote address of an aedes client's connection. */
  addressOf(client: Client): string {
    return this.admitted.get(client.conn as object)?.remoteAddress ?? 'unknown';
  }

  /** The publish budget of an aedes client's connection. */
  budgetOf(client: Client): TokenBucket | undefined {
    return this.admitted.get(client.conn as object)?.budget;
  }

  stats(): { connections: number } {
    return { connections: this.open.size };
  }

  private release(guard: Duplex, remoteAddress: string): void {
    this.open.delete(guard);
    const left = (this.perAddress.get(remoteAddress) ?? 1) - 1;
    if (left > 0) this.perAddress.set(remoteAddress, left);
    else this.perAddress.delete(remoteAddress);
  }
}
