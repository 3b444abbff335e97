/** HTML that is already safe to insert (escaped or built by `html`). */
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

type Part = SafeHtml | string | number | boolean | null | undefined | Part[];

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return '';
  if (Array.isArray(part)) return part.map(render).join('');
  if (part instanceof SafeHtml) return part.text;
  return escapeHtml(part);
}

/** A template tag that escapes every interpolated value unless it is SafeHtml. */
export function html(strings: TemplateStringsArray, ...values: Part[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((v, i) => (out += render(v) + strings[i + 1]!));
  return new SafeHtml(out);
}

export interface LayoutOptions {
  title: string;
  /** The nav entry to mark as current. */
  section?: 'home' | 'devices' | 'sharing' | 'terms' | 'intents' | 'offers' | 'ledger' | 'data' | undefined;
  csrf?: string | undefined;
  body: SafeHtml;
}

const NAV: Array<[NonNullable<LayoutOptions['section']>, string, string]> = [
  ['home', '/', 'Home'],
  ['devices', '/devices', 'Devices'],
  ['sharing', '/sharing', 'Sharing'],
  ['terms', '/terms', 'Terms'],
  ['intents', '/intents', 'Intents'],
  ['offers', '/offers', 'Offers'],
  ['ledger', '/ledger', 'Ledger'],
  ['data', '/data', 'Data'],
];

/** The page frame: no inline script or style (CSP default-src 'self'). */
export function layout(o: LayoutOptions): string {
  const nav = o.csrf
    ? html`<nav aria-label="Main"><ul>${NAV.map(([key, href, label]) => html`<li><a href="${href}"${o.section === key ? new SafeHtml(' aria-current="page"') : ''}>${label}</a></li>`)}</ul>
<form method="post" action="/logout" class="logout"><input type="hidden" name="_csrf" value="${o.csrf}"><button type="submit">Log out</button></form></nav>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false}'>
<title>${escapeHtml(o.title)} · Sluice</title>
<link rel="stylesheet" href="/assets/sluice.css">
<link rel="stylesheet" href="/assets/uPlot.min.css">
<script src="/assets/htmx.min.js" defer></script>
<script src="/assets/uPlot.iife.min.js" defer></script>
<script src="/assets/sluice.js" defer></script>
</head>
<body>
<header><p class="brand"><a href="/">Sluice</a> <span>your home's data gateway</span></p>${nav.toString()}</header>
<main id="main">
${o.body.toString()}
</main>
</body>
</html>`;
}

/** A hidden CSRF field for a form. */
export const csrfField = (csrf: string) => html`<input type="hidden" name="_csrf" value="${csrf}">`;

/** Human-readable bytes. */
export function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(1)} GB`;
}

/** An instant for people: "1 Dec 2026, 13:12" in the household's timezone; a date alone stays as it is. */
export function when(iso: string | null | undefined, timeZone: string, seconds = false): string {
  if (!iso) return '—';
  if (/^\d{4}-\d{2}-\d{2}$/.test(iso)) return iso;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: seconds ? 'medium' : 'short', timeZone }).format(ms);
}

/** A category id such as `household.appliance-parts.water-filter` as words: "Water filter". */
export function categoryText(id: string): string {
  const last = id.split('.').at(-1) ?? id;
  const words = last.replace(/[-_]+/g, ' ').trim();
  return words ? words[0]!.toUpperCase() + words.slice(1) : id;
}
