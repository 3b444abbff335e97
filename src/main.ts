import { join } from 'node:path';
import { ExternalBrokerClient, HomeAssistantDiscovery, MqttBroker, SqlitePersistence, brokerOptionsFrom, containFailures, externalBrokerOptionsFrom } from './broker/index.js';
import { logStartupNotices, type SluiceConfig } from './config/index.js';
import { AdminSocketServer, Lifecycle, NO_TEST_SEAMS, SOCKET_FILE, systemClock, testSeamsFromEnv, type Clock, type Logger, type TestSeams } from './core/index.js';
import { DevicePresence, buildApp, buildMaintenance, buildSharing, intentBook, latestOf, openContext, openDataJob, policyJobs, type GatewayContext } from './app/index.js';
import { BridgeReader, IngestTally, POISON_FILE, PoisonGuard, RedeliveryMemory, TelemetryIntake, ingestOptionsFrom, replayCrash } from './ingest/index.js';
import { IntentService, intentOptionsFrom } from './intents/index.js';
import { Scheduler, WindowScheduler } from './schedule/index.js';
import { Forwarder, forwarderOptionsFrom } from './share/index.js';
import { PausingSink } from './consent/index.js';
import { TermsExchange } from './terms/index.js';
import { CHECKPOINT_JOB, RETENTION_JOB, ReadingWriter, hotPathFrom, writerOptionsFrom, type ReadingWriterOptions } from './store/index.js';
import type { WebServer } from './web/index.js';

/** Seams for tests: an injected clock, commit hooks and the faults only a test may cause. */
export interface GatewayOverrides {
  clock?: Clock;
  writer?: Partial<ReadingWriterOptions>;
  seams?: TestSeams;
}

export interface Gateway {
  readonly context: GatewayContext;
  readonly mqttPort: number;
  /** Re-reads TLS certificates (wired to SIGHUP). */
  reloadCertificates(): void;
  stop(): Promise<void>;
}

/**
 * The composition root: opens the data directory, builds each part from its module's
 * `…OptionsFrom(config)`, starts them in order — writer, store upkeep, broker, forwarder,
 * policy windows, admin socket — and stops them in reverse, so readings in the last batch
 * are committed before the database closes.
 */
