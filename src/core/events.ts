/** Events the gateway's modules tell each other about; names are `domain.pastTense`. */
export interface SluiceEvents {
  'readings.committed': { count: number; deviceIds: string[] };
  'message.quarantined': { deviceId: string | null; topic: string; reason: string };
  'device.changed': { deviceId: string; change: 'added' | 'removed' | 'passwd' | 'described' };
  'device.status': { deviceId: string; online: boolean };
  'store.faulted': { message: string };
  'store.recovered': Record<string, never>;
  /** Rows left the store (erase, retention): anyone caching counts or ids must re-read them. */
  'store.purged': { by: 'erase' | 'retention' };
  'policy.decided': { policy: string; decision: 'approved' | 'revoked' };
  'summary.queued': { summaryId: string; policy: string };
  /** A vendor answered the household's terms, or a member chose on a counter-offer (src/terms). */
  'terms.decided': { vendor: string; state: string };
  /** The household approved an intent or accepted an offer: the intent service has something to send. */
  'intent.decided': { intent: number; decision: 'approved' | 'accepted' };
}

type Listener<K extends keyof SluiceEvents> = (payload: SluiceEvents[K]) => void;

/** A typed event bus; listeners are registered by owner so a stopping service drops all of its own. */
export class EventBus {
  private readonly listeners = new Map<keyof SluiceEvents, Array<{ owner: object; fn: Listener<never> }>>();

  on<K extends keyof SluiceEvents>(event: K, owner: object, fn: Listener<K>): void {
    const list = this.listeners.get(event) ?? [];
    list.push({ owner, fn: fn as Listener<never> });
    this.listeners.set(event, list);
  }

  off(owner: object): void {
    for (const [event, list] of this.listeners) {
      this.listeners.set(
        event,
        list.filter((l) => l.owner !== owner),
      );
    }
  }

  emit<K extends keyof SluiceEvents>(event: K, payload: SluiceEvents[K]): void {
    for (const l of this.listeners.get(event) ?? []) (l.fn as Listener<K>)(payload);
  }
}
