export {
  Ledger,
  ledgerMigrations,
  rowHash,
  writeFileAtomic,
  GENESIS_HASH,
  LEDGER_HEAD_FILE,
  type LedgerEntry,
  type LedgerHead,
  type LedgerKind,
  type LedgerRow,
  type VerifyReport,
} from './ledger.js';
// Moved to core; re-exported so code written against the ledger's export keeps working.
export { canonicalJson, sha256Hex } from '../core/index.js';
