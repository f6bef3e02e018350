// Run by `npm install` (postinstall): tslab 1.0.22 answers a badly signed message by writing the signature it
// expected ("invalid hmac …; want <hex>") to the kernel's output, and compares signatures with `==`. The kernel
// listens on 127.0.0.1 only, so this is local; the patch makes it compare in constant time and say nothing more
// than "invalid message signature". Idempotent; another tslab version is left alone with a note.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const ORIGINAL = `        const hex = hash.digest("hex");
        if (hex == hmac) {
            return;
        }
        throw new Error(\`invalid hmac \${hmac}; want \${hex}\`);`;
const PATCHED = `        // patched by cnn-basics-ts tools/patch-tslab.mjs: constant-time, and the expected signature is not echoed
        const want = Buffer.from(hash.digest("hex"));
        const got = Buffer.from(String(hmac));
        if (got.length === want.length && (0, crypto_1.timingSafeEqual)(got, want)) {
            return;
        }
        throw new Error("invalid message signature: message ignored");`;

const file = join(dirname(createRequire(import.meta.url).resolve("tslab/package.json")), "dist", "jupyter.js");
const src = readFileSync(file, "utf8");
if (src.includes(PATCHED)) {
  console.log(`tslab signature check already patched (${file})`);
} else if (src.includes(ORIGINAL)) {
  writeFileSync(file, src.replace(ORIGINAL, PATCHED));
  console.log(`tslab signature check patched: constant-time, expected signature not echoed (${file})`);
} else {
  console.log(`note: tslab's signature check is not the 1.0.22 code this project patches; left unpatched (${file})`);
}
