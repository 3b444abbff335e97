import { connect as netConnect, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';

/**
 * A minimal MQTT 3.1.1 client for load generation: raw socket plus mqtt-packet, no queues,
 * no reconnects. MQTT.js does much more per message, and on two shared cores the load
 * generator's own cost would otherwise decide the measured rate.
 */
export class LiteClient {
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  private nextId = 1;
  private readonly acks = new Map<number, () => void>();
  private pingWaiters: Array<() => void> = [];
  private connackWaiter: ((code: number) => void) | undefined;
  closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.parser.parse(d));
    this.parser.on('packet', (p: Packet) => this.onPacket(p));
    this.parser.on('error', () => socket.destroy());
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.closed = true;
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }

  /** Connects and waits for CONNACK 0; rejects with the return code otherwise. */
  static async connect(opts: { port: number; host?: string; localAddress?: string; clientId: string; username?: string; password?: string; keepalive?: number }): Promise<LiteClient> {
    const socket = netConnect({ port: opts.port, host: opts.host ?? '127.0.0.1', ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    const client = new LiteClient(socket);
    const code = await new Promise<number>((resolve, reject) => {
      client.connackWaiter = resolve;
      void client.closedPromise.then(() => reject(new Error(`connection closed before CONNACK (${opts.clientId})`)));
      client.write({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        clientId: opts.clientId,
        keepalive: opts.keepalive ?? 0,
        ...(opts.username !== undefined ? { username: opts.username } : {}),
        ...(opts.password !== undefined ? { password: Buffer.from(opts.password) } : {}),
      });
    });
    if (code !== 0) {
      socket.destroy();
      throw new Error(`CONNACK ${code} for ${opts.clientId}`);
    }
    return client;
  }

  /** Publishes; for QoS 1 `onAck` runs at the PUBACK. Returns false when the socket buffer is full. */
  publish(topic: string, payload: Buffer, qos: 0 | 1, onAck?: () => void): boolean {
    if (qos === 0) return this.write({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false });
    const messageId = this.nextId;
    this.nextId = this.nextId === 65535 ? 1 : this.nextId + 1;
    if (onAck) this.acks.set(messageId, onAck);
    return this.write({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false, messageId });
  }

  /** Resolves at PINGRESP: the broker has handled every packet sent before it. */
  ping(): Promise<void> {
    return new Promise((resolve) => {
      this.pingWaiters.push(resolve);
      this.write({ cmd: 'pingreq' });
    });
  }

  drain(): Promise<void> {
    return new Promise((resolve) => this.socket.once('drain', () => resolve()));
  }

  get inFlight(): number {
    return this.acks.size;
  }

  end(): Promise<void> {
    if (!this.closed) {
      this.write({ cmd: 'disconnect' });
      this.socket.end();
    }
    return this.closedPromise;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private write(packet: Packet): boolean {
    if (this.closed) return false;
    return this.socket.write(mqttPacket.generate(packet));
  }

  private onPacket(p: Packet): void {
    if (p.cmd === 'puback') {
      const cb = this.acks.get(p.messageId!);
      if (cb) {
        this.acks.delete(p.messageId!);
        cb();
      }
    } else if (p.cmd === 'connack') {
      this.connackWaiter?.(p.returnCode ?? 0);
      this.connackWaiter = undefined;
    } else if (p.cmd === 'pingresp') {
      this.pingWaiters.shift()?.();
    }
  }
}
