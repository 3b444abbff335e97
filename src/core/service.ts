/** A long-lived part of the gateway. The constructor does no work; start() and stop() do. */
export interface Service {
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

/** Starts services in order and stops the started ones in reverse, also when a start fails. */
export class Lifecycle {
  private readonly started: Service[] = [];

  constructor(private readonly services: readonly Service[]) {}

  async start(): Promise<void> {
    for (const service of this.services) {
      try {
        await service.start();
      } catch (err) {
        await this.stop();
        throw err;
      }
      this.started.push(service);
    }
  }

  /** Stops in reverse order; a failing stop does not keep the others running. */
  async stop(): Promise<unknown[]> {
    const errors: unknown[] = [];
    while (this.started.length > 0) {
      const service = this.started.pop()!;
      try {
        await service.stop();
      } catch (err) {
        errors.push(err);
      }
    }
    return errors;
  }
}
