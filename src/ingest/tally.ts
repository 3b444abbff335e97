import type { Ingest, ReadingSink } from './sink.js';

/** Counts since start: no device, topic or value, only how many and why (for `/metrics`). */
export interface IngestCounts {
  /** Messages the broker handed to ingest (device, bridge and refused-topic publishes). */
  received: number;
  /** Messages at least one reading of which was committed (a bridge message: per device state it carried). */
  stored: number;
  /** Readings committed. */
  readings: number;
  /** Quarantine entries committed, by reason code. */
  quarantined: Record<string, number>;
}

// Reason codes are a closed set in the code (RejectionCode, bridge flags); anything else is counted
// as `other`, so a label can never carry text a device sent and the series stay few.
const REASON = /^[a-z][a-z0-9_]{0,39}$/;
const MAX_REASONS = 32;

/**
 * Wraps the broker's `Ingest` and the store's `ReadingSink` to count outcomes, without a rule
 * of its own: a message counts as stored or quarantined when its write commits.
 */
export class IngestTally {
  private received = 0;
  private stored = 0;
  private readings = 0;
  private readonly quarantined = new Map<string, number>();

  /** The broker's side: every message handed over is received. */
  ingest(inner: Ingest): Ingest {
    const counted: Ingest = {
      fromDevice: (device, clientId, packet) => {
        this.received++;
        return inner.fromDevice(device, clientId, packet);
      },
      fromBridge: (bridge, clientId, packet, behind) => {
        this.received++;
        return inner.fromBridge(bridge, clientId, packet, behind);
      },
    };
    if (inner.notYourTopic) {
      const refused = inner.notYourTopic.bind(inner);
      counted.notYourTopic = (who, clientId, packet, allowed) => {
        this.received++;
        refused(who, clientId, packet, allowed);
      };
    }
    return counted;
  }

  /** The store's side: what committed. */
  sink(inner: ReadingSink): ReadingSink {
    return {
      // A then() on the commit, not an async function: one promise per message fewer.
      submit: (request) =>
        inner.submit(request).then(() => {
          if (request.readings.length > 0) {
            this.stored++;
            this.readings += request.readings.length;
          }
          if (request.quarantine) this.countQuarantine(request.quarantine.reason);
        }),
    };
  }

  snapshot(): IngestCounts {
    return { received: this.received, stored: this.stored, readings: this.readings, quarantined: Object.fromEntries(this.quarantined) };
  }

  private countQuarantine(reason: string): void {
    let key = REASON.test(reason) ? reason : 'other';
    if (!this.quarantined.has(key) && this.quarantined.size >= MAX_REASONS) key = 'other';
    this.quarantined.set(key, (this.quarantined.get(key) ?? 0) + 1);
  }
}
