import { SluiceError, isSluiceError } from '../core/index.js';
import { defineOperation, noParams, optionalText, params } from './operation.js';

/** One row of `ledger show`. */
export interface LedgerRow {
  seq: number;
  at: string;
  kind: string;
  vendor: string | null;
  policy: string | null;
  version: string | null;
  summary_id: string | null;
  detail: Record<string, unknown>;
  hash: string;
}

/** The household's record of every consent and disclosure. */
export const ledgerOperations = {
  'ledger.show': defineOperation({
    params: params({ vendor: optionalText('--vendor') }),
    run: ({ sharing: { ledger } }, p): LedgerRow[] =>
      ledger.rows({ vendor: p.vendor }).map((r) => ({
        seq: r.seq,
        at: new Date(r.at).toISOString(),
        kind: r.kind,
        vendor: r.vendor,
        policy: r.policy,
        version: r.version,
        summary_id: r.summaryId,
        detail: r.detail,
        hash: r.hash,
      })),
  }),
  'ledger.verify': defineOperation({
    params: noParams,
    run: ({ sharing: { ledger } }) => {
      try {
        return ledger.verify();
      } catch (err) {
        if (isSluiceError(err)) throw err;
        throw new SluiceError('SLUICE_ERR_LEDGER_BROKEN', `the ledger cannot be read: ${(err as Error).message}`);
      }
    },
  }),
};
