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

const port = z.number().int().min(0).max(65535);
const defaultTimezone = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** sluice.yaml: every key optional, every default safe for a household (nothing is shared). */
export const configSchema = z
  .object({
    version: z.literal(1).default(1),
    data_dir: z.string().min(1).default('./data'),
    devices_dir: z.string().min(1).default('./devices'),
    policies_dir: z.string().min(1).default('./policies'),
    timezone: z
      .string()
      .refine((tz) => isTimezone(tz), { message: 'expected an IANA timezone such as Europe/Berlin' })
      .default(defaultTimezone),
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
        max_payload_bytes: z.number().int().min(64).max(1_048_576).default(16_384),
        max_future: duration.default(5 * 60_000),
        max_past: duration.default(7 * 86_400_000),
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
    broker: z
      .object({
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
            /** Password checks (scrypt, 16 MiB each) running at once, and waiting beyond those. */
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
