import { Aedes, type AuthenticateError, type Client } from 'aedes';
import mqttPacket from 'mqtt-packet';
import type { SluiceConfig } from '../config/index.js';
import type { Clock, EventBus, Logger, Service } from '../core/index.js';
import { bridgeNamespace, type DeviceRecord, type DeviceRegistry } from '../devices/index.js';
import type { Ingest, IntakeVerdict } from '../ingest/index.js';
import { canPublish, canSubscribe, type AclContext } from './acl.js';
import { createBoundedEmitter } from './bounded-emitter.js';
import { Admission, AuthGate, PublishLimits, RefusedInput, SessionExpiry, SubscriptionLimits, brokerStatus, countAedesLimits } from './guards/index.js';
import { LimitCounters } from './limit-counters.js';
import type { BrokerLimits } from './limits.js';
import { BrokerListeners, type ListenerOptions } from './listeners.js';
import { bridgeRoute } from './route.js';
import { memorySessionStore, type SessionStore } from './session-store.js';
import type { PersistenceLimits } from './sqlite-persistence.js';

/** Listeners, limits and the durable store's caps of the broker, from sluice.yaml's `mqtt` and `broker` sections. */
export interface BrokerOptions {
  listeners: ListenerOptions;
  limits: BrokerLimits;
  /** For the SQLite session store main.ts builds beside the broker. */
  persistence: PersistenceLimits;
  /** Filters the household's tools may not subscribe to (sluice.yaml `household.deny_subscribe`). */
  householdDenySubscribe?: readonly string[];
}

/** Maps the validated config (snake_case) to the broker's options (camelCase, ms, bytes). */
export function brokerOptionsFrom(config: Pick<SluiceConfig, 'mqtt' | 'broker'> & Partial<Pick<SluiceConfig, 'household'>>): BrokerOptions {
  const { broker, mqtt } = config;
  const l = broker.limits;
  return {
    listeners: {
      // Above the broker's own cap, which counts and logs; this one only stops handshakes piling up.
      maxConnections: l.max_connections + 16,
      handshakeTimeout: l.connect_timeout,
      tcp: { enabled: broker.tcp, host: mqtt.host, port: mqtt.port },
      tls: { enabled: broker.tls.enabled, host: broker.tls.host, port: broker.tls.port, certFile: broker.tls.cert_file, keyFile: broker.tls.key_file },
      websocket: { ...broker.websocket, maxFrameBytes: l.max_packet_bytes },
    },
    limits: {
      maxPacketBytes: l.max_packet_bytes,
      maxConnections: l.max_connections,
      maxConnectionsPerAddress: l.max_connections_per_address,
      connectTimeout: l.connect_timeout,
      maxClientIdLength: l.max_client_id_length,
      maxConcurrentAuth: l.max_concurrent_auth,
      maxPendingAuth: l.max_pending_auth,
      authFreeFailures: l.auth_free_failures,
      authBackoffBase: l.auth_backoff_base,
      authBackoffMax: l.auth_backoff_max,
      publishRate: l.publish_rate,
      publishBurst: l.publish_burst,
      trustedPublishRate: l.trusted_publish_rate,
      trustedPublishBurst: l.trusted_publish_burst,
      maxTopicLength: l.max_topic_length,
      maxTopicLevels: l.max_topic_levels,
      maxSubscriptionsPerClient: l.max_subscriptions_per_client,
      maxRetainedMessages: l.max_retained_messages,
      maxRetainedBytes: l.max_retained_bytes,
      maxQueuedPerSession: l.max_queued_per_session,
      maxQueuedTotal: l.max_queued_total,
      sessionExpiry: l.session_expiry,
      maxOutboundBufferBytes: l.max_outbound_buffer_bytes,
      slowConsumerTimeout: l.slow_consumer_timeout,
      maxQueuedDeliveries: l.max_queued_deliveries,
    },
    householdDenySubscribe: config.household?.deny_subscribe ?? [],
    persistence: { maxRetained: l.max_retained_messages, maxRetainedBytes: l.max_retained_bytes, maxQueuedPerSession: l.max_queued_per_session, maxQueuedTotal: l.max_queued_total },
  };
}

/** The household bus needs no list of bridges: outside sluice/ the household publishes freely. */
const NO_BRIDGE_BASES: AclContext = Object.freeze({ bridgeBases: Object.freeze([]) });

/** Nested synchronous deliveries before the emitter continues on a fresh stack. */
const EMITTER_SYNC_DEPTH = 64;

