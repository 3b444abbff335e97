import { join } from 'node:path';
import { MqttBroker, SqlitePersistence, brokerOptionsFrom, containFailures } from './broker/index.js';
import { logStartupNotices, type SluiceConfig } from './config/index.js';
import { AdminSocketServer, Lifecycle, SOCKET_FILE, systemClock, type Clock, type Logger } from './core/index.js';
import { POISON_FILE, PoisonGuard, RedeliveryMemory, TelemetryIntake, ingestOptionsFrom, replayCrash } from './ingest/index.js';
import { DevicePresence, buildApp, buildMaintenance, buildSharing, openContext, policyJobs, type GatewayContext } from './app/index.js';
import { Scheduler, WindowScheduler } from './schedule/index.js';
import { Forwarder } from './share/index.js';
import type { WebServer } from './web/index.js';
import { CHECKPOINT_JOB, RETENTION_JOB, ReadingWriter, type ReadingWriterOptions } from './store/index.js';

/** Seams for tests: an injected clock and commit hooks. */
export interface GatewayOverrides {
  clock?: Clock;
  writer?: Partial<ReadingWriterOptions>;
}

export interface Gateway {
  readonly context: GatewayContext;
  readonly mqttPort: number;
  /** Re-reads TLS certificates (wired to SIGHUP). */
  reloadCertificates(): void;
  stop(): Promise<void>;
}

/**
 * The composition root: opens the data directory, builds the services and starts them in
 * order — writer, broker, admin socket — and stops them in reverse, so readings in the
 * last batch are committed before the database closes.
 */
export async function startGateway(config: Readonly<SluiceConfig>, logger: Logger, overrides: GatewayOverrides = {}): Promise<Gateway> {
  const clock = overrides.clock ?? systemClock;
  const startedAt = clock.now();
  const context = await openContext(config, { kind: 'gateway', logger, clock });
  const { events, db, registry, profiles } = context;
  const maintenance = buildMaintenance(context);
  maintenance.configureConnection();
  // TEST ONLY: SLUICE_TEST_MAX_PAGE_COUNT caps the database size to simulate a full disk;
  // SLUICE_TEST_HOOKS=1 adds the admin operation that moves the cap while running.
  const testHooks = process.env.SLUICE_TEST_HOOKS === '1';
  if (process.env.SLUICE_TEST_MAX_PAGE_COUNT) db.raw.pragma(`max_page_count = ${Number(process.env.SLUICE_TEST_MAX_PAGE_COUNT)}`);

  const writer = new ReadingWriter({
    db,
    clock,
    logger,
    events,
    options: {
      batchInterval: config.ingest.batch_interval,
      batchSize: config.ingest.batch_size,
      idleCommit: config.ingest.idle_commit,
      quarantineMaxEntries: config.quarantine.max_entries,
      quarantineMaxBytes: config.quarantine.max_bytes,
      ...overrides.writer,
    },
  });
  const poison = new PoisonGuard({ file: join(config.data_dir, POISON_FILE), db });
  await replayCrash({ poison, sink: writer, logger, now: clock.now() });
  const intake = new TelemetryIntake({
    sink: writer,
    profiles,
    clock,
    logger,
    events,
    options: ingestOptionsFrom(config),
    poison,
    redelivery: new RedeliveryMemory({ stored: (clientId, packetId) => writer.storedDelivery(clientId, packetId) }),
    testPoison: process.env.SLUICE_TEST_POISON || undefined,
  });
  // Retained messages and persistent sessions survive a restart.
  const brokerOptions = brokerOptionsFrom(config);
  const persistence = new SqlitePersistence({ db, logger, limits: brokerOptions.persistence });
  const broker = new MqttBroker({
    options: brokerOptions,
    registry,
    intake,
    clock,
    logger,
    events,
    sessionStore: persistence,
  });
  const scheduler = new Scheduler({
    db,
    clock,
    logger,
    timeZone: config.timezone,
    jobs: [
      {
        name: RETENTION_JOB,
        cron: config.retention.schedule,
        run: async (now) => {
          const result = await maintenance.retention(now);
          writer.refreshCaches(); // the purge removed quarantine rows the writer keeps totals of
          return result;
        },
      },
      { name: CHECKPOINT_JOB, cron: config.storage.checkpoint_schedule, run: () => maintenance.checkpoint('PASSIVE') },
    ],
  });
  // One Sharing per process: the admin operations and the disclosure path share its book, outbox and ledger.
  const sharing = buildSharing(context);
  // The dashboard calls the app and the app mints its login links: the link is made at call time.
  let web: WebServer | null = null;
  const presence = new DevicePresence({ events });
  const app = buildApp({
    context,
    sharing,
    maintenance,
    writer,
    scheduler,
    testHooks,
    ...(config.web.enabled ? { web: { loginLink: () => web!.loginLink() } } : {}),
    runtime: () => ({
      mqttPort: broker.port,
      connectedClients: broker.connectedClients,
      storeFaulted: writer.isFaulted,
      storeFault: writer.faultInfo,
      startedAt,
      broker: () => broker.stats(),
      webUrl: web?.url ?? null,
      presence: () => presence.snapshot(),
    }),
  });
  // Loaded only when the dashboard runs, so CLI commands (which import this file) start quickly.
  if (config.web.enabled) {
    const { LoginLinks, WebServer } = await import('./web/index.js');
    web = new WebServer({ config, call: app.call, logins: new LoginLinks({ clock, ttl: config.web.login_link_ttl }), clock, logger, events });
  }
  const admin = new AdminSocketServer({ path: join(config.data_dir, SOCKET_FILE), operations: app.handlers, logger });

  const share = config.share;
  const forwarder = new Forwarder({
    outbox: sharing.outbox,
    clock,
    logger,
    events,
    policiesDir: config.policies_dir,
    options: {
      requestTimeout: share.request_timeout,
      backoffInitial: share.backoff_initial,
      backoffMax: share.backoff_max,
      backoffJitter: share.backoff_jitter,
      retryAfterMax: share.retry_after_max,
      maxAttempts: share.max_attempts,
      pollInterval: share.poll_interval,
    },
  });
  // Policy summaries: one window job per policy in force; approvals and revocations re-read them.
  const policyScheduler = new WindowScheduler({ db, clock, logger, jobs: () => policyJobs(context, sharing), options: { tickInterval: config.schedule.tick_interval } });
  events.on('policy.decided', policyScheduler, () => policyScheduler.reschedule());

  const lifecycle = new Lifecycle([presence, writer, scheduler, broker, forwarder, policyScheduler, admin, ...(web ? [web] : [])]);
  try {
    await lifecycle.start();
  } catch (err) {
    poison.close();
    context.close();
    throw err;
  }
  logger.info({ dataDir: config.data_dir, devices: registry.list().length, profiles: [...profiles().keys()] }, 'gateway started');
  logStartupNotices(logger, config, { profiles: profiles().size, mqttPort: broker.port });

  let stopping: Promise<void> | undefined;
  return {
    context,
    mqttPort: broker.port,
    reloadCertificates: () => broker.reloadCertificates(),
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
    gateway = await startGateway(config, logger);
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
