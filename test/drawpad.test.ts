// The book's drawing page in a real browser, opened offline from file://: strokes drawn with the mouse get the same
// ten probabilities as `npm run predict` on the canvas exported as a PNG (the same preprocessing file, the same
// model), and an empty canvas asks for a digit instead of answering. DRAWPAD_SCREENSHOT=file.png keeps a screenshot.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, test } from "node:test";
import type { Page } from "puppeteer-core";
import { chromiumMissing, launchChromium } from "../tools/chromium";
import { SHIPPED_MODEL_DIR } from "cnn-lab/dist/checkpoints/shipped-model";
import { buildBook } from "../tools/book/book";
import { DRAW_PAGE } from "../tools/book/drawpad";
import { predictFile } from "../tools/cli/predict";

const root = join(__dirname, "..");
const skip = chromiumMissing()
  ?? (!existsSync(join(SHIPPED_MODEL_DIR, "model.json"))
    ? `no shipped model in ${SHIPPED_MODEL_DIR} (make one with npm run train, then npm run ship-model)`
    : false);

// Read in the page (plain JS: the project compiles without DOM types).
const READ = `(() => {
  const b = document.body.dataset;
  const top = document.querySelector("#prediction strong");
  return {
    state: b.state,
    text: document.getElementById("prediction").textContent,
    top: top ? Number(top.dataset.digit) : null,
    probs: Array.from(document.querySelectorAll("#bars .bar"), (e) => (e.dataset.prob === undefined ? null : Number(e.dataset.prob))),
    png: document.getElementById("pad").toDataURL("image/png"),
  };
})()`;
interface Shown { state: string; text: string; top: number | null; probs: (number | null)[]; png: string }

// The display is up to date when it shows the drawing's latest version.
const SETTLED = `document.body.dataset.state !== "loading" && document.body.dataset.shownVersion === document.body.dataset.inkVersion`;

let dir: string;
before(() => { mkdirSync(join(root, "test", ".tmp"), { recursive: true }); dir = mkdtempSync(join(root, "test", ".tmp", "drawpad-")); });
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Draws polylines given in the canvas's own 280x280 pixels with the mouse or a finger (the browser's own pointer
 * events, as a user's).
 */
async function draw(page: Page, strokes: [number, number][][], input: "mouse" | "touch"): Promise<void> {
  const box = (await (await page.$("#pad"))!.boundingBox())!;
  const at = ([x, y]: [number, number]) => [box.x + (x * box.width) / 280, box.y + (y * box.height) / 280] as const;
  const STEPS = 12;
  for (const stroke of strokes) {
    if (input === "mouse") {
      await page.mouse.move(...at(stroke[0]));
      await page.mouse.down();
      for (const p of stroke.slice(1)) await page.mouse.move(...at(p), { steps: STEPS });
    } else {
      await page.touchscreen.touchStart(...at(stroke[0]));
      for (let i = 1; i < stroke.length; i++) {
        const [a, b] = [stroke[i - 1], stroke[i]];
        for (let k = 1; k <= STEPS; k++) await page.touchscreen.touchMove(...at([a[0] + ((b[0] - a[0]) * k) / STEPS, a[1] + ((b[1] - a[1]) * k) / STEPS]));
      }
    }
    // It answers while the pointer is still down (throttled on pointermove), not only when it is lifted.
    await page.waitForFunction(SETTLED);
    assert.equal((await read(page)).state, "shown", `an answer while drawing (${input})`);
    if (input === "mouse") await page.mouse.up(); else await page.touchscreen.touchEnd();
  }
  await page.waitForFunction(SETTLED);
}

async function read(page: Page): Promise<Shown> {
  return (await page.evaluate(READ)) as Shown;
}

function assertEmpty(shown: Shown, when: string): void {
  assert.equal(shown.state, "empty", when);
  assert.match(shown.text, /숫자\(0–9\)를 하나 그려 보세요/, when);
  assert.equal(shown.top, null, `${when}: no answer shown`);
  assert.deepEqual(shown.probs, Array(10).fill(null), `${when}: no probabilities shown`);
}

