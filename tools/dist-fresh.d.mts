/** lib/src .ts files whose compiled .js in `distDir` is missing or older than the source. */
export function staleSources(srcDir: string, distDir: string): string[];
