import { createInterface } from 'node:readline/promises';
import { SluiceError } from '../core/index.js';
import { text, type Command } from './command.js';
import { withGateway } from './connect.js';
import { localTime, table } from './format.js';

const json = { json: { type: 'boolean' } } as const;
const yes = { yes: { type: 'boolean' } } as const;
const window = { window: { type: 'string' } } as const;
const as = { as: { type: 'string' } } as const;

/** Asks on the terminal; without one, the household must say --yes explicitly. */
async function confirm(question: string, flags: Record<string, unknown>): Promise<boolean> {
  if (flags.yes === true) return true;
  if (!process.stdin.isTTY) throw new SluiceError('SLUICE_ERR_USAGE', 'not on a terminal: review the text above and repeat the command with --yes');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

export const policyCommands: Command[] = [
  {
    name: 'policy list',
    usage: 'policy list [--json]',
    summary: 'List sharing policies and whether each is approved, changed, revoked or expired.',
    options: json,
    args: 0,
    async run({ flags, config, print }) {
      const rows = await withGateway(config(), (call) => call('policy.list'));
      if (flags.json) print(JSON.stringify(rows));
      else if (rows.length === 0) print('No policies. Copy one from the examples into the policies directory.');
      else print(table(['NAME', 'VENDOR', 'STATE', 'EXPIRES', 'NEXT RUN'], rows.map((r) => [r.name, r.vendor, r.state_text, r.expires, r.next_run ?? ''])));
      return 0;
    },
  },
  {
    name: 'policy check',
    usage: 'policy check NAME|PATH [--json]',
    summary: 'Validate a policy file against the schema and the device profiles; every problem with file:line:col.',
    options: json,
    args: 1,
    async run({ args, flags, config, print }) {
      const [r] = await withGateway(config(), (call) => call('policy.check', { name: args[0]! }));
      if (flags.json) print(JSON.stringify(r));
      else {
        if (r!.problems) process.stderr.write(`${r!.problems}\n`);
        print(r!.ok ? `${r!.name}: ok (version ${r!.version})` : `${r!.name}: has problems`);
      }
      return r!.ok ? 0 : 2;
    },
  },
  {
    name: 'policy explain',
    usage: 'policy explain NAME [--json]',
    summary: 'Say in plain language what a policy sends, to whom, when and until when.',
    options: json,
    args: 1,
    async run({ args, flags, config, print }) {
      const r = (await withGateway(config(), (call) => call('policy.explain', { name: args[0]! })));
      if (flags.json) print(JSON.stringify(r));
      else print([r.text, r.problems ? `\nProblems:\n${r.problems}` : '', r.state === 'changed' ? `\nChanges since approval:\n${r.changes.join('\n')}` : ''].filter(Boolean).join('\n'));
      return 0;
    },
  },
  {
    name: 'policy preview',
    usage: 'policy preview NAME [--window START/END] [--json]',
    summary: 'Print the exact bytes a run would send for a window (default: the newest closed one).',
    options: { ...window, ...json },
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('policy.preview', { name: args[0]!, window: text(flags.window) }));
      if (flags.json) return print(JSON.stringify(r)), 0;
      // stdout carries the body and nothing else, byte for byte; notes go to stderr.
      if (r.body !== null) process.stdout.write(r.body);
      const notes = [
        `window ${r.window.start} — ${r.window.end}`,
        ...(r.state === 'withheld' ? [`nothing would be sent for this window: ${r.message ?? ''}`] : []),
        r.basis === 'pending' ? 'this is the policy as written now, which is not (or not yet) approved' : 'this is what the approved version sends',
        ...r.omitted.map((o) => `left out: rule ${o.rule} ${o.metric}: ${o.samples} readings, fewer than min_samples ${o.min_samples}`),
        ...r.sources.filter((x) => x.source === 'rollup').map((x) => `rule ${x.rule} ${x.metric}: from the hourly rollups (the window reaches past raw retention): percentiles within 1 %, histogram left out`),
      ];
      if (process.stdout.isTTY && r.body !== null) process.stdout.write('\n');
      process.stderr.write(`${notes.map((n) => `# ${n}`).join('\n')}\n`);
      return 0;
    },
  },
  {
    name: 'policy approve',
    usage: 'policy approve NAME [--as MEMBER] [--accept-risk high] [--yes]',
    summary: 'Show what a policy would share (and what changed) and approve exactly that version; with household members, as one of them.',
    options: { ...yes, ...as, 'accept-risk': { type: 'string' } },
    args: 1,
    async run({ args, flags, config, print }) {
      const cfg = config();
      const r = await withGateway(cfg, async (call) => {
        const e = (await call('policy.explain', { name: args[0]! }));
        if (e.problems && !e.version) throw new SluiceError('SLUICE_ERR_POLICY_INVALID', e.problems);
        print(e.text);
        if (e.problems) print(`\nProblems:\n${e.problems}`);
        print(`\nWhat changes with this approval:\n${e.changes.map((c) => `  ${c}`).join('\n') || '  nothing: this version is already approved'}`);
        if (!(await confirm(`Approve ${e.name} version ${e.version?.slice(0, 12)}?`, flags))) throw new SluiceError('SLUICE_ERR_USAGE', 'not approved');
        return await call('policy.approve', { name: args[0]!, hash: e.version, as: text(flags.as), accept_risk: text(flags['accept-risk']) });
      });
      if (!r.in_force) return print(`Recorded ${text(flags.as) ?? 'the'} approval of ${args[0]} (version ${r.version}). Nothing is sent yet: waiting for ${r.waiting_for.join(', ')}.`), 0;
      print(`Approved ${args[0]} (version ${r.version}). Summaries are sent on its schedule; revoke with: sluice policy revoke ${args[0]}`);
      // [CONSENT-6] the windows that came due while it waited for a member: caught up now, or said to be lost.
      if (r.catch_up.windows > 0) print(`Catching up ${r.catch_up.windows} window${r.catch_up.windows === 1 ? '' : 's'} that came due while it waited, oldest first, under this version (pauses and the privacy budget apply as to any window).`);
      if (r.catch_up.reason === 'catch-up-bound') print(`${r.catch_up.not_produced} older window${r.catch_up.not_produced === 1 ? ' is' : 's are'} past the catch-up bound (schedule.max_catch_up) and will not be sent.`);
      if (r.catch_up.reason === 'new-version') print(`${r.catch_up.not_produced} window${r.catch_up.not_produced === 1 ? '' : 's'} that came due while it waited will not be sent: they fell before this new version was approved.`);
      for (const o of r.overlaps) print(`Note: ${o}`);
      return 0;
    },
  },
  {
    name: 'policy revoke',
    usage: 'policy revoke NAME [--as MEMBER] [--yes]',
    summary: 'Stop a policy at once: nothing more is sent, queued summaries are deleted.',
    options: { ...yes, ...as },
    args: 1,
    async run({ args, flags, config, print }) {
      if (!(await confirm(`Revoke ${args[0]}? Nothing more will be sent under it.`, flags))) throw new SluiceError('SLUICE_ERR_USAGE', 'not revoked');
      const r = await withGateway(config(), (call) => call('policy.revoke', { name: args[0]!, as: text(flags.as) }));
      print(`Revoked ${args[0]}.${r.dropped > 0 ? ` ${r.dropped} queued summaries were deleted unsent.` : ''}`);
      return 0;
    },
  },
  {
    name: 'policy erase-request',
    usage: 'policy erase-request NAME [--resend] [--json]',
    summary: "Ask the policy's vendor (at its deletion_endpoint) to delete what it received: the household id and windows it saw; --resend queues a request that failed for good again.",
    options: { resend: { type: 'boolean' }, ...json },
    args: 1,
    async run({ args, flags, config, print }) {
      const resend = flags.resend === true;
      const r = await withGateway(config(), (call) => call('policy.erase-request', { name: args[0]!, resend }));
      if (flags.json) print(JSON.stringify(r));
      else print(`Erasure request ${r.id} ${resend ? 'queued again' : 'queued'} for ${r.endpoint}: ${r.windows.length} windows, ${r.versions.length} versions.`);
      return 0;
    },
  },
  {
    name: 'policy run',
    usage: 'policy run NAME [--window START/END] [--json]',
    summary: 'Produce and queue one summary now under the approved version (default: the newest closed window).',
    options: { ...window, ...json },
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('policy.run', { name: args[0]!, window: text(flags.window) }));
      if (flags.json) print(JSON.stringify(r));
      else if (r.state === 'withheld') print(`Nothing sent for ${r.window.start} — ${r.window.end}: ${r.message ?? ''} (on the ledger as disclosure.withheld).`);
      else print(r.created ? `Queued summary ${r.summary_id} for ${r.window.start} — ${r.window.end}${r.source === 'raw' ? '' : ` (${r.source === 'rollup' ? 'from the hourly rollups' : 'partly from the hourly rollups'}: the window reaches past raw retention)`}.` : `Summary ${r.summary_id} for that window already exists (${r.state}); nothing new.`);
      return 0;
    },
  },
  {
    name: 'ledger show',
    usage: 'ledger show [--vendor V] [--body SEQ] [--json]',
    summary: 'Show the ledger: every approval, change, revocation, expiry and disclosure; --body SEQ prints the exact bytes that row is about.',
    options: { vendor: { type: 'string' }, body: { type: 'string' }, ...json },
    args: 0,
    async run({ flags, config, print }) {
      const cfg = config();
      const seq = text(flags.body);
      if (seq !== undefined) {
        const r = await withGateway(cfg, (call) => call('ledger.body', { seq }));
        // The stored bytes, unchanged: what the ledger row's body_sha256 is the hash of.
        if (flags.json) print(JSON.stringify(r));
        else process.stdout.write(r.body);
        return 0;
      }
      const rows = await withGateway(cfg, (call) => call('ledger.show', { vendor: text(flags.vendor) }));
      if (flags.json) print(JSON.stringify(rows));
      else if (rows.length === 0) print('The ledger is empty: nothing was approved or sent.');
      else
        print(
          table(
            ['#', 'TIME', 'WHAT', 'VENDOR', 'POLICY', 'DETAIL'],
            rows.map((r) => [r.seq, localTime(r.at, cfg.timezone), r.kind, r.vendor, r.policy, [r.summary_id ? `summary ${r.summary_id}` : '', ...Object.entries(r.detail).filter(([k]) => ['status', 'outcome', 'body_sha256', 'reason', 'attempt'].includes(k)).map(([k, v]) => `${k}=${String(v)}`)].filter(Boolean).join(' ')]),
          ),
        );
      return 0;
    },
  },
  {
    name: 'ledger verify',
    usage: 'ledger verify [--json]',
    summary: 'Check the ledger hash chain and its head file; exit 1 naming the first bad row or the truncation.',
    options: json,
    args: 0,
    async run({ flags, config, print }) {
      const r = await withGateway(config(), (call) => call('ledger.verify'));
      if (flags.json) print(JSON.stringify(r));
      else if (r.ok) print(`Ledger ok: ${r.rows} rows, head ${r.head?.hash ?? '(empty)'}`);
      else process.stderr.write(`sluice: SLUICE_ERR_LEDGER_BROKEN ${r.problem!.message}\n`);
      return r.ok ? 0 : 1;
    },
  },
];
