import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { LineCounter, parseDocument, isMap, isPair, isScalar, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { SluiceError, type ErrorCode } from '../core/index.js';
import { didYouMean } from './did-you-mean.js';
import { syntaxIssues } from './yaml-syntax.js';

/** One problem in a YAML file, pinned to the line and column of the offending node. */
export interface YamlIssue {
  file: string;
  line: number;
  col: number;
  code: ErrorCode;
  path: string;
  message: string;
  lineText: string;
}

/** A YAML document parsed with positions, kept so callers can point at any node later. */
export interface PositionedYaml<T> {
  value: T;
  file: string;
  /** Line and column (1-based) of the node at a path, or of its nearest existing parent. */
  positionOf(path: ReadonlyArray<string | number>): { line: number; col: number };
  /** Whether the file itself wrote a value at a path (`value` also holds the schema's defaults). */
  has(path: ReadonlyArray<string | number>): boolean;
}

/**
 * Reads a YAML file and validates it with a strict zod schema. Every problem — syntax and
 * schema — is collected and thrown at once as one SluiceError whose message lists them as
 * `file:line:col CODE path: message` with the offending line beneath, sorted by line.
 */
export function loadYamlFile<S extends z.ZodType>(file: string, schema: S, code: ErrorCode): PositionedYaml<z.output<S>> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SluiceError(code, `${displayPath(file)}: cannot read: ${(err as Error).message}`, { file });
  }
  return parseYaml(text, file, schema, code);
}

export function parseYaml<S extends z.ZodType>(text: string, file: string, schema: S, code: ErrorCode): PositionedYaml<z.output<S>> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lines = text.split(/\r?\n/);
  const shown = displayPath(file);
  const issue = (offset: number, path: string, message: string): YamlIssue => {
    const { line, col } = lineCounter.linePos(offset);
    return { file: shown, line, col, code, path, message, lineText: lines[line - 1] ?? '' };
  };
  const positionOf = (path: ReadonlyArray<string | number>) => {
    const pos = lineCounter.linePos(offsetOf(doc, path));
    return { line: pos.line, col: pos.col };
  };

  if (doc.errors.length > 0) {
    const syntax = syntaxIssues(doc.errors, text, lineCounter).map((e) => ({ file: shown, line: e.line, col: e.col, code, path: '', message: e.message, lineText: lines[e.line - 1] ?? '' }));
    throw yamlError(code, shown, syntax);
  }

  const parsed = schema.safeParse(doc.toJS() ?? {});
  const has = (path: ReadonlyArray<string | number>) => doc.hasIn(path);
  if (parsed.success) return { value: parsed.data, file: shown, positionOf, has };
  const issues = parsed.error.issues.flatMap((zi) => {
    const path = zi.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (zi.code === 'unrecognized_keys') {
      const known = knownKeys(schema, path);
      return zi.keys.map((key) => issue(keyOffset(doc, path, key), formatPath([...path, key]), `unknown key "${key}"${didYouMean(key, known)}`));
    }
    return [issue(offsetOf(doc, path), formatPath(path), describeIssue(zi, doc, path))];
  });
  throw yamlError(code, shown, issues);
}

/** Formats issues as the CLI prints them: `file:line:col CODE path: message` and the line. */
export function formatYamlIssues(issues: readonly YamlIssue[]): string {
  return issues
    .map((i) => {
      const head = `${i.file}:${i.line}:${i.col} ${i.code} ${i.path ? `${i.path}: ` : ''}${i.message}`;
      return `${head}\n  ${i.lineText}\n  ${' '.repeat(Math.max(0, i.col - 1))}^`;
    })
    .join('\n');
}

function yamlError(code: ErrorCode, file: string, issues: YamlIssue[]): SluiceError {
  issues.sort((a, b) => a.line - b.line || a.col - b.col);
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
  return new SluiceError(code, `${file}: ${count}\n${formatYamlIssues(issues)}`, { issues });
}

function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') || rel === '' ? file : rel;
}

function formatPath(path: ReadonlyArray<string | number>): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

/** Offset of the node at path, walking up to the nearest parent that exists (a missing key). */
function offsetOf(doc: Document, path: ReadonlyArray<string | number>): number {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
    if (node && typeof node === 'object' && 'range' in node && node.range) return node.range[0];
  }
  return 0;
}

function keyOffset(doc: Document, path: ReadonlyArray<string | number>, key: string): number {
  const parent = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (isMap(parent)) {
    for (const item of parent.items) {
      if (isPair(item) && isScalar(item.key) && String(item.key.value) === key && item.key.range) return item.key.range[0];
    }
  }
  return offsetOf(doc, path);
}

function describeIssue(zi: z.core.$ZodIssue, doc: Document, path: ReadonlyArray<string | number>): string {
  const got = doc.getIn(path);
  const gotText = got === undefined ? 'nothing' : JSON.stringify(got);
  switch (zi.code) {
    case 'invalid_value':
      return `expected one of ${zi.values.map((v) => String(v)).join(', ')}, got ${gotText}${typeof got === 'string' ? didYouMean(got, zi.values.map((v) => String(v))) : ''}`;
    case 'invalid_type':
      return got === undefined ? `required ${zi.expected} is missing` : `expected ${zi.expected}, got ${gotText}`;
    case 'invalid_union': {
      // Report the branch that accepted the value's type (its message is the useful one).
      const branches = zi.errors.flat();
      const specific = branches.find((b) => b.code !== 'invalid_type');
      if (specific) return describeIssue(specific, doc, path);
      const expected = branches.flatMap((b) => (b.code === 'invalid_type' ? [b.expected] : []));
      return `expected ${[...new Set(expected)].join(' or ')}, got ${gotText}`;
    }
    default:
      return zi.message;
  }
}

/** The keys an object schema at this path accepts (for "did you mean"); [] when it cannot tell. */
function knownKeys(schema: z.ZodType, path: ReadonlyArray<string | number>): string[] {
  let node: unknown = schema;
  const unwrap = (n: unknown): unknown => {
    for (let k = 0; k < 20; k++) {
      const def = (n as { _zod?: { def?: Record<string, unknown> } })?._zod?.def;
      if (!def) return n;
      if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'readonly' || def.type === 'prefault') n = def.innerType;
      else if (def.type === 'pipe') n = def.in;
      else return n;
    }
    return n;
  };
  for (const p of path) {
    node = unwrap(node);
    const def = (node as { _zod: { def: Record<string, unknown> } })._zod.def;
    if (typeof p === 'number' && def.type === 'array') node = def.element;
    else if (typeof p === 'string' && def.type === 'object') node = (def.shape as Record<string, unknown>)[p];
    else return [];
    if (node === undefined) return [];
  }
  const def = (unwrap(node) as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
  return def?.type === 'object' ? Object.keys(def.shape as Record<string, unknown>) : [];
}
