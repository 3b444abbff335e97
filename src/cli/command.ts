import type { ParseArgsConfig } from 'node:util';
import type { SluiceConfig } from '../config/index.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface CommandInput {
  args: string[];
  flags: Record<string, string | boolean | undefined>;
  config: () => Readonly<SluiceConfig>;
  print: (text: string) => void;
}

export interface Command {
  name: string;
  usage: string;
  summary: string;
  options: Options;
  args: number;
  /** Only `start` knows this flag; others reject it. */
  run(input: CommandInput): Promise<number>;
}

/** A string flag's value; a string option given without a value counts as not given, as it always did. */
export function text(flag: string | boolean | undefined): string | undefined {
  return typeof flag === 'string' ? flag : undefined;
}
