// Writes the TypeScript kernelspec into the project's git-ignored .jupyter/ folder, without Python.
// `npm start` and the notebook runner point JUPYTER_PATH at .jupyter so nothing global is touched.
// The kernel is the project's own Jupyter front (tools/kernel/main.mjs) around tslab's TypeScript converter; the
// folder keeps the name `tslab` so notebooks' kernelspec metadata (name "tslab") still finds it.
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../lib/dist/checkpoints/atomic-write.js"; // built by postinstall just before

const root = dirname(dirname(fileURLToPath(import.meta.url)));
createRequire(import.meta.url).resolve("tslab/package.json"); // fail here, not at the first notebook, without tslab
const kernelMain = join(root, "tools", "kernel", "main.mjs");
const dir = join(root, ".jupyter", "kernels", "tslab");
mkdirSync(dir, { recursive: true });
const spec = {
  argv: [process.execPath, kernelMain, "{connection_file}"],
  interrupt_mode: "signal", // SIGINT: the only way to stop a cell's synchronous loop (see tools/kernel/cells.mjs)
  display_name: "TypeScript",
  language: "typescript",
};
writeFileAtomic(join(dir, "kernel.json"), JSON.stringify(spec, null, 2) + "\n");
console.log(`tslab kernelspec written to ${dir} (use JUPYTER_PATH=${join(root, ".jupyter")})`);
