import { z } from 'zod';
import { SluiceError } from '../core/index.js';
import type { Scheduler } from '../schedule/index.js';
import type { IngestCounts } from '../ingest/index.js';
import type { ReadingWriter, StoreFault, StoreMaintenance } from '../store/index.js';
import type { GatewayContext } from './context.js';
import type { Sharing } from './sharing.js';

/** What only a running gateway knows about itself. */
export interface RuntimeStatus {
  mqttPort: number | null;
  connectedClients: number;
  storeFaulted: boolean;
  storeFault?: StoreFault | undefined;
  startedAt: number;
  /** Broker connections and limit counters. */
  broker?: () => Record<string, unknown>;
  /** External-broker mode: the client's connection to the household's broker. */
  external?: () => { url: string; client_id: string; connected: boolean; last_error: string | null; reconnects: number };
  /** The dashboard's URL, when it listens. */
  webUrl?: string | null;
  /** device id → online, from the status messages heard since start. */
  presence?: () => Record<string, boolean>;
  /** What ingest counted since start (for `/metrics`). */
  ingest?: () => IngestCounts;
}

/** What the running dashboard offers the operations: one-time login links. */
export interface WebRuntime {
  /** A fresh single-use login URL; with a member, the session acts as that member. */
  loginLink(member?: string | null): string;
}

/** What every operation runs against: the context, the one Sharing, and what a running gateway adds. */
export interface AppContext {
  context: GatewayContext;
  sharing: Sharing;
  maintenance: StoreMaintenance;
  /** Present only in a running gateway. */
  runtime?: () => RuntimeStatus;
  writer?: ReadingWriter;
  scheduler?: Scheduler;
  /** Present only while the gateway serves the dashboard. */
  web?: WebRuntime;
  /** Present only in a running gateway: asks vendors for their answer to the household's terms now. */
  termsExchange?: { kick(): void; settled(): Promise<void> };
  /** TEST ONLY (SLUICE_TEST_HOOKS=1): enables the operations marked testOnly. */
  testHooks?: boolean;
}

/** One application operation: the schema of its params and the handler that receives them parsed. */
export interface Operation<P extends z.ZodType, R> {
  params: P;
  run(app: AppContext, params: z.output<P>): R;
  /** Served only with test hooks on. */
  testOnly?: boolean;
}

export function defineOperation<P extends z.ZodType, R>(op: Operation<P, R>): Operation<P, R> {
  return op;
}

/** Parses an operation's params; a mismatch is the caller's mistake, named by the param's own message. */
export function parseParams<P extends z.ZodType>(schema: P, params: unknown): z.output<P> {
  const parsed = schema.safeParse(params ?? {});
  if (parsed.success) return parsed.data;
  throw new SluiceError('SLUICE_ERR_USAGE', [...new Set(parsed.error.issues.map((i) => i.message))].join('; '));
}

// Param builders: each carries the message that names it, so a zod failure reads like a CLI error.

/** A required, non-empty text param. */
export const requiredText = (what: string, message = `${what} is required`) => z.string({ error: message }).min(1, { error: message });

/** An optional text param; null counts as absent. */
export const optionalText = (what: string) =>
  z
    .string({ error: `${what} must be text` })
    .nullish()
    .transform((v) => v ?? undefined);

/** An optional yes/no param; anything but `true` is no. */
export const flag = (what: string) =>
  z
    .boolean({ error: `${what} must be true or false` })
    .nullish()
    .transform((v) => v === true);

/** Params of an operation: a JSON object (unknown keys are ignored, as they always were). */
export const params = <S extends z.ZodRawShape>(shape: S) => z.object(shape, { error: 'admin params must be a JSON object' });

/** An operation without params. */
export const noParams = params({});
