import { join } from 'node:path';
import { MqttBroker, TelemetryIntake, brokerSettings, containFailures } from './broker/index.js';
import type { SluiceConfig } from './config/index.js';
import { AdminSocketServer, Lifecycle, SOCKET_FILE, systemClock, type Clock, type Logger } from './core/index.js';
import { buildOperations, openContext, type GatewayContext } from './gateway/index.js';
import { ReadingWriter, type ReadingWriterOptions } from './store/index.js';

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

  const writer = new ReadingWriter({
    db,
    clock,
    logger,
    events,
    options: {
      batchInterval: config.ingest.batch_interval,
      batchSize: config.ingest.batch_size,
      quarantineMaxEntries: config.quarantine.max_entries,
      quarantineMaxBytes: config.quarantine.max_bytes,
      ...overrides.writer,
    },
  });
  const intake = new TelemetryIntake({
    writer,
    profiles,
    clock,
    logger,
    events,
    limits: { maxPayloadBytes: config.ingest.max_payload_bytes, maxFuture: config.ingest.max_future, maxPast: config.ingest.max_past },
  });
  const broker = new MqttBroker({ options: { host: config.mqtt.host, port: config.mqtt.port, settings: brokerSettings(config) }, registry, intake, clock, logger, events });
  const operations = buildOperations(context, () => ({
    mqttPort: broker.port,
    connectedClients: broker.connectedClients,
    storeFaulted: writer.isFaulted,
    startedAt,
    broker: () => broker.stats(),
  }));
  const admin = new AdminSocketServer({ path: join(config.data_dir, SOCKET_FILE), operations, logger });

  const lifecycle = new Lifecycle([writer, broker, admin]);
  try {
    await lifecycle.start();
  } catch (err) {
    context.close();
    throw err;
  }
  logger.info({ dataDir: config.data_dir, devices: registry.list().length, profiles: [...profiles().keys()] }, 'gateway started');

  let stopping: Promise<void> | undefined;
  return {
    context,
    mqttPort: broker.port,
    reloadCertificates: () => broker.reloadCertificates(),
    stop: () =>
      (stopping ??= (async () => {
        const errors = await lifecycle.stop();
        context.close();
        for (const err of errors) logger.error({ err }, 'error while stopping');
        logger.info('gateway stopped');
      })()),
  };
}

/** Runs the gateway until SIGINT or SIGTERM, then shuts down cleanly; resolves to the exit code. */
export async function runGateway(config: Readonly<SluiceConfig>, logger: Logger): Promise<number> {
  const release = containFailures(logger);
  const gateway = await startGateway(config, logger);
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
    const onInt = () => shutdown('SIGINT');
    const onTerm = () => shutdown('SIGTERM');
    const onHup = () => gateway.reloadCertificates();
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    process.on('SIGHUP', onHup);
  });
}
