/** Renders rows as an aligned plain-text table. */
export function table(headers: string[], rows: Array<Array<string | number | boolean | null | undefined>>): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** A time in the household's timezone, readable: `2026-11-23 14:05:09 +01:00`. */
export function localTime(iso: string, timeZone: string): string {
  const d = new Date(iso);
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
    timeZoneName: 'longOffset',
  }).formatToParts(d);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  const offset = get('timeZoneName').replace('GMT', '') || '+00:00';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}:${get('second')} ${offset}`;
}

/** The width help text wraps to: the terminal's, or 80 when output is not a terminal. */
export function terminalWidth(stream: { columns?: number | undefined } = process.stdout): number {
  // Below 40 columns hanging indentation leaves too little room to read.
  return Math.max(40, stream.columns && stream.columns > 0 ? stream.columns : 80);
}

/**
 * Wraps text at spaces to lines of at most `width` characters: the first line starts with
 * `indent`, the rest with `hang` (hanging indentation). A word longer than a line is split.
 */
export function wrap(text: string, width: number, indent = '', hang = indent): string {
  const lines: string[] = [];
  let line = indent;
  let empty = true;
  for (let word of text.split(/\s+/).filter(Boolean)) {
    for (;;) {
      const room = width - line.length - (empty ? 0 : 1);
      if (word.length <= room) {
        line += (empty ? '' : ' ') + word;
        empty = false;
        break;
      }
      if (!empty) {
        lines.push(line);
        line = hang;
        empty = true;
        continue;
      }
      // Only a word wider than a whole line gets here.
      line += word.slice(0, room);
      word = word.slice(room);
      lines.push(line);
      line = hang;
    }
  }
  if (!empty || lines.length === 0) lines.push(line);
  return lines.join('\n');
}

/** The command list of `sluice --help`: each usage wrapped with a hanging indent, its summary beneath. */
export function commandList(commands: ReadonlyArray<{ usage: string; summary: string }>, width: number): string {
  return commands.map((c) => `${wrap(c.usage, width, '  ', '        ')}\n${wrap(c.summary, width, '      ')}`).join('\n');
}
