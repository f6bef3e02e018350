// `npm run test:unit`: node's test runner on every test/*.test.ts (Node 20's --test does not expand globs itself).
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runChild } from "./run-child.mjs";

const dir = join(dirname(dirname(fileURLToPath(import.meta.url))), "test");
const files = readdirSync(dir).filter((f) => f.endsWith(".test.ts")).sort().map((f) => join(dir, f));
const r = await runChild(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=1", ...files, ...process.argv.slice(2)]);
process.exit(r.status ?? 1);
