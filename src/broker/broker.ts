import { Aedes, type AedesOptions, type AuthenticateError, type Client } from 'aedes';
import type { Clock, EventBus, Logger, Service } from '../core/index.js';
import type { DeviceRecord, DeviceRegistry } from '../devices/index.js';
import type { Ingest } from '../ingest/index.js';
import { canPublish, canSubscribe } from './acl.js';
import { BrokerHardening, type SessionStore } from './hardening.js';
import { BrokerListeners } from './listeners.js';
import { defaultBrokerSettings, type BrokerSettings } from './settings.js';

export interface BrokerOptions {
  host: string;
  port: number;
  /** Listeners and limits (sluice.yaml `broker`); the defaults when absent. */
  settings?: BrokerSettings;
}

/** Per-connection facts the hooks need; kept beside aedes' client, never on it. */
interface Session {
  device?: DeviceRecord;
  emptyPersistentId?: boolean;
  clientIdTooLong?: boolean;
}

function authError(returnCode: 2 | 3 | 4 | 5, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/**
 * The local MQTT broker: aedes over TCP with Sluice's authentication, topic ACL and ingest.
 * Ingest runs inside authorizePublish because aedes writes the PUBACK right after that hook
 * returns; calling back only after the commit makes a PUBACK mean "on disk".
 */
export class MqttBroker implements Service {
  readonly name = 'broker';
  private aedes: Aedes | undefined;
  private listeners: BrokerListeners | undefined;
  private hardening: BrokerHardening | undefined;
  private readonly sessions = new WeakMap<Client, Session>();
  private boundPort = 0;

  constructor(
    private readonly deps: {
      options: BrokerOptions;
      registry: DeviceRegistry;
      intake: Ingest;
      clock: Clock;
      logger: Logger;
      events: EventBus;
      aedesOptions?: Partial<AedesOptions>;
      /** Durable retained messages and sessions; aedes' in-memory persistence when absent. */
      sessionStore?: SessionStore;
    },
  ) {}

  /** The TCP port actually bound (useful with port 0). */
  get port(): number {
    return this.boundPort;
  }

  /** Bound ports by listener (mqtt, mqtts, ws, wss). */
  get ports(): Record<string, number> {
    return { ...this.listeners?.ports };
  }

  /** Connection and limit counters for `sluice status`. */
  stats(): Record<string, unknown> {
    return this.hardening?.stats() ?? {};
  }

  /** Re-reads TLS certificates (SIGHUP). */
  reloadCertificates(): void {
    this.listeners?.reloadCertificates();
  }

  get connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  async start(): Promise<void> {
    const { logger } = this.deps;
    const settings = this.deps.options.settings ?? defaultBrokerSettings(this.deps.options.host, this.deps.options.port);
    const hardening = new BrokerHardening({ limits: settings.limits, clock: this.deps.clock, logger, persistence: this.deps.sessionStore });
    this.hardening = hardening;
    const aedes = new Aedes({
      ...hardening.aedesOptions(),
      ...this.deps.aedesOptions,
      preConnect: (client, packet, done) => this.preConnect(client, packet.protocolVersion ?? 4, packet.clientId, packet.clean ?? true, done),
      authenticate: (client, username, password, done) => void this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => {
        const device = client ? this.sessions.get(client)?.device : undefined;
        if (device && canSubscribe(device, sub.topic) && hardening.checkSubscribe(client!, sub.topic)) return done(null, sub);
        logger.warn({ deviceId: device?.id, filter: sub.topic }, 'subscription refused');
        done(null, null); // SUBACK 0x80
      },
    });
    await aedes.listen();
    aedes.on('clientError', (client, err) => logger.debug({ clientId: client.id, err: err.message }, 'client error'));
    aedes.on('connectionError', (client, err) => logger.debug({ clientId: client?.id, err: err.message }, 'connection error'));
    hardening.attach(aedes);
    this.aedes = aedes;

    const listeners = new BrokerListeners({
      options: settings.listeners,
      logger,
      onConnection: (transport, remoteAddress, outboundBytes) => {
        const guarded = hardening.admit(transport, remoteAddress, outboundBytes);
        if (guarded) aedes.handle(guarded as never);
      },
    });
    this.listeners = listeners;
    try {
      await listeners.start();
    } catch (err) {
      // start() failed, so stop() will not run: release aedes' timers here or the process lingers.
      await this.stop();
      throw err;
    }
    this.boundPort = listeners.ports.mqtt ?? 0;
  }

  async stop(): Promise<void> {
    await this.listeners?.stop();
    this.listeners = undefined;
    this.hardening?.stop();
    const aedes = this.aedes;
    this.aedes = undefined;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }

  private preConnect(client: Client, version: number, clientId: string, clean: boolean, done: (err: Error | null, ok: boolean) => void): void {
    if (version === 5) {
      this.deps.logger.warn({ clientId }, 'an MQTT 5 client tried to connect; Sluice speaks MQTT 3.1.1 — set the device or library to protocol version 4 (3.1.1)');
    }
    // [MQTT-3.1.3-8] a zero-length ClientId needs CleanSession=1; refused in authenticate with 0x02.
    this.sessions.set(client, { emptyPersistentId: clientId === '' && !clean, clientIdTooLong: this.hardening!.clientIdTooLong(client, clientId) });
    done(null, true);
  }

  private async authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (err: AuthenticateError | null, ok: boolean | null) => void,
  ): Promise<void> {
    const session = this.sessions.get(client) ?? {};
    if (session.emptyPersistentId) return done(authError(2, 'identifier rejected: an empty client id needs a clean session'), false);
    if (session.clientIdTooLong) return done(authError(2, 'identifier rejected: client id too long'), false);
    if (!username || !password) {
      this.deps.logger.warn({ clientId: client.id }, 'anonymous connection refused');
      return done(authError(5, 'not authorized: credentials required'), false);
    }
    const hardening = this.hardening!;
    if (hardening.authBlockedFor(client, username) > 0) {
      // Refused without checking: a brute force must not buy scrypt time, nor learn anything.
      return done(authError(5, 'not authorized: too many failed attempts; try again later'), false);
    }
    let device: DeviceRecord | null;
    try {
      const checked = await hardening.inAuthSlot(client, () => this.deps.registry.authenticate(username, password.toString('utf8')));
      if (checked === undefined) return done(authError(3, 'server unavailable: too many logins at once; try again'), false);
      device = checked;
    } catch (err) {
      this.deps.logger.error({ err }, 'authentication failed with an error');
      device = null;
    }
    if (!device) {
      this.deps.logger.warn({ username, clientId: client.id }, 'bad username or password');
      hardening.authFailed(client, username);
      return done(authError(4, 'bad username or password'), false);
    }
    hardening.authSucceeded(client, username, device.role !== 'device' || device.simulated);
    session.device = device;
    this.sessions.set(client, session);
    done(null, true);
  }

  private authorizePublish(client: Client | null, packet: { topic: string; payload: Buffer | string; qos: 0 | 1 | 2; dup?: boolean; retain?: boolean; messageId?: number }, done: (err?: Error | null) => void): void {
    if (!client) return done(null); // the broker's own messages
    const check = this.hardening!.checkPublish(client, packet);
    if (!check.ok) {
      this.deps.logger.debug({ clientId: client.id, reason: check.reason }, 'publish refused by a limit; disconnecting');
      return done(new Error(check.reason));
    }
    const device = this.sessions.get(client)?.device;
    // Registry changes take effect at once: a removed device loses its rights mid-connection.
    const current = device ? this.deps.registry.get(device.id) : undefined;
    const ctx = { bridgeBases: current?.role === 'household' ? this.bridgeBases() : [] };
    if (!current || !canPublish(current, packet.topic, ctx)) {
      this.deps.logger.warn({ deviceId: device?.id, topic: packet.topic }, 'publish refused; disconnecting');
      return done(new Error(`not authorized to publish to ${packet.topic}`));
    }
    this.hardening!.admitRetained(client, packet);
    if (current.role === 'household') return done(null);
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const incoming = { topic: packet.topic, payload, qos: packet.qos, dup: packet.dup ?? false, messageId: packet.messageId };
    let ingested: Promise<void>;
    if (current.role === 'bridge') {
      const base = current.baseTopic ?? current.id;
      const behind = packet.topic.length > base.length ? this.deps.registry.behindBridge(current.id, packet.topic.slice(base.length + 1)) : undefined;
      ingested = this.deps.intake.fromBridge(current, client.id, incoming, behind);
    } else {
      ingested = this.deps.intake.fromDevice(current, client.id, incoming);
    }
    ingested.then(
        () => done(null),
        (err: unknown) => {
          this.deps.logger.error({ err, deviceId: current.id }, 'readings could not be stored; the device will resend');
          done(err as Error);
        },
      );
  }

  private bridgeBases(): string[] {
    return this.deps.registry
      .list()
      .filter((d) => d.role === 'bridge')
      .map((d) => d.baseTopic ?? d.id);
  }
}
