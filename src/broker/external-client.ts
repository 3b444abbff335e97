import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import type { SluiceConfig } from '../config/index.js';
import { SluiceError, type Clock, type EventBus, type Logger, type Service } from '../core/index.js';
import { bridgeNamespace, type DeviceRegistry } from '../devices/index.js';
import type { Ingest } from '../ingest/index.js';
import { routeTopic } from './route.js';

/** The topics of Sluice's native namespace, subscribed besides every bridge's base topic. */
export const NATIVE_FILTERS = ['sluice/+/telemetry', 'sluice/+/status'] as const;

/** ms within which Sluice expects its own clearing publish back on its subscription. */
const CLEAR_ECHO_WINDOW = 10_000;
/** Topics awaiting their clearing echo at most (a flood from paused devices stays bounded). */
const MAX_CLEARING = 1000;

/** Where and how to reach the household's broker (from sluice.yaml `broker.external`). */
export interface ExternalBrokerOptions {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  clientId: string;
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  /** ms */
  connectTimeout: number;
  /** ms, doubling up to reconnectMax */
  reconnectMin: number;
  reconnectMax: number;
  /** ms */
  keepalive: number;
}

/** Maps `broker.external` to the client's options, reading the password and PEM files; a missing secret is a config error. */
export function externalBrokerOptionsFrom(config: Pick<SluiceConfig, 'broker'>, env: NodeJS.ProcessEnv = process.env): ExternalBrokerOptions {
  const e = config.broker.external;
  let password: string | undefined;
  if (e.password_env) {
    password = env[e.password_env];
    if (password === undefined) throw new SluiceError('SLUICE_ERR_CONFIG_INVALID', `broker.external.password_env names ${e.password_env}, which is not set`);
  } else if (e.password_file) {
    password = readSecret(e.password_file, 'password_file').toString('utf8').replace(/\r?\n$/, '');
  }
  return {
    url: e.url,
    username: e.username || undefined,
    password,
    clientId: e.client_id,
    ca: e.ca_file ? readSecret(e.ca_file, 'ca_file') : undefined,
    cert: e.cert_file ? readSecret(e.cert_file, 'cert_file') : undefined,
    key: e.key_file ? readSecret(e.key_file, 'key_file') : undefined,
    connectTimeout: e.connect_timeout,
    reconnectMin: e.reconnect_min,
    reconnectMax: e.reconnect_max,
    keepalive: e.keepalive,
  };
}

function readSecret(file: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new SluiceError('SLUICE_ERR_CONFIG_INVALID', `broker.external.${key} ${file} cannot be read: ${(err as Error).message}`);
  }
}

/** What `sluice status` shows of the external broker; the url never carries a password. */
export interface ExternalBrokerStatus {
  url: string;
  client_id: string;
  connected: boolean;
  last_error: string | null;
  reconnects: number;
}

/**
 * Sluice as a client of the household's own broker: a persistent session (`clean: false`, a
 * fixed client id) subscribed at QoS 1 to the native namespace and every bridge's base topic,
 * feeding the same ingest as the embedded broker. MQTT.js sends the PUBACK when
 * `handleMessage`'s callback runs, so the callback runs only after the commit; a message not
 * committed is never acknowledged and the broker redelivers it in the session.
 */
export class ExternalBrokerClient implements Service {
  readonly name = 'external-broker';
  private client: MqttClient | undefined;
  private connected = false;
  private lastError: string | null = null;
  private reconnects = 0;
  private backoff: number;
  private readonly subscribed = new Set<string>();
  /** [PAUSE-3] Topics Sluice cleared and whose empty echo is still to come: topic → count and ms deadline. */
  private readonly clearing = new Map<string, { count: number; until: number }>();

