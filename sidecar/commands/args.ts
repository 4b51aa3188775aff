// Flag parsing for the subcommands: node's util.parseArgs for the syntax, then each value converted and
// checked, so a bad flag gets a sentence naming it and the allowed values (exit 2), never a silent default.
import { parseArgs } from 'node:util';
import { UserError } from '../errors';

export type FlagKind = 'string' | 'number' | 'int' | 'boolean';
export interface FlagSpec {
  kind: FlagKind;
  /** Checks a converted value; returns the reason it is wrong ("must be in (0, 1]"), or undefined. */
  check?: (value: number | string) => string | undefined;
}
export type FlagValues = Record<string, string | number | boolean | undefined>;

export function parseFlags(args: string[], specs: Record<string, FlagSpec>, positionals = false): { flags: FlagValues; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, spec] of Object.entries(specs)) options[name] = { type: spec.kind === 'boolean' ? 'boolean' : 'string' };
  // `--lr -1` means the value -1 (as argparse reads it), not a flag: join negative numbers to their flag.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith('--') ? args[i].slice(2) : '';
    if (name && specs[name] && specs[name].kind !== 'boolean' && i + 1 < args.length && /^-(\d|\.\d|Infinity)/.test(args[i + 1])) {
      joined.push(`${args[i]}=${args[i + 1]}`);
      i++;
    } else joined.push(args[i]);
  }
  let parsed;
  try {
    parsed = parseArgs({ args: joined, options, strict: true, allowPositionals: positionals });
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UserError('bad_usage', `${msg}; run with --help for the flags`);
  }
  const flags: FlagValues = {};
  for (const [name, raw] of Object.entries(parsed.values)) {
    const spec = specs[name];
    if (spec.kind === 'boolean') {
      flags[name] = raw as boolean;
      continue;
    }
    const text = String(raw);
    let value: string | number = text;
    if (spec.kind === 'number' || spec.kind === 'int') {
      value = text.trim() === '' ? NaN : Number(text);
      if (!Number.isFinite(value)) throw new UserError('bad_usage', `--${name} must be a number, got '${text}'`);
      if (spec.kind === 'int' && !Number.isInteger(value)) throw new UserError('bad_usage', `--${name} must be an integer, got '${text}'`);
    }
    const why = spec.check?.(value);
    if (why) throw new UserError('bad_usage', `--${name} ${why.replace(/^\S+ /, '')}`);
    flags[name] = value;
  }
  return { flags, positionals: parsed.positionals };
}
