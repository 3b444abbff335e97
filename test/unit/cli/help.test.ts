import { describe, expect, it } from 'vitest';
import { commands } from '../../../src/cli/commands.js';
import { terminalWidth, wrap } from '../../../src/cli/format.js';
import { commandHelp, helpText } from '../../../src/cli/main.js';

const longest = (text: string) => Math.max(...text.split('\n').map((l) => l.length));

describe('help text', () => {
  it.each([40, 60, 80, 120])('fits every line of sluice --help and each command help in %i columns', (width) => {
    expect(longest(helpText(width))).toBeLessThanOrEqual(width);
    for (const c of commands) expect(longest(commandHelp(c, width)), c.name).toBeLessThanOrEqual(width);
  });

  it('keeps every word of each usage and summary, in order', () => {
    const text = helpText(60);
    for (const c of commands) {
      expect(text.replace(/\s+/g, ' ')).toContain(` ${c.usage} ${c.summary}`);
    }
  });

  it('indents continuation lines under the first (hanging indentation)', () => {
    expect(wrap('aaa bbb ccc ddd', 9, '  ', '    ')).toBe('  aaa bbb\n    ccc\n    ddd');
    expect(wrap('x'.repeat(12), 8, '', '  ')).toBe('xxxxxxxx\n  xxxx');
    expect(wrap('', 10, '  ')).toBe('  ');
  });

  it('wraps to 80 columns when output is not a terminal', () => {
    expect(terminalWidth({})).toBe(80);
    expect(terminalWidth({ columns: 132 })).toBe(132);
  });
});
