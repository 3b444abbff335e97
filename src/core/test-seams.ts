/**
 * Faults only a test may cause, read from `SLUICE_TEST_*` in one place. The gateway gets them
 * through its overrides, so no other module reads the environment for them.
 */
export interface TestSeams {
  /** SLUICE_TEST_HOOKS=1: the operations marked testOnly (moving the database size cap) are served. */
  hooks: boolean;
  /** SLUICE_TEST_MAX_PAGE_COUNT: caps the database size, to simulate a full disk. */
  maxPageCount?: number;
  /** SLUICE_TEST_POISON: a payload containing this text kills the process mid-ingest. */
  poison?: string;
  /** SLUICE_TEST_KILL_AFTER_COMMIT: in external-broker mode, dies once between a commit and its PUBACK. */
  killAfterCommit?: string;
  /** SLUICE_TEST_SEAL_HOLD=1: every seal on the seal worker waits before its commit, forever (a test kills the gateway there). */
  sealHold?: boolean;
}

export const NO_TEST_SEAMS: TestSeams = Object.freeze({ hooks: false });

export function testSeamsFromEnv(env: NodeJS.ProcessEnv): TestSeams {
  const pages = Number(env.SLUICE_TEST_MAX_PAGE_COUNT);
  return {
    hooks: env.SLUICE_TEST_HOOKS === '1',
    ...(Number.isInteger(pages) && pages > 0 ? { maxPageCount: pages } : {}),
    ...(env.SLUICE_TEST_POISON ? { poison: env.SLUICE_TEST_POISON } : {}),
    ...(env.SLUICE_TEST_KILL_AFTER_COMMIT ? { killAfterCommit: env.SLUICE_TEST_KILL_AFTER_COMMIT } : {}),
    ...(env.SLUICE_TEST_SEAL_HOLD === '1' ? { sealHold: true } : {}),
  };
}