  constructor(
    private readonly deps: {
      options: ExternalBrokerOptions;
      registry: DeviceRegistry;
      intake: Ingest;
      clock: Clock;
      logger: Logger;
      events: EventBus;
      /**
       * TEST ONLY (env SLUICE_TEST_KILL_AFTER_COMMIT): the message whose payload is exactly `payload`
       * SIGKILLs the process after its commit and before its PUBACK, once (`onceFile` remembers it).
       */
      testKillAfterCommit?: { payload: string; onceFile: string } | undefined;
    },
  ) {
    this.backoff = deps.options.reconnectMin;
  }

  status(): ExternalBrokerStatus {
    return { url: safeUrl(this.deps.options.url), client_id: this.deps.options.clientId, connected: this.connected, last_error: this.lastError, reconnects: this.reconnects };
  }

  /** The filters Sluice holds: the native namespace and each registered bridge's namespace. */
  filters(): string[] {
    const bridged = this.deps.registry
      .list()
      .filter((d) => d.role === 'bridge')
      .flatMap((d) => bridgeNamespace(d));
    return [...NATIVE_FILTERS, ...new Set(bridged)];
  }

  async start(): Promise<void> {
    const o = this.deps.options;
    const options: IClientOptions = {
      clientId: o.clientId,
      clean: false,
      protocolVersion: 4,
      username: o.username,
      password: o.password,
      connectTimeout: o.connectTimeout,
      keepalive: Math.max(1, Math.round(o.keepalive / 1000)),
      reconnectPeriod: o.reconnectMin,
      // Subscriptions are (re)made on every connect by this class, from the registry as it is then.
      resubscribe: false,
      ca: o.ca,
      cert: o.cert,
      key: o.key,
      manualConnect: true,
    };
    // MQTT.js (≈ 4–8 MiB resident) is loaded only in external mode, not by every gateway and CLI command.
    const { default: mqtt } = await import('mqtt');
    const client = mqtt.connect(o.url, options);
    client.handleMessage = (packet, callback) => this.handleMessage(packet as IPublishPacket, callback);
    this.client = client;
    client.on('connect', () => {
      this.connected = true;
      this.lastError = null;
      this.backoff = o.reconnectMin;
      client.options.reconnectPeriod = o.reconnectMin;
      this.deps.logger.info({ url: safeUrl(o.url), clientId: o.clientId }, 'connected to the external broker');
      this.subscribed.clear();
      this.syncSubscriptions();
    });
    client.on('close', () => {
      if (this.connected) this.deps.logger.warn({ url: safeUrl(o.url) }, 'disconnected from the external broker; reconnecting');
      this.connected = false;
    });
    client.on('reconnect', () => {
      this.reconnects++;
      // MQTT.js reads reconnectPeriod each time it schedules the next attempt: doubling it here is the backoff.
      this.backoff = Math.min(o.reconnectMax, this.backoff * 2);
      client.options.reconnectPeriod = this.backoff;
    });
    client.on('error', (err) => {
      this.lastError = err.message;
      this.deps.logger.warn({ err: err.message }, 'external broker error');
    });
    this.deps.events.on('device.changed', this, () => this.syncSubscriptions());
    client.connect();
    // Start does not wait for the broker: Sluice runs (and says "not connected") while Mosquitto is down.
  }

  async stop(): Promise<void> {
    this.deps.events.off(this);
    const client = this.client;
    this.client = undefined;
    // Not forced: the PUBACKs of messages already committed still go out before the socket closes.
    if (client) await client.endAsync(false);
    this.connected = false;
  }

  private syncSubscriptions(): void {
    const client = this.client;
    if (!client || !this.connected) return;
    const wanted = this.filters().filter((f) => !this.subscribed.has(f));
    if (wanted.length === 0) return;
    for (const f of wanted) this.subscribed.add(f);
    client.subscribe(wanted, { qos: 1 }, (err, granted) => {
      if (err) {
        for (const f of wanted) this.subscribed.delete(f);
        this.lastError = `subscribe failed: ${err.message}`;
        this.deps.logger.error({ err: err.message }, 'subscribing on the external broker failed');
        return;
      }
      const refused = (granted ?? []).filter((g) => g.qos === 128);
      if (refused.length === 0) this.deps.logger.info({ filters: wanted }, 'subscribed on the external broker');
      for (const g of refused) {
        this.subscribed.delete(g.topic);
        this.lastError = `the broker refused the subscription ${g.topic}; check its ACL for ${this.deps.options.clientId}`;
        this.deps.logger.error({ filter: g.topic }, 'the external broker refused a subscription');
      }
    });
  }

