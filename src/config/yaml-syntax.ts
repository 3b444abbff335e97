import type { LineCounter, YAMLError } from 'yaml';

/** A YAML syntax problem as it is reported: line, column (1-based) and a message. */
export interface SyntaxProblem {
  line: number;
  col: number;
  message: string;
}

const INDENT_CODES = new Set(['BAD_INDENT', 'BLOCK_AS_IMPLICIT_KEY', 'MULTILINE_IMPLICIT_KEY', 'MISSING_CHAR', 'UNEXPECTED_TOKEN']);

/**
 * The parser's errors as a household can act on them. A tab or a wrong indent makes the
 * parser report a cascade of follow-on errors, often on the line before; so each tab is one
 * problem at its own line, and the first indentation problem is one problem at the line that
 * is indented wrongly, with the cascade dropped.
 */
export function syntaxIssues(errors: readonly YAMLError[], text: string, lc: LineCounter): SyntaxProblem[] {
  const lines = text.split(/\r?\n/);
  const tabs: SyntaxProblem[] = [];
  lines.forEach((l, i) => {
    const lead = /^[ \t]*/.exec(l)![0];
    if (lead.includes('\t') && l.trim() !== '') tabs.push({ line: i + 1, col: lead.indexOf('\t') + 1, message: 'a tab is used for indentation; YAML indents with spaces only' });
  });
  if (tabs.length > 0) return tabs;
  const indent = errors.find((e) => INDENT_CODES.has(e.code));
  if (indent) {
    const at = lc.linePos(indent.pos[0]);
    // The parser notices a too-deep line at the end of the line before; point at the culprit.
    const culprit = indent.code === 'BAD_INDENT' ? at.line : nextIndentChange(lines, at.line);
    const l = lines[culprit - 1] ?? '';
    const col = (/^ */.exec(l)![0].length || 0) + 1;
    return [{ line: culprit, col, message: `bad indentation: this line is not aligned with the keys above it (${indent.message.split('\n')[0]})` }];
  }
  return errors.map((e) => {
    const { line, col } = lc.linePos(e.pos[0]);
    return { line, col, message: e.message.split('\n')[0] ?? e.message };
  });
}

/** The first non-blank line after `line` whose indentation differs from it (or `line` itself). */
function nextIndentChange(lines: readonly string[], line: number): number {
  const width = (l: string) => /^ */.exec(l)![0].length;
  const here = lines[line - 1] ?? '';
  for (let i = line; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.trim() === '' || l.trim().startsWith('#')) continue;
    return width(l) !== width(here) ? i + 1 : line;
  }
  return line;
}
