import { join } from 'node:path';
import { ManualClock, openDatabase, silentLogger, type SluiceDatabase } from '../../src/core/index.js';
import { allMigrations } from '../../src/app/index.js';
import { Ledger, LEDGER_HEAD_FILE } from '../../src/ledger/index.js';
import { tmpDir } from './tmp-dir.js';

/** A migrated database in a temp dir, a manual clock and a ledger over them, for unit tests. */
export async function ledgerFixture(startMs = Date.parse('2026-11-23T12:00:00Z')): Promise<{ dir: string; db: SluiceDatabase; clock: ManualClock; ledger: Ledger; headFile: string }> {
  const dir = tmpDir();
  const db = await openDatabase({ path: join(dir, 'sluice.db'), migrations: allMigrations, logger: silentLogger() });
  const clock = new ManualClock(startMs);
  const headFile = join(dir, LEDGER_HEAD_FILE);
  return { dir, db, clock, ledger: new Ledger({ db, clock, headFile }), headFile };
}