/** The page's answer against `npm run predict`'s code path on the canvas's pixels as a PNG file. */
async function assertAgreesWithCli(shown: Shown, name: string): Promise<void> {
  assert.equal(shown.state, "shown", `${name}: ${shown.text}`);
  const file = join(dir, `${name}.png`);
  writeFileSync(file, Buffer.from(shown.png.replace(/^data:image\/png;base64,/, ""), "base64"));
  const cli = await predictFile(file);
  const probs = shown.probs as number[];
  assert.equal(probs.length, 10);
  probs.forEach((p, d) => assert.ok(Math.abs(p - cli.probs[d]) <= 1e-4, `${name}: digit ${d}: page ${p}, npm run predict ${cli.probs[d]}`));
  const cliTop = Array.from(cli.probs).indexOf(Math.max(...cli.probs));
  assert.equal(shown.top, cliTop, `${name}: the page's answer is npm run predict's`);
  assert.match(shown.text, new RegExp(`모델의 답: ${cliTop} \\(확률 [0-9.]+%\\)`));
}

const hasModel = existsSync(join(SHIPPED_MODEL_DIR, "model.json"));

test("every book page links draw.html, whose scripts are all in the book: TF.js, lib/dist/data/digit-image.js unchanged, the model", { skip: hasModel ? false : `no shipped model in ${SHIPPED_MODEL_DIR}` }, async () => {
  const out = join(dir, "static");
  const index = await buildBook([join(root, "notebooks", "02-valid-same.ipynb")], out, { log: () => {} });
  for (const file of [index, join(out, "02-valid-same.html")]) assert.match(readFileSync(file, "utf8"), /<a href="draw\.html">/, file);
  const html = readFileSync(join(out, DRAW_PAGE), "utf8");
  const scripts = [...html.matchAll(/<script src="([^"]+)">/g)].map((m) => m[1]);
  assert.deepEqual(scripts, ["drawpad/tf.min.js", "drawpad/digit-image.js", "drawpad/model.js", "drawpad/drawpad.js"]);
  for (const s of scripts) assert.ok(existsSync(join(out, s)), `${s} next to the page`);
  // One preprocessing: the page runs the very file `npm run predict` runs, inside a shim.
  const shipped = readFileSync(join(out, "drawpad", "digit-image.js"), "utf8");
  assert.ok(shipped.includes(readFileSync(require.resolve("cnn-lab/dist/data/digit-image.js"), "utf8")));
  assert.match(html, /file:\/\//, "the page says it works from file://");
});

test("without a shipped model, draw.html says how to make one and loads nothing", async () => {
  const lines: string[] = [];
  const out = join(dir, "no-model");
  await buildBook([], out, { log: (l) => lines.push(l), modelDir: join(dir, "missing") });
  const html = readFileSync(join(out, DRAW_PAGE), "utf8");
  assert.match(html, /학습된 모델이 없습니다/);
  assert.match(html, /npm run ship-model/);
  assert.doesNotMatch(html, /<script/);
  assert.ok(!existsSync(join(out, "drawpad")), "no scripts written");
  assert.match(lines.join("\n"), /no shipped model in .*missing/);
});

test("draw.html: a 7 drawn with the mouse and a 1 with a finger get npm run predict's probabilities; an empty canvas asks for a digit", { skip }, async () => {
  await buildBook([], join(dir, "book"), { log: () => {} });
  const browser = await launchChromium(join(dir, "profile"));
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1000, height: 900, hasTouch: true });
    const requests: string[] = [];
    const errors: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(pathToFileURL(join(dir, "book", DRAW_PAGE)).href, { waitUntil: "load" });
    await page.waitForFunction(SETTLED);
    assertEmpty(await read(page), "before drawing");

    await draw(page, [[[70, 60], [215, 60], [120, 235]]], "mouse");
    const seven = await read(page);
    if (process.env.DRAWPAD_SCREENSHOT) {
      const maps = (await (await page.$("#maps"))!.boundingBox())!;
      await page.screenshot({ path: process.env.DRAWPAD_SCREENSHOT as `${string}.png`, clip: { x: 0, y: 0, width: 1000, height: maps.y + maps.height + 12 } });
    }
    await assertAgreesWithCli(seven, "seven");

    await page.click("#clear");
    await page.waitForFunction(SETTLED);
    assertEmpty(await read(page), "after 지우기 (clear)");

    await draw(page, [[[150, 45], [140, 240]]], "touch");
    await assertAgreesWithCli(await read(page), "one");

    assert.deepEqual(errors, []);
    const remote = requests.filter((u) => !u.startsWith("file://"));
    assert.deepEqual(remote, [], "the page loads only files of the book");
  } finally {
    await browser.close();
  }
});

