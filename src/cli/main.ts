import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import { SluiceError, isSluiceError } from '../core/index.js';
import type { Command } from './command.js';
import { commands } from './commands.js';
import { commandList, terminalWidth, wrap } from './format.js';

const GLOBAL_OPTIONS = {
  data: { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function helpText(width = terminalWidth()): string {
  return [
    wrap('sluice — a privacy-first home data gateway', width),
    '',
    wrap('Usage: sluice <command> [options]', width),
    '',
    commandList(commands, width),
    '',
    wrap('Every command takes --data DIR and --config FILE, and --help. See docs/cli.md.', width),
  ].join('\n');
}

export function commandHelp(c: Command, width = terminalWidth()): string {
  return [wrap(`Usage: sluice ${c.usage} [--data DIR] [--config FILE]`, width, '', '    '), '', wrap(c.summary, width)].join('\n');
}

/** Runs the CLI; returns the exit status: 0 ok, 1 runtime failure, 2 bad input or config. */
export async function run(argv: string[], print: (text: string) => void = (t) => process.stdout.write(`${t}\n`)): Promise<number> {
  const printError = (t: string) => process.stderr.write(`${t}\n`);
  const allOptions = Object.assign({}, GLOBAL_OPTIONS, ...commands.map((c) => c.options)) as typeof GLOBAL_OPTIONS;
  const words = parseArgs({ args: argv, options: allOptions, allowPositionals: true, strict: false }).positionals;
  // Longest name first, so `devices add` wins over a one-word command.
  const byLength = [...commands].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length);
  const command = byLength.find((c) => c.name.split(' ').every((w, i) => words[i] === w));
  if (!command) {
    if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
      print(helpText());
      return argv.length === 0 ? 2 : 0;
    }
    printError(`sluice: unknown command "${words.join(' ')}"\n\n${helpText()}`);
    return 2;
  }
  try {
    const parsed = parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
    const args = parsed.positionals.slice(command.name.split(' ').length);
    const flags = parsed.values as Record<string, string | boolean | undefined>;
    if (flags.help) {
      print(commandHelp(command));
      return 0;
    }
    if (args.length !== command.args) {
      throw new SluiceError('SLUICE_ERR_USAGE', `expected ${command.args} argument(s) after "${command.name}", got ${args.length}\n${commandHelp(command)}`);
    }
    const config = () => loadConfig({ file: flags.config as string | undefined, flags: configFlags(flags) });
    return await command.run({ args, flags, config, print });
  } catch (err) {
    if (isSluiceError(err)) {
      printError(`sluice: ${err.code} ${err.message}`);
      return err.exitCode;
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      printError(`sluice: SLUICE_ERR_USAGE ${(err as Error).message}\n${commandHelp(command)}`);
      return 2;
    }
    printError(`sluice: unexpected failure: ${(err as Error).stack ?? String(err)}`);
    return 1;
  }
}

function configFlags(flags: Record<string, string | boolean | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof flags.data === 'string') out.data_dir = flags.data;
  if (typeof flags['mqtt-port'] === 'string') {
    const port = Number(flags['mqtt-port']);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SluiceError('SLUICE_ERR_USAGE', `--mqtt-port must be a port number 0–65535; got "${flags['mqtt-port']}"`);
    out['mqtt.port'] = port;
  }
  if (typeof flags['web-port'] === 'string') {
    const port = Number(flags['web-port']);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SluiceError('SLUICE_ERR_USAGE', `--web-port must be a port number 0–65535; got "${flags['web-port']}"`);
    out['web.port'] = port;
  }
  if (typeof flags['mqtt-host'] === 'string') out['mqtt.host'] = flags['mqtt-host'];
  return out;
}
