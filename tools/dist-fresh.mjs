// Refuses to test an old build: notebooks, tools and tests import "cnn-lab" as compiled JS (lib/dist; tslab loads
// packages only as JS), so a lib/src file newer than its lib/dist output means the tests would run old code.
// `npm test` builds first; this guard (run before the unit tests and the notebook checks) catches a skipped build.
// tsc never deletes: a module moved or removed in lib/src leaves its old output in lib/dist, where a stale deep
// import ("cnn-lab/dist/checkpoint") would still find it. The guard refuses such orphans; `--prune` (npm run build)
// removes them, and only them: compiled files whose source is gone.
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** lib/src .ts files whose compiled .js in `distDir` is missing or older than the source. */
export function staleSources(srcDir, distDir) {
  const stale = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
        const out = join(distDir, relative(srcDir, file)).replace(/\.ts$/, ".js");
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(file).mtimeMs) stale.push(relative(srcDir, file));
      }
    }
  };
  walk(srcDir);
  return stale;
}

const OUTPUT = /\.(js|js\.map|d\.ts|d\.ts\.map)$/;

/** Compiled files in `distDir` (.js, .d.ts and their maps) whose .ts source in `srcDir` no longer exists. */
export function orphanOutputs(srcDir, distDir) {
  const orphans = [];
  const walk = (dir) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (OUTPUT.test(entry.name) && !existsSync(join(srcDir, relative(distDir, file)).replace(OUTPUT, ".ts"))) orphans.push(relative(distDir, file));
    }
  };
  walk(distDir);
  return orphans.sort();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const lib = join(dirname(dirname(fileURLToPath(import.meta.url))), "lib");
  const [src, dist] = [join(lib, "src"), join(lib, "dist")];
  const orphans = orphanOutputs(src, dist);
  if (process.argv.includes("--prune")) {
    for (const f of orphans) rmSync(join(dist, f));
    process.exit(0);
  }
  if (orphans.length) {
    console.error(`lib/dist holds output of modules no longer in lib/src (${orphans.slice(0, 3).join(", ")}${orphans.length > 3 ? ", …" : ""}): run \`npm run build\` (it removes them)`);
    process.exit(1);
  }
  const stale = staleSources(src, dist);
  if (stale.length) {
    console.error(`lib/dist is older than lib/src (${stale.slice(0, 3).join(", ")}${stale.length > 3 ? ", …" : ""}): run \`npm run build\` first (npm test does)`);
    process.exit(1);
  }
}
