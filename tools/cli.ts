// What the command-line tools share: usage errors exit 2 with the usage text, other errors exit 1 with one line.
export class UsageError extends Error {}

export function runCli(main: (argv: string[]) => Promise<number>, usage: string): void {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e) => {
      if (e instanceof UsageError) {
        if (e.message) console.error(`error: ${e.message}`);
        console.error(usage);
        process.exitCode = 2;
      } else {
        console.error(`error: ${(e as Error).message}`);
        process.exitCode = 1;
      }
    },
  );
}

/** A whole-number flag value >= min (`fallback` when the flag is absent); anything else is a usage error. */
export function intOption(name: string, v: string | undefined, min: number, fallback?: number): number | undefined {
  if (v === undefined) return fallback;
  if (!/^-?\d+$/.test(v.trim()) || Number(v) < min) {
    throw new UsageError(`--${name} must be a whole number >= ${min}, got "${v}"`);
  }
  return Number(v);
}
