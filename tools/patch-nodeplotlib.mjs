// Run by `npm install` (postinstall): nodeplotlib 1.1.2 (train --plot) starts its NestJS server with
// `app.listen(port)`, which listens on every interface: anyone on the network could read the training curves and
// drive its socket. The patch binds it to 127.0.0.1. Idempotent; nodeplotlib is optional (absent: nothing to do);
// another version is left alone with a note.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const ORIGINAL = "        yield app.listen(port);\n";
const PATCHED = "        yield app.listen(port, '127.0.0.1'); // patched by cnn-basics-ts tools/patch-nodeplotlib.mjs: this machine only\n";

let pkg;
try {
  pkg = createRequire(import.meta.url).resolve("nodeplotlib/package.json");
} catch {
  console.log("nodeplotlib not installed (optional): nothing to patch");
  process.exit(0);
}
const file = join(dirname(pkg), "src", "lib", "nodeplotlib.js");
const src = existsSync(file) ? readFileSync(file, "utf8") : "";
if (src.includes(PATCHED)) {
  console.log(`nodeplotlib already listens on 127.0.0.1 only (${file})`);
} else if (src.includes(ORIGINAL)) {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, src.replace(ORIGINAL, PATCHED));
  renameSync(tmp, file);
  console.log(`nodeplotlib patched: its server listens on 127.0.0.1 only (${file})`);
} else {
  console.log(`note: nodeplotlib is not the 1.1.2 code this project patches; its server may listen on every interface (${file})`);
}