/** Per-connection facts the hooks need; kept beside aedes' client, never on it. */
interface Session {
  device?: DeviceRecord;
  emptyPersistentId?: boolean;
  clientIdTooLong?: boolean;
}

type PublishPacket = { topic: string; payload: Buffer | string; qos: 0 | 1 | 2; dup?: boolean; retain?: boolean; messageId?: number };

/** One publish on its way through authorizePublish; `device` is set once the ACL step knows it. */
interface PublishAttempt {
  client: Client;
  packet: PublishPacket;
  device?: DeviceRecord;
}

/** A publish step goes on (undefined) or refuses the publish, which disconnects the client. */
type StepResult = Error | undefined;
type PublishStep = (attempt: PublishAttempt) => StepResult | Promise<StepResult>;

/** The guards, one per concern, each with its own state; built at start. */
interface Guards {
  counters: LimitCounters;
  admission: Admission;
  auth: AuthGate;
  publish: PublishLimits;
  subscriptions: SubscriptionLimits;
  sessions: SessionExpiry;
  refused: RefusedInput;
  store: SessionStore;
  emitter: ReturnType<typeof createBoundedEmitter>;
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
  private guards: Guards | undefined;
  private readonly sessions = new WeakMap<Client, Session>();
  private boundPort = 0;
  /** Client ids already told that MQTT 5 is refused (logged once each; bounded). */
  private readonly mqtt5Logged = new Set<string>();

  /** authorizePublish, in order: a step that refuses ends it (as aedes' connect steps). */
  private readonly publishSteps: PublishStep[] = [
    (p) => this.withinTopicLimits(p),
    (p) => this.permittedByAcl(p),
    (p) => this.withinRetainedCaps(p),
    (p) => this.ingest(p),
  ];

