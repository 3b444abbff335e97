import { SluiceError, sha256Hex } from '../core/index.js';
import { TERMS, type Exchange, type TermsStanding } from '../terms/index.js';
import { defineOperation, noParams, optionalText, params, requiredText } from './operation.js';
import type { AppContext } from './operation.js';

const vendor = requiredText('a VENDOR');
const as = optionalText('--as');

/** One row of `terms list`: where the household's terms with one vendor stand. */
export interface TermsRow {
  vendor: string;
  policy: string;
  /** The term the household proffered. */
  term: string;
  state: Exchange['state'];
  state_text: string;
  /** True when summaries may go to this vendor. */
  in_force: boolean;
  agreed_term: string | null;
  agreement_sha256: string | null;
  counter: { term: string; title: string; reason: string | null } | null;
  endpoint: string;
  attempts: number;
  last_error: string | null;
  decided_by: string | null;
  vendor_key_sha256: string | null;
  updated_at: string;
}

function row(e: Exchange, standing: TermsStanding): TermsRow {
  const counterTerm = e.counter ? String((e.counter.term as { id: string }).id) : null;
  return {
    vendor: e.vendorName,
    policy: e.policy,
    term: e.term,
    state: e.state,
    state_text: standing.ok ? `accepted: ${standing.term} (agreement ${standing.sha256.slice(0, 12)}…)` : standing.message,
    in_force: standing.ok,
    agreed_term: e.agreedTerm,
    agreement_sha256: e.agreementSha256,
    counter: counterTerm ? { term: counterTerm, title: Object.hasOwn(TERMS, counterTerm) ? TERMS[counterTerm as keyof typeof TERMS].title : '', reason: typeof e.counter?.reason === 'string' ? e.counter.reason : null } : null,
    endpoint: e.endpoint,
    attempts: e.attempts,
    last_error: e.lastError,
    decided_by: e.decidedBy,
    vendor_key_sha256: e.vendorKey ? sha256Hex(e.vendorKey) : null,
    updated_at: new Date(e.updatedAt).toISOString(),
  };
}

/** A choice on a counter-offer names an owner or adult when the household has members. */
function chooser({ sharing: { consent } }: AppContext, name: string | undefined): string | null {
  if (consent.members.list().length === 0) return name ?? null;
  const by = name === undefined ? null : consent.members.require(name);
  if (!by || (by.role !== 'owner' && by.role !== 'adult')) throw new SluiceError('SLUICE_ERR_MEMBER_NOT_ALLOWED', "an owner or adult decides on a vendor's counter-offer: repeat with --as NAME");
  return by.name;
}

function exchangeOf(app: AppContext, name: string): Exchange {
  const e = app.sharing.terms.current(name);
  if (!e) throw new SluiceError('SLUICE_ERR_TERMS_UNKNOWN', `no terms with ${name}; list them with: sluice terms list`);
  return e;
}

/** The household's IEEE 7012 terms with each vendor: list, show, and the choice on a counter-offer. */
export const termsOperations = {
  'terms.list': defineOperation({
    params: noParams,
    run: ({ sharing: { terms } }): TermsRow[] => {
      const wanted = terms.wanted();
      return terms.list().map((e) => row(e, terms.standing(e.vendorName, wanted.get(e.vendor))));
    },
  }),
  'terms.show': defineOperation({
    params: params({ vendor }),
    run: (app, p) => {
      const e = exchangeOf(app, p.vendor);
      const { terms } = app.sharing;
      return {
        ...row(e, terms.standing(e.vendorName)),
        proffer: e.proffer,
        answer: e.answer,
        counter_offer: e.counter,
        agreement: e.agreement,
        history: terms.history(e.vendorName).map((h) => ({ id: h.id, term: h.term, state: h.state, agreed_term: h.agreedTerm, agreement_sha256: h.agreementSha256, created_at: new Date(h.createdAt).toISOString() })),
      };
    },
  }),
  'terms.accept': defineOperation({
    params: params({ vendor, as }),
    run: async (app, p) => {
      const by = chooser(app, p.as);
      const e = app.sharing.terms.accept(exchangeOf(app, p.vendor).vendorName, by);
      app.context.events.emit('terms.decided', { vendor: e.vendorName, state: e.state });
      await app.termsExchange?.settled();
      const now = app.sharing.terms.current(e.vendorName)!;
      return row(now, app.sharing.terms.standing(now.vendorName));
    },
  }),
  'terms.decline': defineOperation({
    params: params({ vendor, as }),
    run: (app, p) => {
      const by = chooser(app, p.as);
      const e = app.sharing.terms.decline(exchangeOf(app, p.vendor).vendorName, by);
      return row(e, app.sharing.terms.standing(e.vendorName));
    },
  }),
  'terms.proffer': defineOperation({
    params: params({ vendor, as }),
    run: async (app, p) => {
      const by = chooser(app, p.as);
      const e = app.sharing.terms.reproffer(p.vendor, by);
      app.context.events.emit('terms.decided', { vendor: e.vendorName, state: e.state });
      await app.termsExchange?.settled();
      const now = app.sharing.terms.current(e.vendorName)!;
      return row(now, app.sharing.terms.standing(now.vendorName));
    },
  }),
};