  private handleMessage(packet: IPublishPacket, callback: (error?: Error) => void): void {
    if (packet.dup) this.deps.logger.debug({ topic: packet.topic, messageId: packet.messageId }, 'redelivery from the external broker');
    this.ingest(packet).then(
      () => {
        this.testKill(packet);
        callback();
      },
      (err: unknown) => {
        // Not acknowledged: dropping the connection makes the broker redeliver it in the session.
        this.lastError = `readings could not be stored: ${(err as Error).message}`;
        this.deps.logger.error({ err, topic: packet.topic }, 'readings could not be stored; the broker will redeliver');
        this.client?.stream.destroy();
      },
    );
  }

  private testKill(packet: IPublishPacket): void {
    const hook = this.deps.testKillAfterCommit;
    if (!hook || packet.payload.toString() !== hook.payload || existsSync(hook.onceFile)) return;
    writeFileSync(hook.onceFile, 'killed\n');
    process.kill(process.pid, 'SIGKILL');
  }

  private async ingest(packet: IPublishPacket): Promise<void> {
    const route = routeTopic(this.deps.registry, packet.topic);
    if (!route) return;
    // [MQTT-3.3.1-8] retain=1 reaches a client only for a new subscription: it is old state,
    // ingested when it was first published; a status is still worth hearing.
    if (packet.retain && !packet.topic.endsWith('/status')) return;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    // MQTT 3.1.1 has no "no local": Sluice's own clearing comes back to it, and holds nothing to read.
    if (payload.length === 0 && this.ownClearing(packet.topic)) return;
    // Keyed by Sluice's own session id: the packet ids are the broker's, unique within that session.
    const incoming = { topic: packet.topic, payload, qos: packet.qos, dup: packet.dup, messageId: packet.messageId };
    const clientId = this.deps.options.clientId;
    const verdict = route.kind === 'device' ? await this.deps.intake.fromDevice(route.device, clientId, incoming) : await this.deps.intake.fromBridge(route.bridge, clientId, incoming, route.behind);
    // [PAUSE-3] Held back by a no-store pause: the household's broker may have kept it as retained state.
    if (verdict === 'not-stored' && payload.length > 0) this.clearRetained(packet.topic);
  }

  /**
   * [PAUSE-3] Clears a topic's retained message on the household's broker (an empty retained
   * publish). Under MQTT 3.1.1 a live message never says whether it was retained
   * [MQTT-3.3.1-9], so every topic a paused device speaks on is cleared, and a retained state
   * from before the pause goes with it. Mosquitto drops it silently where its ACL does not let
   * Sluice write (`sluice mosquitto-config` grants device state topics only).
   */
  private clearRetained(topic: string): void {
    const client = this.client;
    if (!client) return;
    const pending = this.clearing.get(topic);
    if (!pending && this.clearing.size >= MAX_CLEARING) this.clearing.delete(this.clearing.keys().next().value!);
    this.clearing.set(topic, { count: (pending?.count ?? 0) + 1, until: this.deps.clock.now() + CLEAR_ECHO_WINDOW });
    client.publish(topic, Buffer.alloc(0), { qos: 1, retain: true }, (err) => {
      if (err) this.deps.logger.warn({ err: err.message, topic }, 'a paused device\'s retained state could not be cleared on the external broker');
    });
  }

  /** Whether an empty message is the echo of Sluice's own clearing (then it is not ingested). */
  private ownClearing(topic: string): boolean {
    const pending = this.clearing.get(topic);
    if (!pending) return false;
    if (--pending.count <= 0) this.clearing.delete(topic);
    return pending.until >= this.deps.clock.now();
  }
}

/** The url without user info, for logs and status. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}
