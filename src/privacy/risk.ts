/**
 * A heuristic re-identification and inference risk score for what a policy releases. It is a
 * sum of points for findings from the literature, not a probability: it ranks policies and says
 * why, it does not measure anything.
 */

export type MetricClass = 'presence' | 'consumption' | 'heating_schedule' | 'climate' | 'health' | 'other';

/** What one vendor receives, as far as the score is concerned. */
export interface ReleaseProfile {
  vendor: string;
  /** The finest window released, ms. */
  granularityMs: number;
  classes: readonly MetricClass[];
  /** Metric names released together (the number of types counts; names join coalitions). */
  metrics: readonly string[];
  /** Series identities released, e.g. `deviceId/metric/stat`, to find vendors that see the same data. */
  series: readonly string[];
  /** Some rule releases one device's (one room's) data on its own rather than pooled. */
  perDevice: boolean;
  /** How long one pseudonym keeps receiving data, in days. */
  historyDays: number;
  /** The vendor sees the same household id every time (today always true). */
  stablePseudonym: boolean;
  /** The vendor can tie what it receives to an account (a name, an address). */
  accountLinked: boolean;
  /** Every rule rounds coarser than the metric's resolution. */
  rounded: boolean;
  /** ε per window when every rule is noised; null when any rule is not. */
  dpEpsilon: number | null;
}

/** Why two vendors could combine their views. */
export interface VendorLink {
  vendors: readonly [string, string];
  why: 'partner' | 'shared_identity';
}

export interface RiskReason {
  code: string;
  points: number;
  text: string;
  source: string;
}

export type RiskLevel = 'low' | 'medium' | 'high';

export interface RiskScore {
  level: RiskLevel;
  points: number;
  /** Every reason that fired, strongest first. */
  reasons: RiskReason[];
  /** Said with every score. */
  note: string;
}

export interface CoalitionScore extends RiskScore {
  vendors: string[];
  /** Why these vendors are grouped. */
  links: string[];
}

export const RISK_NOTE = 'This is a heuristic, not a probability: points for findings from published studies, added up. It ranks what a policy shows; it does not measure what a vendor will actually learn.';

/** Points from which a score is medium, and high (chosen so the shipped daily examples are medium). */
export const MEDIUM_AT = 4;
export const HIGH_AT = 8;

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

export const SOURCES = {
  molina: 'Molina-Markham, Shenoy, Fu, Cecchet, Irwin, "Private memoirs of a smart meter", ACM BuildSys 2010',
  greveler: 'Greveler, Justus, Löhr, "Multimedia content identification through smart meter power usage profiles", CPDP 2012',
  kleiminger: 'Kleiminger, Mattern, Santini, "Household occupancy monitoring using electricity meters", ACM UbiComp 2015',
  beckel: 'Beckel, Sadamori, Staake, Santini, "Revealing household characteristics from smart meter data", Energy 78, 2014 (30-minute data)',
  montjoye: 'de Montjoye, Hidalgo, Verleysen, Blondel, "Unique in the Crowd: The privacy bounds of human mobility", Scientific Reports 3, 2013 (mobility traces; by analogy)',
  dwork: 'Dwork, Roth, "The Algorithmic Foundations of Differential Privacy", 2014 (composition: losses of combined releases add up)',
  heuristic: 'Sluice heuristic (no single study; common sense about what the data shows)',
} as const;

const CLASS_POINTS: Record<MetricClass, { points: number; text: string; source: string }> = {
  presence: { points: 3, text: 'presence, motion, door or lock data says directly when someone is home, comes and goes', source: SOURCES.heuristic },
  consumption: { points: 2, text: 'power, water or gas use follows what people do at home: when they wake, cook, leave and sleep', source: `${SOURCES.molina}; ${SOURCES.kleiminger}` },
  heating_schedule: { points: 2, text: 'a heating schedule is a schedule of when the home expects to be occupied', source: SOURCES.heuristic },
  climate: { points: 1, text: 'temperature and humidity rise with people, showers and cooking, so they hint at occupancy', source: SOURCES.heuristic },
  health: { points: 0, text: 'device health and consumables say little about the people in the home', source: SOURCES.heuristic },
  other: { points: 1, text: 'a metric Sluice cannot classify is counted as moderately revealing', source: SOURCES.heuristic },
};

function granularityReason(ms: number): RiskReason {
  if (ms < 15 * MIN)
    return { code: 'granularity.sub15min', points: 4, text: 'data finer than 15 minutes can show single appliances and activities, even which TV programme is on', source: `${SOURCES.molina}; ${SOURCES.greveler}` };
  if (ms <= HOUR)
    return { code: 'granularity.hourly', points: 3, text: 'hourly data still shows when the home is occupied and allows inferring household characteristics (such as whether there are children or someone is retired)', source: `${SOURCES.kleiminger}; ${SOURCES.beckel}` };
  if (ms < DAY) return { code: 'granularity.subdaily', points: 2, text: 'several values a day show the rhythm of the day (mornings, evenings, nights)', source: SOURCES.heuristic };
  if (ms <= 7 * DAY) return { code: 'granularity.daily', points: 1, text: 'daily or weekly values show days away, holidays and weekends', source: SOURCES.heuristic };
  return { code: 'granularity.long', points: 0, text: 'values over more than a week show long-term levels only', source: SOURCES.heuristic };
}

