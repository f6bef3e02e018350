// The HTML book in a real browser: every run of Hangul on every page must render in the NanumGothic the book carries,
// not in whatever the machine has (a bare one has no CJK font and shows boxes). Chrome's DevTools protocol names
// the font each text node actually used (CSS.getPlatformFontsForNode), so this holds with or without system CJK fonts.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, test } from "node:test";
import { chromiumMissing, launchChromium } from "../tools/chromium";
import { buildBook } from "../tools/book/book";
import { listNotebooks } from "../tools/jupyter/nbrun";

const root = join(__dirname, "..");
const skip = chromiumMissing() ?? false;
// In the page (plain JS: the project compiles without DOM types): each run of Hangul into its own span, styled
// like its parent, so the fonts reported for the spans are Hangul's alone; resolves to the number of spans.
const SPLIT_HANGUL = `(async () => {
  await document.fonts.ready;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const nodes = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) if (/[\uac00-\ud7a3]/.test(n.nodeValue)) nodes.push(n);
  for (const node of nodes) {
    const frag = document.createDocumentFragment();
    let last = 0;
    for (const m of node.nodeValue.matchAll(/[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]+/g)) {
      frag.append(node.nodeValue.slice(last, m.index));
      const span = document.createElement("span");
      span.dataset.hangul = "";
      span.textContent = m[0];
      frag.append(span);
      last = m.index + m[0].length;
    }
    frag.append(node.nodeValue.slice(last));
    node.replaceWith(frag);
  }
  await document.fonts.ready;
  return document.querySelectorAll("[data-hangul]").length;
})()`;

let dir: string;
before(() => { mkdirSync(join(root, "test", ".tmp"), { recursive: true }); dir = mkdtempSync(join(root, "test", ".tmp", "font-")); });
after(() => rmSync(dir, { recursive: true, force: true }));

test("every page of the book renders its Hangul in the embedded NanumGothic, opened offline from file://", { skip }, async () => {
  const index = await buildBook(listNotebooks([]), join(dir, "book"), { log: () => {} });
  const pages = readdirSync(join(dir, "book")).filter((f) => f.endsWith(".html")).sort();
  assert.ok(pages.length >= 2 && pages.includes("index.html"));
  const browser = await launchChromium(join(dir, "profile"));
  try {
    const page = await browser.newPage();
    const cdp = await page.createCDPSession();
    const wrong: string[] = [];
    for (const file of pages) {
      await page.goto(pathToFileURL(join(dir, "book", file)).href, { waitUntil: "load" });
      // The drawing page rewrites its status once the model has loaded: split its text after that.
      await page.waitForFunction(`document.body.dataset.state !== "loading"`);
      const runs = (await page.evaluate(SPLIT_HANGUL)) as number;
      assert.ok(runs > 0, `${file}: no Hangul found`);
      const { root: doc } = await cdp.send("DOM.getDocument", { depth: -1 });
      await cdp.send("CSS.enable");
      const { nodeIds } = await cdp.send("DOM.querySelectorAll", { nodeId: doc.nodeId, selector: "[data-hangul]" });
      assert.equal(nodeIds.length, runs);
      const used = new Map<string, number>();
      for (const nodeId of nodeIds) {
        const { fonts } = await cdp.send("CSS.getPlatformFontsForNode", { nodeId });
        for (const f of fonts) {
          const key = `${f.familyName}${f.isCustomFont ? " (web font)" : " (system font)"}`;
          used.set(key, (used.get(key) ?? 0) + f.glyphCount);
        }
      }
      const others = [...used].filter(([k]) => k !== "NanumGothic (web font)");
      if (!used.size || others.length) wrong.push(`${file}: Hangul rendered in ${[...used].map(([k, n]) => `${k} ×${n}`).join(", ") || "nothing"}`);
    }
    assert.deepEqual(wrong, [], `Hangul must render in the book's NanumGothic (${index})`);
  } finally {
    await browser.close();
  }
});
