import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { tryParseDuration } from '../core/index.js';

/** A duration written as `20ms`, `5m`, `7d` (or a number of milliseconds); parsed to ms. */
export const duration = z.union([
  z.number().int().nonnegative(),
  z.string().transform((text, ctx) => {
    const ms = tryParseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration such as 20ms, 30s, 5m, 1h, 7d, got "${text}"` });
      return z.NEVER;
    }
    return ms;
  }),
]);

/** A five- or six-field cron expression, checked by the parser the scheduler uses. */
const cron = z.string().refine(
  (text) => {
    try {
      CronExpressionParser.parse(text);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected a cron expression such as "7 * * * *"' },
);

const port = z.number().int().min(0).max(65535);
const defaultTimezone = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** sluice.yaml: every key optional, every default safe for a household (nothing is shared). */
export const configSchema = z
  .object({
    version: z.literal(1).default(1),
    data_dir: z.string().min(1).default('./data'),
    devices_dir: z.string().min(1).default('./devices'),
    policies_dir: z.string().min(1).default('./policies'),
    intents_dir: z.string().min(1).default('./intents'),
    timezone: z
      .string()
      .refine((tz) => isTimezone(tz), { message: 'expected an IANA timezone such as Europe/Berlin' })
      .default(defaultTimezone),
    /** The household: where it is, as coarsely as vendors need it for an intent (a country and a postal prefix, never an address), and its own MQTT bus. */
    household: z
      .object({
        /** ISO 3166-1 alpha-2, e.g. DE; empty until set (intents cannot be approved without it). */
        country: z.union([z.literal(''), z.string().regex(/^[A-Z]{2}$/, { message: 'expected an ISO 3166-1 alpha-2 country code such as DE' })]).default(''),
        /** Quote it in YAML when it starts with 0: a bare 010 is the number 10. */
        postal_prefix: z.coerce.string().max(3, { message: 'at most 3 characters of the postal code' }).regex(/^[A-Za-z0-9]*$/, { message: 'letters and digits only' }).default(''),
        /** Sent only to the vendor whose offer the household accepts. */
        deliver_to: z.string().max(500).default(''),
        /** Topic filters the household's tools may not subscribe to (SUBACK 0x80); the paho interoperability suite expects `test/nosubscribe`. */
        deny_subscribe: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .prefault({}),
    /** The intention economy: rules that draft requests for offers, and the poller that fetches offers. */
    intents: z
      .object({
        /** How often open intents are sent and their offers fetched. */
        poll_interval: duration.default(60_000),
        request_timeout: duration.default(10_000),
      })
      .strict()
      .prefault({}),
    log: z.object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') }).strict().prefault({}),
    mqtt: z
      .object({
        host: z.string().min(1).default('0.0.0.0'),
        port: port.default(1883),
      })
      .strict()
      .prefault({}),
    ingest: z
      .object({
        /** Longest a reading waits for its batch's commit (and so its PUBACK). */
        batch_interval: duration.default(20),
        batch_size: z.number().int().min(1).max(100_000).default(500),
        /** Commit a message at once when ingest is quiet, instead of waiting batch_interval for company. */
        idle_commit: z.boolean().default(true),
        max_payload_bytes: z.number().int().min(64).max(1_048_576).default(16_384),
        max_future: duration.default(5 * 60_000),
        max_past: duration.default(7 * 86_400_000),
        // flash store: when QoS 1 is acknowledged, and how the hot log reaches SQLite
        /** fsync: PUBACK after a group fsync (survives power cuts); interval: PUBACK after the write, fsync every fsync_interval. auto: interval on an SD/MMC card, fsync elsewhere. */
        durability: z.enum(['auto', 'fsync', 'interval']).default('auto'),
        fsync_interval: duration.default(30_000),
        /** How often the hot log is sealed into the database. */
        seal_interval: duration.default(3_600_000),
        /** Readings held in memory that trigger an early seal. */
        seal_records: z.number().int().min(1).max(10_000_000).default(100_000),
        /** Hourly and head-full seals encode and commit on a worker thread (its own connection); false: on the event loop. */
        seal_off_thread: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    // Real homes: Home Assistant sees Sluice's own native devices (opt-in).
    homeassistant: z
      .object({
        /** Publish retained device-based discovery for native devices (`sluice/<id>/…`); Home Assistant then receives their raw readings inside the house. */
        discovery: z.boolean().default(false),
        prefix: z.string().regex(/^[^#+$/][^#+]*$/, 'a topic prefix without wildcards').default('homeassistant'),
      })
      .strict()
      .prefault({}),
    quarantine: z
      .object({
        max_entries: z.number().int().min(1).default(10_000),
        max_bytes: z.number().int().min(1024).default(4 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    devices: z
      .object({
        /** [PRIV-2] `profile.metric` (or `*.metric`) never written to disk, on top of what profiles mark never_store. */
        never_store: z.array(z.string().regex(/^(\*|[a-z0-9][a-z0-9_-]*)\.[a-z][a-z0-9_]*$/, 'expected profile.metric, e.g. door-lock.user_id')).default([]),
      })
      .strict()
      .prefault({}),
    retention: z
      .object({
        /** Days raw readings are kept before they are rolled up and purged. */
        raw_days: z.number().positive().default(30),
        /** Days hourly rollups are kept. */
        rollup_days: z.number().positive().default(730),
        /** Per device and/or metric raw retention; the most specific match wins. */
        overrides: z
          .array(
            z
              .object({ device: z.string().min(1).optional(), metric: z.string().min(1).optional(), raw_days: z.number().positive() })
              .strict()
              .refine((o) => o.device !== undefined || o.metric !== undefined, { message: 'an override names a device, a metric, or both' }),
          )
          .default([]),
        /** When rollups and purge run (cron, household timezone). */
        schedule: cron.default('7 * * * *'),
        /** Most readings deleted in one transaction; ingest waits at most one batch. */
        batch_size: z.number().int().min(1).max(100_000).default(1000),
        /** Longest a reading's value is held for time-weighted means and time in state. */
        hold: duration.default(2 * 3_600_000),
        /** How far back each rollup run recomputes hours, to take in late readings. */
        recheck: duration.default(86_400_000),
      })
      .strict()
      .prefault({}),
    storage: z
      .object({
        /** WAL pages before SQLite checkpoints by itself; larger = fewer writes to the card. */
        wal_autocheckpoint: z.number().int().min(0).default(1000),
        /** When the WAL is checkpointed (PASSIVE) and truncated (cron, household timezone). */
        checkpoint_schedule: cron.default('*/15 * * * *'),
      })
      .strict()
      .prefault({}),
    /** Delivery of approved summaries to vendors (issue 5). */
    share: z
      .object({
        /** How long one POST may take before it counts as failed. */
        request_timeout: duration.default(10_000),
        /** First retry delay; doubles with every failed attempt, up to backoff_max. */
        backoff_initial: duration.default(1000),
        backoff_max: duration.default(3_600_000),
        /** Fraction of each delay drawn at random (0–1), so gateways do not retry in step. */
        backoff_jitter: z.number().min(0).max(1).default(0.2),
        /** Longest Retry-After a vendor may ask for before it is capped. */
        retry_after_max: duration.default(3_600_000),
        /** Attempts before a summary is given up (0: never give up). */
        max_attempts: z.number().int().min(0).default(0),
        /** Longest the forwarder sleeps between looks at the outbox. */
        poll_interval: duration.default(5000),
        /** The household's IEEE 7012 terms (src/terms): nothing goes to a vendor until it accepts them; false only for vendors that cannot answer yet. */
        require_terms: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /** The scheduler of policy runs (and later jobs). */
    schedule: z
      .object({
        /** After downtime, at most this many missed windows of one job are caught up. */
        max_catch_up: z.number().int().min(1).default(31),
        /** Safety tick besides the cron wake-ups. */
        tick_interval: duration.default(60_000),
      })
      .strict()
      .prefault({}),
    /** The household dashboard, served by the gateway itself. */
    web: z
      .object({
        enabled: z.boolean().default(true),
        /** Loopback by default: the dashboard shows everything the house holds. */
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(8420),
        /** scrypt hash (`scrypt$N$r$p$salt$hash`, from `sluice web password`) of the household password for logging in from another device; empty: login links only. */
        password_hash: z.string().default(''),
        /** A file holding that hash instead (relative to the working directory). */
        password_file: z.string().default(''),
        session_ttl: duration.default(12 * 3_600_000),
        login_link_ttl: duration.default(10 * 60_000),
        /** Password attempts per client address per minute. */
        login_attempts_per_minute: z.number().int().min(1).default(10),
        /** Free bytes on the data disk below which `GET /readyz` answers 503 ("disk low"). */
        ready_min_free_disk_bytes: z.number().int().min(0).default(64 * 1024 * 1024),
        tls: z
          .object({
            cert_file: z.string().default(''),
            key_file: z.string().default(''),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** Prometheus metrics on the dashboard's GET /metrics. */
    metrics: z.object({ enabled: z.boolean().default(false) }).strict().prefault({}),
    broker: z
      .object({
        /** `external`: Sluice is a client of the household's own broker (Mosquitto) and runs no listener of its own. */
        mode: z.enum(['embedded', 'external']).default('embedded'),
        external: z
          .object({
            url: z
              .string()
              .regex(/^mqtts?:\/\/[^/]+$/, { message: 'expected mqtt://host:port or mqtts://host:port' })
              .default('mqtt://127.0.0.1:1883'),
            username: z.string().default(''),
            /** Name of the environment variable holding the password; never the password itself. */
            password_env: z.string().default(''),
            password_file: z.string().default(''),
            /** Fixed, so the broker keeps Sluice's session (and queues for it) while Sluice is down. */
            client_id: z.string().min(1).max(64).default('sluice-gateway'),
            /** PEM files for mqtts://: the CA to trust, and a client certificate and key if the broker asks for one. */
            ca_file: z.string().default(''),
            cert_file: z.string().default(''),
            key_file: z.string().default(''),
            connect_timeout: duration.default(10_000),
            /** Reconnect backoff, doubling from min to max. */
            reconnect_min: duration.default(500),
            reconnect_max: duration.default(30_000),
            keepalive: duration.default(30_000),
          })
          .strict()
          .refine((e) => !(e.password_env && e.password_file), { message: 'give password_env or password_file, not both' })
          .prefault({}),
        /** The plain-TCP listener on mqtt.host:mqtt.port; turn off when only TLS/WebSocket should serve. */
        tcp: z.boolean().default(true),
        tls: z
          .object({
            enabled: z.boolean().default(false),
            host: z.string().min(1).default('0.0.0.0'),
            port: port.default(8883),
            /** PEM files; read at start and again on SIGHUP. */
            cert_file: z.string().default(''),
            key_file: z.string().default(''),
          })
          .strict()
          .prefault({}),
        websocket: z
          .object({
            enabled: z.boolean().default(false),
            host: z.string().min(1).default('0.0.0.0'),
            port: port.default(8083),
            path: z.string().startsWith('/').default('/mqtt'),
            /** Serve wss:// with the tls certificate and key. */
            tls: z.boolean().default(false),
          })
          .strict()
          .prefault({}),
        /** Defaults sized for a Raspberry Pi with 1 GB; see README "Limits". */
        limits: z
          .object({
            max_packet_bytes: z.number().int().min(64).max(268_435_455).default(262_144),
            max_connections: z.number().int().min(1).default(256),
            /** So one compromised host cannot take every connection slot of the house. */
            max_connections_per_address: z.number().int().min(1).default(32),
            connect_timeout: duration.default(10_000),
            max_client_id_length: z.number().int().min(1).max(65_535).default(64),
            /** Password checks (scrypt, 1 MiB each for a device password) running at once, and waiting beyond those. */
            max_concurrent_auth: z.number().int().min(1).default(2),
            max_pending_auth: z.number().int().min(0).default(64),
            auth_free_failures: z.number().int().min(0).default(3),
            auth_backoff_base: duration.default(1_000),
            auth_backoff_max: duration.default(300_000),
            /** Publishes per second per client (token bucket) and the burst it may save up. */
            publish_rate: z.number().positive().default(20),
            publish_burst: z.number().int().min(1).default(100),
            /** For bridges (one connection for many devices) and the household's own tools. */
            trusted_publish_rate: z.number().positive().default(500),
            trusted_publish_burst: z.number().int().min(1).default(1000),
            max_topic_length: z.number().int().min(16).max(65_535).default(256),
            max_topic_levels: z.number().int().min(1).max(100).default(16),
            max_subscriptions_per_client: z.number().int().min(1).default(64),
            max_retained_messages: z.number().int().min(0).default(10_000),
            max_retained_bytes: z.number().int().min(0).default(16 * 1024 * 1024),
            max_queued_per_session: z.number().int().min(1).default(1_000),
            /** Over all offline sessions together, so many persistent sessions cannot add up without bound. */
            max_queued_total: z.number().int().min(1).default(20_000),
            session_expiry: duration.default(7 * 86_400_000),
            max_outbound_buffer_bytes: z.number().int().min(1024).default(1_048_576),
            /** A client whose send buffer does not drain for this long is disconnected (aedes drainTimeout). */
            slow_consumer_timeout: duration.default(5_000),
            max_queued_deliveries: z.number().int().min(100).default(10_000),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type SluiceConfig = z.output<typeof configSchema>;

function isTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