export async function startGateway(config: Readonly<SluiceConfig>, logger: Logger, overrides: GatewayOverrides = {}): Promise<Gateway> {
  const clock = overrides.clock ?? systemClock;
  const seams = overrides.seams ?? NO_TEST_SEAMS;
  const startedAt = clock.now();
  const context = await openContext(config, { kind: 'gateway', logger, clock });
  const { events, db, registry, profiles } = context;
  if (seams.maxPageCount) db.raw.pragma(`max_page_count = ${seams.maxPageCount}`);

  // Store: the writer behind every acknowledgement, and the upkeep jobs (rollups, retention, checkpoints).
  // Flash store: which durability mode and why, and what the replay of the hot log found.
  const hot = hotPathFrom(config, context.hot);
  logger.info({ durability: hot.durability, reason: hot.reason, fsyncInterval: hot.durability === 'interval' ? hot.fsyncInterval : undefined }, `acknowledging QoS 1 in ${hot.durability} mode`);
  const { replay } = context.hot;
  for (const d of replay.damage) {
    logger.warn({ segment: d.segment, offset: d.offset, discardedBytes: d.discardedBytes, reason: d.reason }, 'hot log: discarded a damaged record at its tail (never acknowledged)');
  }
  if (replay.records.length > 0) logger.info({ readings: replay.records.length, segments: replay.segments.length }, 'hot log replayed');
  const writerOptions = writerOptionsFrom(config);
  // The seal worker's own connection gets the same test cap on the database size.
  if (writerOptions.sealWorker && (seams.maxPageCount || seams.sealHold)) {
    writerOptions.sealWorker = { ...writerOptions.sealWorker, ...(seams.maxPageCount ? { maxPageCount: seams.maxPageCount } : {}), ...(seams.sealHold ? { hold: new SharedArrayBuffer(4) } : {}) };
  }
  const writer = new ReadingWriter({ db, clock, logger, events, hot, options: { ...writerOptions, ...overrides.writer } });
  const maintenance = buildMaintenance(context);
  maintenance.configureConnection();
  const scheduler = new Scheduler({
    db,
    clock,
    logger,
    timeZone: config.timezone,
    jobs: [
      // Rollups and retention read the readings table: the hot log is sealed into it first.
      { name: RETENTION_JOB, cron: config.retention.schedule, run: (now, signal) => (writer.seal(), maintenance.retention(now, signal)) },
      { name: CHECKPOINT_JOB, cron: config.storage.checkpoint_schedule, run: () => maintenance.checkpoint('PASSIVE') },
    ],
  });

  // Ingest: a message the last run died on is quarantined first, then the intake takes new ones.
  const poison = new PoisonGuard({ file: join(config.data_dir, POISON_FILE), db });
  await replayCrash({ poison, sink: writer, logger, now: clock.now() });
  // One Sharing per process: the admin operations, the pause check at ingest and the disclosure path share its book, outbox and ledger.
  const sharing = buildSharing(context);
  // Counts of messages in, stored and quarantined for /metrics: what reaches the broker and what commits.
  const tally = new IngestTally();
  const intake = new TelemetryIntake({
    // [PAUSE-1] a no-store pause keeps a scope's readings out of the store (safety alarms excepted).
    sink: new PausingSink({ sink: tally.sink(writer), pauses: sharing.consent.pauses, clock }),
    profiles,
    clock,
    logger,
    events,
    options: ingestOptionsFrom(config),
    poison,
    redelivery: new RedeliveryMemory({ stored: (clientId, packetId) => writer.storedDelivery(clientId, packetId) }),
    testPoison: seams.poison,
    bridges: new BridgeReader({ directory: registry, profiles }),
  });

  // Broker: retained messages and persistent sessions survive a restart in the SQLite session store.
  const brokerOptions = brokerOptionsFrom(config);
  // External mode: the household's broker authenticates devices and Sluice is its client; no listener here.
  const external =
    config.broker.mode === 'external'
      ? new ExternalBrokerClient({
          options: externalBrokerOptionsFrom(config),
          registry,
          intake: tally.ingest(intake),
          clock,
          logger,
          events,
          testKillAfterCommit: seams.killAfterCommit ? { payload: seams.killAfterCommit, onceFile: join(config.data_dir, 'test-killed') } : undefined,
        })
      : undefined;
  const broker = external
    ? undefined
    : new MqttBroker({
        options: brokerOptions,
        registry,
        intake: tally.ingest(intake),
        clock,
        logger,
        events,
        sessionStore: new SqlitePersistence({ db, logger, limits: brokerOptions.persistence }),
      });

  // Sharing: policy windows and the forwarder over the one Sharing built above.
  const forwarder = new Forwarder({ outbox: sharing.outbox, erasures: sharing.erasures, clock, logger, events, policiesDir: config.policies_dir, options: forwarderOptionsFrom(config) });
  const policyScheduler = new WindowScheduler({ db, clock, logger, jobs: () => policyJobs(context, sharing, openDataJob), options: { tickInterval: config.schedule.tick_interval } });
  events.on('policy.decided', policyScheduler, () => policyScheduler.reschedule());
  // The household's terms go to each vendor before anything else; an answer wakes the windows that waited for it.
  const termsExchange = new TermsExchange({ terms: sharing.terms, clock, logger, events, policiesDir: config.policies_dir, options: forwarderOptionsFrom(config) });
  events.on('terms.decided', policyScheduler, () => policyScheduler.reschedule());
  // Intents: drafted from readings, sent and answered outbound only; nothing from a vendor reaches the broker.
  const intents = new IntentService({ book: intentBook(context, sharing), clock, logger, events, latestOf: latestOf(context), options: intentOptionsFrom(config) });

  // The application layer, served on the admin socket and the dashboard; the app mints the dashboard's login links at call time.
  let web: WebServer | null = null;
  const presence = new DevicePresence({ events });
  const app = buildApp({
    context,
    sharing,
    maintenance,
    writer,
    scheduler,
    ...(sharing.termsRequired ? { termsExchange } : {}),
    testHooks: seams.hooks,
    ...(config.web.enabled ? { web: { loginLink: (member) => web!.loginLink(member ?? null) } } : {}),
    runtime: () => ({
      mqttPort: broker ? broker.port : null,
      connectedClients: broker ? broker.connectedClients : 0,
      storeFaulted: writer.isFaulted,
      storeFault: writer.faultInfo,
      startedAt,
      ...(broker ? { broker: () => broker.stats() } : {}),
      ...(external ? { external: () => external.status() } : {}),
      webUrl: web?.url ?? null,
      presence: () => presence.snapshot(),
      ingest: () => tally.snapshot(),
    }),
  });
  // Loaded only when the dashboard runs, so CLI commands (which import this file) start quickly.
  if (config.web.enabled) {
    const { LoginLinks, WebServer } = await import('./web/index.js');
    web = new WebServer({ config, call: app.call, logins: new LoginLinks({ clock, ttl: config.web.login_link_ttl }), clock, logger, events });
  }
  const admin = new AdminSocketServer({ path: join(config.data_dir, SOCKET_FILE), operations: app.handlers, logger });

  // Home Assistant hears of Sluice's own devices (opt-in); only the embedded broker can announce them.
  const homeassistant = config.homeassistant.discovery && broker
    ? [new HomeAssistantDiscovery({ bus: broker, devices: () => registry.list(), profiles, events, logger, prefix: config.homeassistant.prefix })]
    : [];
  const lifecycle = new Lifecycle([presence, writer, scheduler, broker ?? external!, ...homeassistant, ...(sharing.termsRequired ? [termsExchange] : []), forwarder, policyScheduler, intents, admin, ...(web ? [web] : [])]);
  try {
    await lifecycle.start();
  } catch (err) {
    poison.close();
    context.close();
    throw err;
  }
  logger.info({ dataDir: config.data_dir, devices: registry.list().length, profiles: [...profiles().keys()] }, 'gateway started');
  logStartupNotices(logger, config, { profiles: profiles().size, mqttPort: broker?.port ?? 0 });

  let stopping: Promise<void> | undefined;
  return {
    context,
    mqttPort: broker?.port ?? 0,
    reloadCertificates: () => broker?.reloadCertificates(),
    stop: () =>
      (stopping ??= (async () => {
        const errors = await lifecycle.stop();
        poison.close();
        context.close();
        for (const err of errors) logger.error({ err }, 'error while stopping');
        logger.info('gateway stopped');
      })()),
  };
}

/** Runs the gateway until SIGINT or SIGTERM, then shuts down cleanly; resolves to the exit code. */
export async function runGateway(config: Readonly<SluiceConfig>, logger: Logger): Promise<number> {
  // Handlers go in before start: a signal during start-up (or right after its log line) must
  // not kill the process with the default action while the database is open.
  let received: string | undefined;
  let onSignal: (signal: string) => void = (signal) => (received ??= signal);
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const release = containFailures(logger);
  let gateway: Gateway;
  try {
    gateway = await startGateway(config, logger, { seams: testSeamsFromEnv(process.env) });
  } catch (err) {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    release();
    throw err;
  }
  return new Promise((resolve) => {
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
      release();
      gateway.stop().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    const onHup = () => gateway.reloadCertificates();
    process.on('SIGHUP', onHup);
    onSignal = shutdown;
    if (received) shutdown(received);
  });
}
