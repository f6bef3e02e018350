// train --plot in a real browser (issue 23): the real command on a tiny run, its page opened in headless Chromium
// with no network beyond this machine. Both charts must draw their curves (plotly from the npm package, not a CDN),
// the console must stay clean (no "Plotly is not defined", no "reading 'nativeElement'", no failed font fetch), every
// request the page makes must go to the plot server itself, and that server must listen on 127.0.0.1 only.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { chromiumMissing, launchChromium } from "../tools/chromium";

const ROOT = join(__dirname, "..");
const work = mkdtempSync(join(tmpdir(), "plot-window-"));
after(() => rmSync(work, { recursive: true, force: true }));

let installed = true;
try { require.resolve("nodeplotlib"); } catch { installed = false; }
const skip = chromiumMissing() ?? (!installed && "nodeplotlib (optional) is not installed");

const freePort = () => new Promise<number>((ok) => {
  const s = createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => ok(p)); });
});

/** Local addresses (hex, as /proc/net/tcp{,6} write them) of the sockets listening on `port`. */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  return ["/proc/net/tcp", "/proc/net/tcp6"].flatMap((f) => readFileSync(f, "utf8").split("\n").slice(1))
    .map((l) => l.trim().split(/\s+/)).filter((c) => c[1]?.endsWith(`:${hexPort}`) && c[3] === "0A").map((c) => c[1].split(":")[0]);
}

// In the page (a string: the project compiles without DOM types): per chart, its title and how many of its scatter
// traces are drawn (a line with a path, or a marker: after one epoch the test accuracy is a single point).
const CHARTS = `[...document.querySelectorAll(".js-plotly-plot")].map((p) => ({
  title: p.querySelector(".gtitle")?.textContent ?? "",
  traces: [...p.querySelectorAll(".scatterlayer .trace")]
    .filter((t) => t.querySelector("path.js-line")?.getAttribute("d") || t.querySelector(".points path")).length,
}))`;

test("train --plot: both charts draw offline in Chromium, no console errors, served on 127.0.0.1 only", { skip, timeout: 150_000 }, async () => {
  const port = await freePort();
  // NODEPLOTLIB_PORT fixes the port and keeps nodeplotlib from opening a browser of its own.
  const child = spawn(process.execPath, ["--import", "tsx", "tools/cli/train.ts", "--plot", "--epochs", "1", "--limit", "200", "--batch-size", "20", "--workers", "0", "--out", join(work, "run")], {
    cwd: ROOT, env: { ...process.env, NODEPLOTLIB_PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d) => { out += d; });
  child.stderr.on("data", (d) => { out += d; });
  const exited = new Promise((ok) => child.on("exit", ok));
  const browser = await launchChromium(join(work, "profile"));
  try {
    for (let i = 0; i < 1200 && !/^done: /m.test(out) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /^done: /m, out);
    const url = /Server running at (http:\/\/\S+)/.exec(out)?.[1];
    assert.ok(url, `no server address printed:\n${out}`);
    assert.deepEqual(listeners(port), ["0100007F"], "expected one listening socket, on 127.0.0.1 only");

    const page = await browser.newPage();
    const errors: string[] = [];
    const elsewhere: string[] = [];
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("request", (r) => { if (!r.url().startsWith(`http://127.0.0.1:${port}/`) && !r.url().startsWith("data:")) elsewhere.push(r.url()); });
    await page.goto(url, { waitUntil: "load" });
    await page.waitForFunction(`${CHARTS}.length === 2 && ${CHARTS}.every((c, i) => c.traces === i + 1)`, { timeout: 20_000 }).catch(() => undefined);
    const charts = await page.evaluate(CHARTS) as { title: string; traces: number }[];
    assert.deepEqual(charts, [{ title: "loss", traces: 1 }, { title: "accuracy", traces: 2 }], `charts drawn: ${JSON.stringify(charts)}; console errors: ${errors.join(" | ")}`);
    assert.deepEqual(errors, [], "console errors");
    assert.deepEqual(elsewhere, [], "requests that leave the plot server (a CDN, a font host)");
  } finally {
    await browser.close();
    child.kill("SIGTERM");
    await exited;
  }
});
