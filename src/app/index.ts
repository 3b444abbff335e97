import type { z } from 'zod';
import { SluiceError, type AdminOperations } from '../core/index.js';
import { brokerOperations } from './broker.js';
import { consentOperations } from './consent.js';
import { dataOperations } from './data.js';
import { deviceOperations } from './devices.js';
import { ledgerOperations } from './ledger.js';
import { mosquittoOperations } from './mosquitto.js';
import { backupOperations } from './backup.js';
import { parseParams, type AppContext, type Operation } from './operation.js';
import { policyOperations } from './policy.js';
import { privacyOperations } from './privacy.js';
import { systemOperations } from './system.js';
import { intentOperations } from './intents.js';
import { openDataOperations } from './open-data.js';
import { metricsOperations } from './metrics.js';
import { dashboardOperations } from './dashboard.js';
import { termsOperations } from './terms.js';
import { deviceSharingOperations, overlayOperations, webOperations } from './web.js';

export { openContext, allMigrations, type GatewayContext } from './context.js';
export { buildSharing, policyJobs, type Sharing } from './sharing.js';
export { DevicePresence } from './presence.js';
export { buildMaintenance, specResolver, parseBefore, type InfoResult, type EraseResult, type EraseCountsRow, type CheckResult } from './data.js';
export type { DeviceRow, DeviceCredentials } from './devices.js';
export type { PolicyRow, ExplainResult } from './policy.js';
export type { LedgerRow } from './ledger.js';
export type { SentSummary } from './privacy.js';
export type { MemberRow, ConsentRow, PauseRow } from './consent.js';
export type { TermsRow } from './terms.js';
export type { StatusResult } from './system.js';
export { intentBook, latestOf } from './intents.js';
export { openDataJob, openDataReleases } from './open-data.js';
export type { MosquittoConfigResult } from './mosquitto.js';
export { restoreBackup, type BackupResult, type RestoreResult } from './backup.js';
export { packArchive, unpackArchive, type BackupManifest } from './backup-archive.js';
export type { VendorOverview, SeriesResult, DeviceSharing } from './web.js';
export type { MetricsSnapshot } from './metrics.js';
export type { BudgetAlert } from './dashboard.js';
export { defineOperation, parseParams, type AppContext, type Operation, type RuntimeStatus, type WebRuntime } from './operation.js';

/** Every application operation by name: the one table the admin socket, the CLI and the web call. */
export const operations = {
  ...deviceOperations,
  ...dataOperations,
  ...policyOperations,
  ...privacyOperations,
  ...ledgerOperations,
  ...brokerOperations,
  ...systemOperations,
  ...consentOperations,
  ...intentOperations,
  ...openDataOperations,
  ...termsOperations,
  ...mosquittoOperations,
  ...backupOperations,
  ...webOperations,
  ...deviceSharingOperations,
  ...overlayOperations,
  ...metricsOperations,
  ...dashboardOperations,
};

type Registry = typeof operations;
export type OperationName = keyof Registry;
/** What a caller passes to an operation (before parsing). */
export type ParamsOf<N extends OperationName> = z.input<Registry[N]['params']>;
/** What an operation answers (as JSON, the same through the socket and in process). */
export type ResultOf<N extends OperationName> = Awaited<ReturnType<Registry[N]['run']>>;

/** A typed call of one operation; params may be left out when none are required. */
export type Call = <N extends OperationName>(op: N, ...params: Record<never, never> extends ParamsOf<N> ? [params?: ParamsOf<N>] : [params: ParamsOf<N>]) => Promise<ResultOf<N>>;

/** The application over one context and its one Sharing. */
export interface App {
  /** Calls an operation in process: params parsed by its schema, errors as SluiceErrors. */
  call: Call;
  /** The same operations for a transport: name → handler of untyped JSON params. */
  handlers: AdminOperations;
}

export function buildApp(app: AppContext): App {
  const handlers: Record<string, (params: unknown) => Promise<unknown>> = {};
  for (const [name, op] of Object.entries(operations) as Array<[string, Operation<z.ZodType, unknown>]>) {
    if (op.testOnly && !app.testHooks) continue;
    handlers[name] = async (params) => op.run(app, parseParams(op.params, params));
  }
  const call = (async (op: string, params?: unknown) => {
    const handler = Object.hasOwn(handlers, op) ? handlers[op] : undefined;
    if (!handler) throw new SluiceError('SLUICE_ERR_USAGE', `unknown admin operation "${op}"`);
    return handler(params);
  }) as Call;
  return { call, handlers };
}
