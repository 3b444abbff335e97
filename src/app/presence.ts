import type { EventBus, Service } from '../core/index.js';

/** Whether each device said it is online: its retained status message or last will, as the running gateway last heard it. */
export class DevicePresence implements Service {
  readonly name = 'presence';
  private readonly online = new Map<string, boolean>();
  constructor(private readonly deps: { events: EventBus }) {}

  async start(): Promise<void> {
    this.deps.events.on('device.status', this, (e) => this.online.set(e.deviceId, e.online));
    this.deps.events.on('device.changed', this, (e) => {
      if (e.change === 'removed') this.online.delete(e.deviceId);
    });
  }

  async stop(): Promise<void> {
    this.deps.events.off(this);
  }

  /** device id → online; a device not listed has sent no status since the gateway started. */
  snapshot(): Record<string, boolean> {
    return Object.fromEntries(this.online);
  }
}
