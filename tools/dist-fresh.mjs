// Refuses to test an old build: notebooks, tools and tests import "cnn-lab" as compiled JS (lib/dist; tslab loads
// packages only as JS), so a lib/src file newer than its lib/dist output means the tests would run old code.
// `npm test` builds first; this guard (run before the unit tests and the notebook checks) catches a skipped build.
import { existsSync, readdirSync, statSync } from "node:fs";
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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const lib = join(dirname(dirname(fileURLToPath(import.meta.url))), "lib");
  const stale = staleSources(join(lib, "src"), join(lib, "dist"));
  if (stale.length) {
    console.error(`lib/dist is older than lib/src (${stale.slice(0, 3).join(", ")}${stale.length > 3 ? ", …" : ""}): run \`npm run build\` first (npm test does)`);
    process.exit(1);
  }
}