  constructor(
    private readonly deps: {
      options: BrokerOptions;
      registry: DeviceRegistry;
      intake: Ingest;
      clock: Clock;
      logger: Logger;
      events: EventBus;
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
    const g = this.guards;
    if (!g) return {};
    return brokerStatus({
      admission: g.admission.stats(),
      publish: g.publish.stats(),
      sessions: g.sessions.stats(),
      auth: g.auth.stats(),
      queuedForSessions: g.store.totalQueued(),
      queuedDeliveries: g.emitter.length,
      limitsHit: g.counters.snapshot(),
    });
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
    const { limits } = this.deps.options;
    const guards = this.buildGuards();
    this.guards = guards;
    // mqtt-packet otherwise fills a cache of 65,536 two-byte Buffers (one per packet id) at the
    // first packet it writes: ≈ 6 MiB of heap for the price of a pooled 2-byte allocation (issue 15).
    mqttPacket.writeToStream.cacheNumbers = false;
    const aedes = new Aedes({
      mq: guards.emitter,
      persistence: guards.store.asAedesPersistence(),
      connectTimeout: limits.connectTimeout,
      drainTimeout: limits.slowConsumerTimeout,
      maxClientsIdLength: limits.maxClientIdLength,
      maxTopicLevels: limits.maxTopicLevels,
      preConnect: (client, packet, done) => this.preConnect(client, packet.protocolVersion ?? 4, packet.clientId, packet.clean ?? true, done),
      authenticate: (client, username, password, done) => void this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => {
        const device = client ? this.sessions.get(client)?.device : undefined;
        if (device && canSubscribe(device, sub.topic, this.deps.options.householdDenySubscribe) && guards.subscriptions.allows(client!, sub.topic)) return done(null, sub);
        logger.warn({ deviceId: device?.id, filter: sub.topic }, 'subscription refused');
        done(null, null); // SUBACK 0x80
      },
    });
    await aedes.listen();
    aedes.on('clientError', (client, err) => logger.debug({ clientId: client.id, err: err.message }, 'client error'));
    aedes.on('connectionError', (client, err) => logger.debug({ clientId: client?.id, err: err.message }, 'connection error'));
    countAedesLimits(aedes, guards.counters, (client) => this.limitContext(client));
    guards.sessions.attach(aedes);
    guards.refused.attach(aedes);
    this.aedes = aedes;

    const listeners = new BrokerListeners({
      options: this.deps.options.listeners,
      logger,
      onConnection: (transport, remoteAddress, outboundBytes) => {
        const guarded = guards.admission.admit(transport, remoteAddress, outboundBytes);
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
    this.guards?.sessions.stop();
    const aedes = this.aedes;
    this.aedes = undefined;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }

  private buildGuards(): Guards {
    const { clock, logger } = this.deps;
    const { limits } = this.deps.options;
    const counters = new LimitCounters(logger);
    const onDrop = (clientId: string, dropped: number) => counters.hit('offline_queue_dropped', { clientId }, dropped);
    // A durable store bounds its own queues; otherwise aedes' in-memory one is wrapped to bound it.
    const store = this.deps.sessionStore ?? memorySessionStore(limits, onDrop);
    this.deps.sessionStore?.onQueueDrop?.(onDrop);
    const context = (client: Client | null) => this.limitContext(client);
    const publish = new PublishLimits({ limits, clock, counters, retained: store.retainedIndex, context });
    const admission = new Admission({ limits, clock, counters, publishBudget: () => publish.deviceBudget() });
    return {
      counters,
      admission,
      auth: new AuthGate({ limits, clock, counters, addressOf: (client) => admission.addressOf(client) }),
      publish,
      subscriptions: new SubscriptionLimits({ limits, counters, context }),
      sessions: new SessionExpiry({ sessionExpiry: limits.sessionExpiry, clock, logger, counters, dropSession: (id) => store.dropSession(id) }),
      refused: new RefusedInput(),
      store,
      emitter: createBoundedEmitter({ concurrency: 100, maxSyncDepth: EMITTER_SYNC_DEPTH, maxQueued: limits.maxQueuedDeliveries, onDrop: () => counters.hit('emitter_dropped') }),
    };
  }

  private limitContext(client: Client | null): Record<string, unknown> {
    return client ? { clientId: client.id, remoteAddress: this.guards!.admission.addressOf(client) } : {};
  }

  private preConnect(client: Client, version: number, clientId: string, clean: boolean, done: (err: Error | null, ok: boolean) => void): void {
    if (version === 5 && !this.mqtt5Logged.has(clientId)) {
      if (this.mqtt5Logged.size >= 1000) this.mqtt5Logged.clear();
      this.mqtt5Logged.add(clientId);
      // aedes answers CONNACK 'unacceptable protocol version'; the log says what to change.
      this.deps.logger.warn(
        { clientId, protocolVersion: 5 },
        'an MQTT 5 client was refused (unacceptable protocol version); Sluice speaks MQTT 3.1.1 — set the device or library to protocol version 4 (Zigbee2MQTT: mqtt.version: 4)',
      );
    }
    // [MQTT-3.1.3-8] a zero-length ClientId needs CleanSession=1; refused in authenticate with 0x02.
    this.sessions.set(client, { emptyPersistentId: clientId === '' && !clean, clientIdTooLong: this.guards!.auth.clientIdTooLong(client, clientId) });
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
    const { auth, admission, publish } = this.guards!;
    if (auth.blockedFor(client, username) > 0) {
      // Refused without checking: a brute force must not buy scrypt time, nor learn anything.
      return done(authError(5, 'not authorized: too many failed attempts; try again later'), false);
    }
    let device: DeviceRecord | null;
    try {
      const checked = await auth.inSlot(client, () => this.deps.registry.authenticate(username, password.toString('utf8')));
      if (checked === undefined) return done(authError(3, 'server unavailable: too many logins at once; try again'), false);
      device = checked;
    } catch (err) {
      this.deps.logger.error({ err }, 'authentication failed with an error');
      device = null;
    }
    if (!device) {
      this.deps.logger.warn({ username, clientId: client.id }, 'bad username or password');
      auth.failed(client, username);
      return done(authError(4, 'bad username or password'), false);
    }
    auth.succeeded(client, username);
    // A bridge, a household tool or the household's own simulator gets the higher publish rate.
    if (device.role !== 'device' || device.simulated) publish.trust(admission.budgetOf(client));
    session.device = device;
    this.sessions.set(client, session);
    done(null, true);
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    if (!client) return done(null); // the broker's own messages
    this.runPublishSteps({ client, packet }, 0, done);
  }

  /** Runs the steps synchronously until one returns a promise, so a household publish is not delayed. */
  private runPublishSteps(attempt: PublishAttempt, from: number, done: (err?: Error | null) => void): void {
    for (let i = from; i < this.publishSteps.length; i++) {
      const result = this.publishSteps[i]!(attempt);
      if (result instanceof Promise) {
        result.then(
          (refusal) => (refusal ? done(refusal) : this.runPublishSteps(attempt, i + 1, done)),
          (err: unknown) => done(err as Error),
        );
        return;
      }
      if (result) return done(result);
    }
    done(null);
  }

  private withinTopicLimits({ client, packet }: PublishAttempt): StepResult {
    const check = this.guards!.publish.checkTopic(client, packet.topic);
    if (check.ok) return undefined;
    this.deps.logger.debug({ clientId: client.id, reason: check.reason }, 'publish refused by a limit; disconnecting');
    return new Error(check.reason);
  }

  private permittedByAcl(attempt: PublishAttempt): StepResult {
    const { client, packet } = attempt;
    const device = this.sessions.get(client)?.device;
    // Registry changes take effect at once: a removed device loses its rights mid-connection.
    const current = device ? this.deps.registry.get(device.id) : undefined;
    if (!current || !canPublish(current, packet.topic, NO_BRIDGE_BASES)) {
      const where = current ? (current.role === 'bridge' ? bridgeNamespace(current).join(', ') : current.role === 'device' ? `sluice/${current.id}/…` : 'commands and the household bus') : 'nothing';
      // The client only sees its connection close: the log and the quarantine say why.
      this.deps.logger.warn({ deviceId: device?.id, topic: packet.topic, allowed: where }, `not your topic: ${packet.topic}; publish refused${current?.role === 'household' ? '' : ', disconnecting'}`);
      if (current) {
        const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
        this.deps.intake.notYourTopic?.(current, client.id, { topic: packet.topic, payload, qos: packet.qos, dup: packet.dup ?? false, messageId: packet.messageId }, where);
      }
      // A household tool (Home Assistant, Node-RED, a paho clean-up that clears every retained
      // topic) keeps its connection: the message is acknowledged, neither retained nor delivered.
      if (current?.role === 'household' && !packet.topic.startsWith('$')) {
        this.guards!.refused.withhold(packet);
        return undefined;
      }
      return new Error(`not your topic: ${packet.topic}`);
    }
    attempt.device = current;
    return undefined;
  }

  private withinRetainedCaps({ client, packet }: PublishAttempt): StepResult {
    this.guards!.publish.capRetained(client, packet);
    return undefined;
  }

  /** Hands a device's or bridge's message to ingest; what ingest refuses is acknowledged, not passed on. */
  private ingest({ client, packet, device }: PublishAttempt): StepResult | Promise<StepResult> {
    if (!device || device.role === 'household') return undefined;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const incoming = { topic: packet.topic, payload, qos: packet.qos, dup: packet.dup ?? false, messageId: packet.messageId };
    // Not an async function: the step's promise is the one ingest returns, continued once.
    let verdict: Promise<IntakeVerdict>;
    try {
      if (device.role === 'bridge') {
        const { behind } = bridgeRoute(this.deps.registry, device, packet.topic);
        verdict = this.deps.intake.fromBridge(device, client.id, incoming, behind);
      } else {
        verdict = this.deps.intake.fromDevice(device, client.id, incoming);
      }
    } catch (err) {
      return this.ingestFailed(err, device);
    }
    return verdict.then(
      (v) => {
        // Quarantined whole: neither kept as the retained state nor delivered as if it were valid.
        if (v === 'refused') this.guards!.refused.withhold(packet);
        // [PAUSE-3] A no-store pause records nothing: delivered live (that is not storing), not kept
        // as retained state. An empty payload only clears the topic, so it stays retained.
        else if (v === 'not-stored' && payload.length > 0) packet.retain = false;
        return undefined;
      },
      (err: unknown) => this.ingestFailed(err, device),
    );
  }

  private ingestFailed(err: unknown, device: DeviceRecord): StepResult {
    this.deps.logger.error({ err, deviceId: device.id }, 'readings could not be stored; the device will resend');
    return err as Error;
  }

  /** Publishes as the gateway itself (Home Assistant discovery); no ACL, no ingest. */
  async publish(topic: string, payload: Buffer | string, options: { retain?: boolean; qos?: 0 | 1 } = {}): Promise<void> {
    const aedes = this.aedes;
    if (!aedes) return;
    const packet = { cmd: 'publish' as const, topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos: options.qos ?? 0, retain: options.retain ?? false, dup: false };
    await new Promise<void>((resolve, reject) => aedes.publish(packet as never, (err?: Error | null) => (err ? reject(err) : resolve())));
  }

  /** Hears every message published on a topic filter (the household bus included); returns the release. */
  hear(filter: string, listener: (topic: string, payload: Buffer) => void): () => void {
    const aedes = this.aedes;
    if (!aedes) return () => undefined;
    const deliver = (packet: { topic: string; payload: Buffer | string }, cb: () => void) => {
      listener(packet.topic, typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload);
      cb();
    };
    aedes.subscribe(filter, deliver as never, () => undefined);
    return () => {
      if (this.aedes === aedes) aedes.unsubscribe(filter, deliver as never, () => undefined);
    };
  }
}
