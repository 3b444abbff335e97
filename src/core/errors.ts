/**
 * The catalogue of stable error codes. Each code is documented one row in docs/errors.md
 * (a test keeps the two in sync). Codes are never reused or renamed.
 */
export const errorCatalogue = {
  SLUICE_ERR_CONFIG_INVALID: {
    exit: 2,
    meaning: 'A YAML file (sluice.yaml, a device profile or a policy) is malformed or fails validation.',
    fix: 'Correct the file at the printed file:line:col; every problem is listed at once.',
  },
  SLUICE_ERR_USAGE: {
    exit: 2,
    meaning: 'The command line is wrong: an unknown command or flag, or a missing or malformed argument.',
    fix: 'Run the command with --help and correct the arguments.',
  },
  SLUICE_ERR_DATA_DIR_LOCKED: {
    exit: 1,
    meaning: 'Another Sluice process (named by its pid) owns the data directory.',
    fix: 'Stop the other gateway, or give this one another --data directory.',
  },
  SLUICE_ERR_DATA_DIR: {
    exit: 1,
    meaning: 'The data directory cannot be created, read or secured (mode 0700).',
    fix: 'Check the path and its permissions, or choose another with --data.',
  },
  SLUICE_ERR_DB_TOO_NEW: {
    exit: 1,
    meaning: 'The database was written by a newer Sluice version with a schema this version does not know.',
    fix: 'Run the newer Sluice version again, or restore a backup made by this version.',
  },
  SLUICE_ERR_DB_MIGRATION: {
    exit: 1,
    meaning: 'A schema migration failed; the database was left as it was before the migration.',
    fix: 'Report the message; the backup made before migrating sits next to the database.',
  },
  SLUICE_ERR_DB_IO: {
    exit: 1,
    meaning: 'SQLite reported an I/O fault (disk full, read-only file system, damaged file).',
    fix: 'Free disk space or check the storage device; the gateway keeps the readings it has not acknowledged.',
  },
  SLUICE_ERR_PORT_IN_USE: {
    exit: 1,
    meaning: 'A listener could not bind because its port is already in use.',
    fix: 'Stop the program on that port or choose another with --mqtt-port (or the matching config key).',
  },
  SLUICE_ERR_LISTEN: {
    exit: 1,
    meaning: 'A listener could not start for a reason other than a busy port (permissions, bad address).',
    fix: 'Check the host and port in the configuration.',
  },
  SLUICE_ERR_ADMIN_SOCKET: {
    exit: 1,
    meaning: 'The running gateway could not be reached through its admin socket, or it closed the connection.',
    fix: 'Check that the gateway is running and that you may read the data directory.',
  },
  SLUICE_ERR_DEVICE_EXISTS: {
    exit: 2,
    meaning: 'A device with this id is already registered.',
    fix: 'Choose another id, or `sluice devices passwd ID` to give the existing device a new password.',
  },
  SLUICE_ERR_DEVICE_UNKNOWN: {
    exit: 2,
    meaning: 'No device with this id is registered.',
    fix: 'List the registered devices with `sluice devices list`.',
  },
  SLUICE_ERR_DEVICE_ID_INVALID: {
    exit: 2,
    meaning: 'A device id must be 1–64 characters of a–z, 0–9, "-" and "_", starting with a letter or digit, so it is safe in MQTT topics.',
    fix: 'Choose an id such as `living-thermostat`.',
  },
  SLUICE_ERR_PROFILE_UNKNOWN: {
    exit: 2,
    meaning: 'No device profile with this name exists in the devices directory.',
    fix: 'Use one of the profiles listed in the message, or add `devices/NAME.yaml`.',
  },
  SLUICE_ERR_PAYLOAD_INVALID: {
    exit: 2,
    meaning: 'A device message could not be read as readings; it was quarantined and acknowledged.',
    fix: 'See the reason in `sluice quarantine` and docs/device-profiles.md for the payload convention.',
  },
  SLUICE_ERR_INTERNAL: {
    exit: 1,
    meaning: 'An unexpected fault (a bug). The message and the log say where.',
    fix: 'Report it with the log lines around it.',
  },
  // --- devices and data quality (issue 3) ---
  SLUICE_ERR_GATEWAY_NOT_RUNNING: {
    exit: 1,
    meaning: 'The command needs a running gateway on the data directory (for example `sluice simulate`), and none runs.',
    fix: 'Start the gateway first (`npm start`, or `sluice start --data DIR`), then run the command again.',
  },
  // --- the raw store's life (retention, erase, damage) ---
  SLUICE_ERR_DB_DAMAGED: {
    exit: 1,
    meaning: 'The database failed `PRAGMA quick_check` or is not a database; Sluice refuses to run on it and leaves it untouched.',
    fix: 'Stop the gateway and run `sluice db recover` (salvage what can be read) or `sluice db recover --from-backup`.',
  },
  SLUICE_ERR_ERASE_UNCONFIRMED: {
    exit: 2,
    meaning: '`sluice erase` was run without `--yes`; it printed what it would remove and removed nothing.',
    fix: 'Check the counts, then run the same command with `--yes`.',
  },
  SLUICE_ERR_RECOVER: {
    exit: 1,
    meaning: '`sluice db recover` could not run: a gateway is running, there is no database, or the backup asked for does not exist.',
    fix: 'Stop the gateway first; to restore a backup, check that `sluice.db.bak` is in the data directory.',
  },
  // --- disclosure: policies, summaries, delivery, ledger (issue 5) ---
  SLUICE_ERR_POLICY_INVALID: {
    exit: 2,
    meaning: 'A sharing policy (policies/NAME.yaml) is malformed, or names metrics, devices or statistics its devices do not have.',
    fix: 'Correct the file at the printed file:line:col (`sluice policy check NAME` lists every problem).',
  },
  SLUICE_ERR_POLICY_UNKNOWN: {
    exit: 2,
    meaning: 'No policy file with this name exists in the policies directory.',
    fix: 'List the policies with `sluice policy list`.',
  },
  SLUICE_ERR_POLICY_NOT_APPROVED: {
    exit: 2,
    meaning: 'The policy is not in force (never approved, revoked or expired), so nothing is produced or sent under it.',
    fix: 'Preview it with `sluice policy preview NAME`, then `sluice policy approve NAME`.',
  },
  SLUICE_ERR_POLICY_STALE_REVIEW: {
    exit: 2,
    meaning: 'The policy (its file or the devices it selects) changed between showing it and approving it.',
    fix: 'Run `sluice policy approve NAME` again and review what it shows now.',
  },
  SLUICE_ERR_POLICY_EXPIRED: {
    exit: 2,
    meaning: 'The policy\'s `expires` date has passed, so it cannot be approved.',
    fix: 'Set a later `expires` date in the file if the household wants to keep sharing.',
  },
  SLUICE_ERR_WINDOW_INVALID: {
    exit: 2,
    meaning: 'The --window is not one complete, closed window of the policy\'s window size in the household timezone.',
    fix: 'Give START/END of one whole hour, day or week (as the policy says) that has ended, e.g. 2026-11-22/2026-11-23.',
  },
  SLUICE_ERR_NOTHING_TO_SEND: {
    exit: 1,
    meaning: 'The window has nothing to send: every item had fewer readings than its minimum, or no rule summarises windows of this size. Nothing leaves for it.',
    fix: 'Nothing to fix: this is the privacy floor working. Pick another window, or lower min_samples in the policy (never below the household floor in policies/defaults.yaml).',
  },
  SLUICE_ERR_SECRET_MISSING: {
    exit: 1,
    meaning: 'The signing key a policy names (secret_env or secret_file) is not available to the gateway.',
    fix: 'Set the environment variable or create the file (mode 0600) the policy names; a running gateway picks up a key file at its next attempt (an environment variable needs a restart).',
  },
  SLUICE_ERR_LEDGER_BROKEN: {
    exit: 1,
    meaning: 'The disclosure ledger failed verification: a row was altered or removed, or the chain is shorter than its head file says.',
    fix: 'Treat the ledger as tampered with; restore the database from a backup and keep the damaged copy for inspection.',
  },
  // Broker hardening (issue 6)
  SLUICE_ERR_TLS: {
    exit: 2,
    meaning: 'A TLS or secure WebSocket listener is enabled but its certificate or key is missing or unreadable.',
    fix: 'Set broker.tls.cert_file and broker.tls.key_file to readable PEM files, or disable the listener.',
  },
  // Privacy: what left, and sending it again (privacy issue)
  SLUICE_ERR_SUMMARY_UNKNOWN: {
    exit: 2,
    meaning: 'No stored summary matches: the policy sent nothing for that window, or the ledger row names no summary.',
    fix: 'See what was sent and what was withheld with `sluice ledger show`; `sluice policy sent NAME` prints the newest summary.',
  },
  SLUICE_ERR_SUMMARY_NOT_RESENDABLE: {
    exit: 2,
    meaning: 'Only a summary whose delivery failed for good can be sent again; this one is queued, delivered or was deleted unsent.',
    fix: 'Check its state with `sluice policy sent NAME --window START/END --json`; a queued summary is retried on its own.',
  },
  // --- household consent: members, approvals by every adult, vetoes, consent records, pauses ---
  SLUICE_ERR_MEMBER_UNKNOWN: {
    exit: 2,
    meaning: 'No household member has this name.',
    fix: 'List the members with `sluice members list`, or add one with `sluice members add NAME --role owner|adult|minor|guest`.',
  },
  SLUICE_ERR_MEMBER_REQUIRED: {
    exit: 2,
    meaning: 'The policy concerns household members, so the member deciding must be named; the household as a whole cannot approve or revoke it.',
    fix: 'Repeat the command with `--as NAME` (the message lists whom the policy waits for).',
  },
  SLUICE_ERR_MEMBER_NOT_ALLOWED: {
    exit: 2,
    meaning: 'This member may not take this decision: the policy does not concern them, or the act needs an owner or an adult.',
    fix: 'Let a member the policy concerns decide (`sluice policy explain NAME` names them), or ask an owner.',
  },
  SLUICE_ERR_CONSENT_WAITING: {
    exit: 2,
    meaning: 'The approval was recorded, but the policy is still waiting for the approval of other members it concerns; nothing is sent until they approve.',
    fix: 'Ask each member named to approve the same version with `sluice policy approve NAME --as MEMBER`.',
  },
  SLUICE_ERR_CONSENT_UNKNOWN: {
    exit: 2,
    meaning: 'No consent record has this id.',
    fix: 'List the records with `sluice consent list`.',
  },
  SLUICE_ERR_PAUSE_UNKNOWN: {
    exit: 2,
    meaning: 'No privacy pause with this id is running.',
    fix: 'List the pauses with `sluice pause list`.',
  },
  // Intents and offers (the intention economy at home)
  SLUICE_ERR_INTENT_RULE_INVALID: {
    exit: 2,
    meaning: 'An intent rule file (intents/*.yaml) is malformed or fails validation.',
    fix: 'Correct the file at the printed file:line:col; every problem is listed at once.',
  },
  SLUICE_ERR_INTENT_UNKNOWN: {
    exit: 2,
    meaning: 'There is no intent with this id.',
    fix: 'List the intents with `sluice intents list` and use an id from it.',
  },
  SLUICE_ERR_OFFER_UNKNOWN: {
    exit: 2,
    meaning: 'There is no offer with this id.',
    fix: 'List the offers with `sluice offers list` and use an id from it.',
  },
  SLUICE_ERR_INTENT_STATE: {
    exit: 2,
    meaning: 'The intent or offer is not in a state that allows this (a dropped draft, an expired offer, an intent already decided), or the household location it needs is not set.',
    fix: 'Check it with `sluice intents show ID` or `sluice offers show ID`; set household.country in sluice.yaml if the message asks for it.',
  },
  // The household's own terms (IEEE 7012 MyTerms, src/terms).
  SLUICE_ERR_TERMS_NOT_ACCEPTED: {
    exit: 1,
    meaning: "The vendor has not accepted the household's terms (IEEE 7012), so nothing is produced or sent to it.",
    fix: 'See why with `sluice terms show VENDOR`: wait for its answer, accept or decline a counter-offer, or ask again with `sluice terms proffer VENDOR`.',
  },
  SLUICE_ERR_TERMS_UNKNOWN: {
    exit: 2,
    meaning: 'There are no terms with this vendor: no policy for it has been in force while the gateway ran.',
    fix: 'List the vendors with `sluice terms list`; terms are proffered once a policy for the vendor is approved.',
  },
  SLUICE_ERR_TERMS_STATE: {
    exit: 2,
    meaning: "The terms with this vendor are not in a state that allows this (only a counter-offer is accepted or declined; a proffer needs a policy in force).",
    fix: 'Check them with `sluice terms show VENDOR`.',
  },
  // --- backup and restore (external-broker issue) ---
  SLUICE_ERR_BACKUP_INVALID: {
    exit: 2,
    meaning: 'The file given to `sluice backup restore` is not a Sluice backup, or it is damaged (a file in it does not match its digest).',
    fix: 'Check that you named the right file; copy the backup again from where it is kept.',
  },
  SLUICE_ERR_BACKUP_PASSPHRASE: {
    exit: 2,
    meaning: 'The backup is encrypted and no passphrase was given, or the passphrase does not open it.',
    fix: 'Run again with `--passphrase-env VAR`, VAR naming an environment variable that holds the passphrase used when the backup was made.',
  },
  SLUICE_ERR_BACKUP_TOO_NEW: {
    exit: 2,
    meaning: 'The backup was made by a newer Sluice (its database schema is newer than this one knows); nothing was restored.',
    fix: 'Install the Sluice version that made the backup (or a newer one), then restore.',
  },
  SLUICE_ERR_BACKUP_OVERWRITE: {
    exit: 2,
    meaning: 'Restoring would replace existing files (the database, policies or profiles); nothing was changed.',
    fix: 'Make sure you mean to replace them (take a backup of the current state first), then run again with `--yes`.',
  },
  // Household dashboard (web)
  SLUICE_ERR_WEB_UNAUTHENTICATED: {
    exit: 2,
    meaning: 'A dashboard page or call was made without a valid session, or a login link was used twice, expired, or a password was wrong.',
    fix: 'Run `sluice web login` on the gateway and open the link it prints (each link works once, for 10 minutes).',
  },
  SLUICE_ERR_WEB_FORBIDDEN: {
    exit: 2,
    meaning: 'A dashboard change was refused: its security (CSRF) token was missing or stale, or it came from another origin.',
    fix: 'Reload the dashboard page and do it again from there.',
  },
  SLUICE_ERR_WEB_RATE_LIMITED: {
    exit: 2,
    meaning: 'Too many dashboard login attempts came from one address within a minute.',
    fix: 'Wait a minute, then log in again with the right password or a fresh login link.',
  },
  // Differential privacy and the risk score (docs/privacy.md).
  SLUICE_ERR_POLICY_RISK_NOT_ACCEPTED: {
    exit: 2,
    meaning: 'The policy scores high on the risk heuristic (see `sluice policy risk NAME`), and its approval did not accept that risk explicitly.',
    fix: 'Make the policy coarser (longer windows, fewer metrics, rounding, privacy noise), or approve it with `--accept-risk high` if the household accepts what it shows.',
  },
  // --- intents: acceptance under a policy, open data (issue 18) ---
  SLUICE_ERR_OFFER_NOT_COVERED: {
    exit: 2,
    meaning: 'Accepting this offer would tell the vendor more (a delivery address) than any approved policy to that vendor covers; nothing was accepted or sent.',
    fix: 'Review the policy the message names (a draft is written for you when there is none) with `sluice policy explain NAME`, approve it with `sluice policy approve NAME`, then accept the offer again.',
  },
  SLUICE_ERR_OPEN_DATA_REFUSED: {
    exit: 1,
    meaning: 'An open-data release was not sent: its window has no readings, it does not fit the privacy budget, or the collector did not take it.',
    fix: 'Check `sluice ledger show` for the reason; a budget refusal clears when earlier releases leave the budget period.',
  },
  // --- household consent, the rest of issue 17: members added later, erasure resends, member logins ---
  SLUICE_ERR_POLICY_WAITING_FOR_MEMBER: {
    exit: 2,
    meaning: 'The policy was approved, but it now concerns a member who has not approved it (added later, or given one of its devices or rooms); nothing is produced or sent under it until they do.',
    fix: 'Ask the member named to approve it with `sluice policy approve NAME --as MEMBER`, or to veto it.',
  },
  SLUICE_ERR_ERASURE_NOT_RESENDABLE: {
    exit: 2,
    meaning: 'The newest erasure request of this policy did not fail for good (it is queued, or the vendor acknowledged it), or the policy has none.',
    fix: 'See the erasure rows with `sluice ledger show --vendor V`; a queued request is retried on its own. Ask afresh with `sluice policy erase-request NAME`.',
  },
} as const satisfies Record<string, { exit: 1 | 2; meaning: string; fix: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

/** The one error class of Sluice: every expected fault carries a stable `code`. */
export class SluiceError extends Error {
  override readonly name = 'SluiceError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Exit status for the CLI: 2 for invalid input or config, 1 for runtime faults. */
  get exitCode(): 1 | 2 {
    return errorCatalogue[this.code].exit;
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

export function isSluiceError(err: unknown, code?: ErrorCode): err is SluiceError {
  return err instanceof SluiceError && (code === undefined || err.code === code);
}

/** Renders docs/errors.md from the catalogue; the sync test compares the file with this. */
export function renderErrorDoc(): string {
  const rows = Object.entries(errorCatalogue).map(
    ([code, e]) => `| \`${code}\` | ${e.exit} | ${e.meaning} | ${e.fix} |`,
  );
  return [
    '# Error codes',
    '',
    'Every error Sluice reports carries one of these stable codes. Codes are never reused.',
    'CLI exit status: 0 ok, 1 runtime failure, 2 invalid input or configuration.',
    'Regenerate it after changing `src/core/errors.ts` with `UPDATE_DOCS=1 npx vitest run test/unit/core/errors.test.ts`.',
    '',
    '| code | exit | meaning | how to fix |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
