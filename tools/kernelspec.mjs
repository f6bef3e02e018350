// Writes the tslab kernelspec into the project's git-ignored .jupyter/ folder, without Python.
// `npm start` and the notebook runner point JUPYTER_PATH at .jupyter so nothing global is touched.
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../lib/dist/atomic-write.js"; // built by postinstall just before

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const tslabBin = join(dirname(createRequire(import.meta.url).resolve("tslab/package.json")), "bin", "tslab");
const dir = join(root, ".jupyter", "kernels", "tslab");
mkdirSync(dir, { recursive: true });
const spec = {
  argv: [process.execPath, tslabBin, "kernel", "--config-path", "{connection_file}"],
  display_name: "TypeScript",
  language: "typescript",
};
writeFileAtomic(join(dir, "kernel.json"), JSON.stringify(spec, null, 2) + "\n");
console.log(`tslab kernelspec written to ${dir} (use JUPYTER_PATH=${join(root, ".jupyter")})`);