/** Scores one vendor's view, or a coalition's combined view. */
export function scoreProfile(p: ReleaseProfile, extra: readonly RiskReason[] = []): RiskScore {
  const reasons: RiskReason[] = [granularityReason(p.granularityMs)];
  const classes = [...new Set(p.classes)];
  for (const c of classes) reasons.push({ code: `class.${c}`, ...CLASS_POINTS[c] });
  if (classes.filter((c) => CLASS_POINTS[c].points > 0).length >= 2 || new Set(p.metrics).size >= 3)
    reasons.push({ code: 'combined.metrics', points: 1, text: `${new Set(p.metrics).size} kinds of metric released together can be cross-checked against each other`, source: SOURCES.heuristic });
  if (p.perDevice) reasons.push({ code: 'breakdown.per_device', points: 1, text: 'one device or room is released on its own, not pooled with others, so it shows what happens in that room', source: SOURCES.heuristic });
  if (p.stablePseudonym && p.historyDays > 90)
    reasons.push({ code: 'linkability.history', points: 1, text: `one unchanging household id receives data for ${Math.round(p.historyDays)} days; a long history under one id makes a home recognisable`, source: SOURCES.montjoye });
  if (p.accountLinked) reasons.push({ code: 'linkability.account', points: 2, text: 'the vendor can tie the data to an account, so whatever it infers is about named people', source: SOURCES.heuristic });
  reasons.push(...extra);
  if (p.dpEpsilon !== null && p.dpEpsilon <= 1)
    reasons.push({ code: 'mitigation.dp', points: -3, text: `noise with ε ${p.dpEpsilon} per window hides single events (one hour of the household)`, source: SOURCES.dwork });
  else if (p.dpEpsilon !== null)
    reasons.push({ code: 'mitigation.dp_weak', points: -1, text: `noise with ε ${p.dpEpsilon} per window is added, but ε above 1 hides single events only weakly`, source: SOURCES.dwork });
  if (p.rounded) reasons.push({ code: 'mitigation.rounding', points: -1, text: 'values are rounded, which blurs small differences but not when things happen', source: SOURCES.heuristic });
  const points = reasons.reduce((a, r) => a + r.points, 0);
  const level: RiskLevel = points >= HIGH_AT ? 'high' : points >= MEDIUM_AT ? 'medium' : 'low';
  const fired = reasons.filter((r) => r.points !== 0 || r.code.startsWith('granularity') || r.code.startsWith('class'));
  fired.sort((a, b) => b.points - a.points);
  return { level, points, reasons: fired, note: RISK_NOTE };
}

/** The combined view of several vendors: the finest data, every class, the losses added up. */
export function combineProfiles(profiles: readonly ReleaseProfile[]): ReleaseProfile {
  const eps = profiles.every((p) => p.dpEpsilon !== null) ? profiles.reduce((a, p) => a + p.dpEpsilon!, 0) : null;
  return {
    vendor: profiles.map((p) => p.vendor).join(' + '),
    granularityMs: Math.min(...profiles.map((p) => p.granularityMs)),
    classes: [...new Set(profiles.flatMap((p) => p.classes))],
    metrics: [...new Set(profiles.flatMap((p) => p.metrics))],
    series: [...new Set(profiles.flatMap((p) => p.series))],
    perDevice: profiles.some((p) => p.perDevice),
    historyDays: Math.max(...profiles.map((p) => p.historyDays)),
    stablePseudonym: profiles.some((p) => p.stablePseudonym),
    accountLinked: profiles.some((p) => p.accountLinked),
    rounded: profiles.every((p) => p.rounded),
    dpEpsilon: eps === null ? null : Math.round(eps * 1e6) / 1e6,
  };
}

/**
 * The groups of vendors that could link their views: the same series, a shared identity such as
 * an account, or one named as the other's partner. Each group is scored as one combined view;
 * a group's score is at least that of any of its subsets, so the maximal groups are reported.
 */
export function scoreCoalitions(profiles: readonly ReleaseProfile[], links: readonly VendorLink[] = []): CoalitionScore[] {
  const vendors = profiles.map((p) => p.vendor);
  const parent = new Map(vendors.map((v) => [v, v]));
  const find = (v: string): string => {
    let r = v;
    while (parent.get(r) !== r) r = parent.get(r)!;
    return r;
  };
  const why = new Map<string, Set<string>>();
  const join = (a: string, b: string, text: string) => {
    if (!parent.has(a) || !parent.has(b) || a === b) return;
    parent.set(find(a), find(b));
    const key = [a, b].sort().join('\u0000');
    if (!why.has(key)) why.set(key, new Set());
    why.get(key)!.add(text);
  };
  for (let i = 0; i < profiles.length; i++) {
    for (let j = i + 1; j < profiles.length; j++) {
      const a = profiles[i]!;
      const b = profiles[j]!;
      const shared = a.series.filter((s) => b.series.includes(s));
      if (shared.length > 0) join(a.vendor, b.vendor, `${a.vendor} and ${b.vendor} receive the same statistics of the same series (${shared.slice(0, 3).join(', ')})`);
    }
  }
  for (const l of links) {
    const [a, b] = l.vendors;
    join(a, b, l.why === 'partner' ? `${a} names ${b} as a partner` : `${a} and ${b} share an identity (such as an account)`);
  }
  const groups = new Map<string, string[]>();
  for (const v of vendors) {
    const r = find(v);
    groups.set(r, [...(groups.get(r) ?? []), v]);
  }
  const out: CoalitionScore[] = [];
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const texts = [...why.entries()].filter(([k]) => k.split('\u0000').every((v) => members.includes(v))).flatMap(([, t]) => [...t]);
    const combined = combineProfiles(profiles.filter((p) => members.includes(p.vendor)));
    const linked: RiskReason = { code: 'coalition.linked', points: 1, text: `${members.join(', ')} could combine what they receive; their privacy losses add up`, source: SOURCES.dwork };
    out.push({ ...scoreProfile(combined, [linked]), vendors: members, links: texts });
  }
  return out;
}
