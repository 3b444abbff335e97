import type { Aedes } from 'aedes';

type Publish = Aedes['publish'];

/**
 * Holds back messages ingest refused: they are acknowledged (the device must not resend bad
 * input forever) and quarantined, but neither retained nor delivered, so no subscriber takes a
 * refused `sluice/<id>/status` for the device's state. aedes has no hook between the
 * acknowledgement and the delivery, so this wraps the broker's publish for those packets only.
 */
export class RefusedInput {
  private readonly refused = new WeakSet<object>();
  private count = 0;

  /** Marks a packet, still inside authorizePublish, so aedes acknowledges it and goes no further. */
  withhold(packet: { retain?: boolean }): void {
    packet.retain = false;
    this.refused.add(packet);
    this.count++;
  }

  /** Whether the packet was withheld. */
  isWithheld(packet: object): boolean {
    return this.refused.has(packet);
  }

  /** Messages withheld since start. */
  get withheld(): number {
    return this.count;
  }

  attach(aedes: Aedes): void {
    const publish = aedes.publish.bind(aedes) as (packet: object, client: unknown, done: (err?: Error | null) => void) => void;
    // aedes' publish handler passes the very packet authorizePublish saw on to broker.publish.
    (aedes as { publish: Publish }).publish = ((packet: object, client: unknown, done?: (err?: Error | null) => void) => {
      if (this.refused.has(packet)) {
        this.refused.delete(packet);
        const callback = typeof client === 'function' ? (client as (err?: Error | null) => void) : done;
        callback?.(null);
        return;
      }
      publish(packet, client, done ?? (() => undefined));
    }) as unknown as Publish;
  }
}
