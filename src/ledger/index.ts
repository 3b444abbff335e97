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
export { canonicalJson, sha256Hex } from './canonical.js';