/** Dark pixels of the pad in the canvas rectangle [x0, x1) x [y0, y1). */
async function inkIn(page: Page, x0: number, y0: number, x1: number, y1: number): Promise<number> {
  return (await page.evaluate(`(() => {
    const d = document.getElementById("pad").getContext("2d").getImageData(${x0}, ${y0}, ${x1 - x0}, ${y1 - y0}).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 128) n++;
    return n;
  })()`)) as number;
}

test("draw.html: only the first finger and the mouse's main button draw; a tap or a click leaves a dot", { skip }, async () => {
  await buildBook([], join(dir, "book-pointers"), { log: () => {} });
  const browser = await launchChromium(join(dir, "profile-pointers"));
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1000, height: 900, hasTouch: true });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(pathToFileURL(join(dir, "book-pointers", DRAW_PAGE)).href, { waitUntil: "load" });
    await page.waitForFunction(SETTLED);
    // Canvas pixel (x, y) on the screen: the pad's content box is inside a 2 px border.
    const box = (await (await page.$("#pad"))!.boundingBox())!;
    const at = (x: number, y: number) => [box.x + 2 + (x * (box.width - 4)) / 280, box.y + 2 + (y * (box.height - 4)) / 280] as const;
    const clear = async () => {
      await page.click("#clear");
      await page.waitForFunction(SETTLED);
      assert.equal(await inkIn(page, 0, 0, 280, 280), 0, "cleared");
    };

    // A right-button drag and a middle-button drag draw nothing; the page still asks for a digit.
    for (const button of ["right", "middle"] as const) {
      await page.mouse.move(...at(60, 60));
      await page.mouse.down({ button });
      await page.mouse.move(...at(200, 200), { steps: 10 });
      await page.mouse.up({ button });
      await page.waitForFunction(SETTLED);
      assert.equal(await inkIn(page, 0, 0, 280, 280), 0, `a ${button}-button drag drew`);
      assertEmpty(await read(page), `after a ${button}-button drag`);
    }

    // A tap with a finger and a click with the mouse each leave a dot, which the model then answers.
    await page.touchscreen.tap(...at(70, 200));
    await page.waitForFunction(SETTLED);
    assert.ok(await inkIn(page, 64, 194, 77, 207) >= 100, "a tap leaves a dot");
    await page.mouse.click(...at(210, 80));
    await page.waitForFunction(SETTLED);
    assert.ok(await inkIn(page, 204, 74, 217, 87) >= 100, "a click leaves a dot");
    assert.equal((await read(page)).state, "shown", "the dots are answered");
    await clear();

    // Two fingers: the first draws a 1 at x = 140; the second, put down while the first is drawing, draws nothing, and
    // its lifting does not end the first finger's stroke.
    const first = await page.touchscreen.touchStart(...at(140, 40));
    for (let y = 50; y <= 140; y += 10) await first.move(...at(140, y));
    const second = await page.touchscreen.touchStart(...at(220, 60));
    for (let k = 1; k <= 10; k++) {
      await second.move(...at(220 + 2 * k, 60 + 15 * k));
      await first.move(...at(140, 140 + 5 * k));
    }
    await second.end();
    for (let y = 200; y <= 240; y += 10) await first.move(...at(140, y));
    await first.end();
    await page.waitForFunction(SETTLED);
    assert.equal(await inkIn(page, 180, 0, 280, 280), 0, "the second finger drew");
    assert.ok(await inkIn(page, 130, 215, 151, 235) >= 100, "the first finger's stroke goes on after the second lifts");
    await assertAgreesWithCli(await read(page), "one-two-fingers");
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
