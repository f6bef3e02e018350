/** lib/src .ts files whose compiled .js in `distDir` is missing or older than the source. */
export function staleSources(srcDir: string, distDir: string): string[];
/** Compiled files in `distDir` (.js, .d.ts and their maps) whose .ts source in `srcDir` no longer exists. */
export function orphanOutputs(srcDir: string, distDir: string): string[];
