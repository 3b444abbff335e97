import { isObject } from './json.js';

/**
 * The value_template forms seen in real discovery configs, and nothing more:
 *   {{ value }}  {{ value_json.a.b }}  {{ value_json['a'] }}  {{ value_json.a[0] }}
 * followed by filters (float, int, round(n), multiply(x), lower, upper, trim, string,
 * float(default), int(default)) and simple arithmetic with a number (`| float / 1000`).
 * Anything else is unsupported: flagged on the device, never guessed.
 */
export type Template = { ok: true; steps: Expr } | { ok: false; reason: string };
export type Rendered = { ok: true; value: string | number } | { ok: false; reason: string };

type Key = string | number;
interface Filter {
  name: string;
  args: (number | string)[];
}
interface Expr {
  source: 'value' | 'value_json';
  path: Key[];
  filters: Filter[];
  arithmetic: { op: '*' | '/' | '+' | '-'; operand: number }[];
}

const FILTERS = new Set(['float', 'int', 'round', 'multiply', 'lower', 'upper', 'trim', 'string']);

type Token = { t: 'id' | 'num' | 'str' | 'punct'; v: string };

function tokenise(s: string): Token[] | undefined {
  const out: Token[] = [];
  const re = /\s*(?:([A-Za-z_][A-Za-z0-9_]*)|(\d+(?:\.\d+)?)|'([^'\\]*)'|"([^"\\]*)"|([.[\]|(),*/+-]))/y;
  let i = 0;
  while (i < s.length) {
    if (/^\s*$/.test(s.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m) return undefined;
    i = re.lastIndex;
    if (m[1] !== undefined) out.push({ t: 'id', v: m[1] });
    else if (m[2] !== undefined) out.push({ t: 'num', v: m[2] });
    else if (m[3] !== undefined) out.push({ t: 'str', v: m[3] });
    else if (m[4] !== undefined) out.push({ t: 'str', v: m[4] });
    else out.push({ t: 'punct', v: m[5]! });
  }
  return out;
}

/** Parses a template once, at discovery time, so an unsupported form is known before any state. */
export function compileTemplate(template: string): Template {
  const whole = /^\s*\{\{(.*)\}\}\s*$/s.exec(template);
  if (!whole || whole[1]!.includes('{{') || whole[1]!.includes('}}')) return { ok: false, reason: 'not a single {{ … }} expression' };
  const toks = tokenise(whole[1]!);
  if (!toks || toks.length === 0) return { ok: false, reason: 'unrecognised characters' };
  let p = 0;
  const peek = () => toks[p];
  const take = () => toks[p++];
  const fail = (reason: string): Template => ({ ok: false, reason });
  const first = take();
  if (!first || first.t !== 'id' || (first.v !== 'value' && first.v !== 'value_json')) return fail('only value and value_json are supported');
  const expr: Expr = { source: first.v, path: [], filters: [], arithmetic: [] };
  while (peek()?.v === '.' || peek()?.v === '[') {
    if (expr.source === 'value') return fail('value has no fields');
    const open = take()!;
    if (open.v === '.') {
      const id = take();
      if (!id || id.t !== 'id') return fail('expected a field name after .');
      expr.path.push(id.v);
    } else {
      const k = take();
      if (!k || (k.t !== 'str' && k.t !== 'num') || take()?.v !== ']') return fail('expected [\'key\'] or [n]');
      expr.path.push(k.t === 'num' ? Number(k.v) : k.v);
    }
  }
  while (peek()?.v === '|') {
    take();
    const name = take();
    if (!name || name.t !== 'id' || !FILTERS.has(name.v)) return fail(`filter ${name?.v ?? '?'} is not supported`);
    const f: Filter = { name: name.v, args: [] };
    if (peek()?.v === '(') {
      take();
      while (peek() && peek()!.v !== ')') {
        const a = take()!;
        if (a.t === 'num') f.args.push(Number(a.v));
        else if (a.t === 'str') f.args.push(a.v);
        else return fail(`argument ${a.v} of ${f.name} is not supported`);
        if (peek()?.v === ',') take();
      }
      if (take()?.v !== ')') return fail('unclosed (');
    }
    expr.filters.push(f);
  }
  while (peek() && ['*', '/', '+', '-'].includes(peek()!.v)) {
    const op = take()!.v as '*' | '/' | '+' | '-';
    const n = take();
    if (!n || n.t !== 'num') return fail('arithmetic needs a number');
    expr.arithmetic.push({ op, operand: Number(n.v) });
  }
  if (p !== toks.length) return fail(`unexpected ${toks[p]!.v}`);
  return { ok: true, steps: expr };
}

function toNumber(v: unknown, fallback: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  if (Number.isFinite(n)) return n;
  return typeof fallback === 'number' ? fallback : undefined;
}

/** Renders a compiled template against a payload; a missing field is a reason, not a guess. */
export function renderTemplate(tpl: Template, payload: string): Rendered {
  if (!tpl.ok) return { ok: false, reason: tpl.reason };
  const e = tpl.steps;
  let v: unknown;
  if (e.source === 'value') v = payload;
  else {
    try {
      v = JSON.parse(payload) as unknown;
    } catch {
      return { ok: false, reason: 'value_json: payload is not JSON' };
    }
    for (const k of e.path) {
      if (typeof k === 'number' ? Array.isArray(v) && k < v.length : isObject(v) && Object.hasOwn(v, k)) v = (v as Record<string | number, unknown>)[k];
      else return { ok: false, reason: `value_json has no ${String(k)}` };
    }
  }
  for (const f of e.filters) {
    switch (f.name) {
      case 'float':
      case 'int': {
        const n = toNumber(v, f.args[0]);
        if (n === undefined) return { ok: false, reason: `${JSON.stringify(v)} is not a number` };
        v = f.name === 'int' ? Math.trunc(n) : n;
        break;
      }
      case 'round': {
        const n = toNumber(v, undefined);
        if (n === undefined) return { ok: false, reason: `${JSON.stringify(v)} is not a number` };
        const digits = typeof f.args[0] === 'number' ? f.args[0] : 0;
        v = Number(n.toFixed(digits));
        break;
      }
      case 'multiply': {
        const n = toNumber(v, undefined);
        if (n === undefined || typeof f.args[0] !== 'number') return { ok: false, reason: 'multiply needs numbers' };
        v = n * f.args[0];
        break;
      }
      case 'lower':
      case 'upper':
      case 'trim':
      case 'string': {
        const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
        v = f.name === 'lower' ? s.toLowerCase() : f.name === 'upper' ? s.toUpperCase() : f.name === 'trim' ? s.trim() : s;
        break;
      }
    }
  }
  for (const a of e.arithmetic) {
    const n = toNumber(v, undefined);
    if (n === undefined) return { ok: false, reason: `${JSON.stringify(v)} is not a number` };
    v = a.op === '*' ? n * a.operand : a.op === '/' ? n / a.operand : a.op === '+' ? n + a.operand : n - a.operand;
  }
  if (typeof v === 'number' || typeof v === 'string') return { ok: true, value: v };
  // Jinja renders booleans as True/False; HA compares that text with payload_on/off.
  if (typeof v === 'boolean') return { ok: true, value: v ? 'True' : 'False' };
  return { ok: false, reason: 'the template renders an object or nothing' };
}
