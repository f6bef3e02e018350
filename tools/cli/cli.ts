// What the command-line tools share: flags parsed one way (node's parseArgs, strict), `--help` printing the usage on
// stdout with exit 0, usage errors exiting 2 with the usage text on stderr, other errors exiting 1 with one line.
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { makeDirs, writeFileAtomic } from "cnn-lab";
import { stopWithLauncher } from "../stop-with-launcher.mjs";

export class UsageError extends Error {}
/** `--help`: not an error; runCli prints the usage on stdout and exits 0. */
export class HelpRequested extends UsageError {}

/**
 * Runs a CLI's main; `exit: true` ends the process with its code (for tools whose sockets could keep it alive).
 * The tool stops as on SIGTERM when npm (or whatever launched it) is gone.
 */
export function runCli(main: (argv: string[]) => Promise<number>, usage: string, opts: { exit?: boolean } = {}): void {
  stopWithLauncher();
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e) => {
      if (e instanceof HelpRequested) {
        console.log(usage);
        process.exitCode = 0;
      } else if (e instanceof UsageError) {
        if (e.message) console.error(`error: ${e.message}`);
        console.error(usage);
        process.exitCode = 2;
      } else {
        console.error(`error: ${(e as Error).message}`);
        process.exitCode = 1;
      }
    },
  ).finally(() => {
    if (opts.exit) process.exit();
  });
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses `argv` strictly against `options` (plus --help, which throws HelpRequested); anything unknown or
 * malformed is a UsageError naming it. A negative number after a flag is taken as its value, so it gets the
 * flag's range message rather than "ambiguous argument".
 */
export function parseFlags<O extends Options>(argv: string[], options: O, allowPositionals = false) {
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv), options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals });
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]);
  }
  if ((parsed.values as { help?: boolean }).help) throw new HelpRequested();
  return parsed as unknown as { values: { [K in keyof O]?: O[K]["type"] extends "boolean" ? boolean : string }; positionals: string[] };
}

/** `--epochs -3` → `--epochs=-3`. */
export function joinNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (/^--[a-z-]+$/.test(argv[i]) && /^-\d/.test(argv[i + 1] ?? "")) out.push(`${argv[i]}=${argv[++i]}`);
    else out.push(argv[i]);
  }
  return out;
}

/**
 * A whole-number flag value in [min, max] (`fallback` when the flag is absent); anything else, including a number
 * too large to be stored exactly (2^53 and beyond), is a usage error.
 */
export function intOption(name: string, v: string | undefined, min: number, fallback?: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    const tooLarge = /^-?\d+$/.test(v.trim()) && n > min;
    const range = max === Number.MAX_SAFE_INTEGER && !tooLarge ? `>= ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`--${name} must be a whole number ${range}, got "${v}"`);
  }
  return n;
}

/** Writes `doc` as JSON to `file` through a temp name in the same folder, so a reader never sees half a file. */
export function writeJson(file: string, doc: unknown): void {
  makeDirs(path.dirname(file), `the folder of ${file}`);
  writeFileAtomic(file, JSON.stringify(doc, null, 1) + "\n");
}
