// `npm run test:unit`: node's test runner on every test/*.test.ts (Node 20's --test does not expand globs itself).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = join(dirname(dirname(fileURLToPath(import.meta.url))), "test");
const files = readdirSync(dir).filter((f) => f.endsWith(".test.ts")).sort().map((f) => join(dir, f));
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=1", ...files, ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(r.status ?? 1);
