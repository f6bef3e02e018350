// The JupyterLab check (CI, issue 20): the project's JupyterLab (on PATH or .jupyter/venv, `npm start -- --setup`)
// serves a working copy made the way `npm start` makes it, and headless Chromium does what a learner does: Run All on
// each notebook (06 on its quick schedule), outputs compared with the committed ones as `npm test` compares them;
// 06's live chart must change in place; `tf.` + Tab must offer completions; an interrupt during 06's training loop,
// then the loop run again, must train; Hangul must be drawn with the bundled font; and `git status` must not change.
// Prints the Run All time of each notebook. Everything it starts goes when it ends (Ctrl-C and kill included).
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { basename, join, resolve } from "node:path";
import type { Browser, Page } from "puppeteer-core";
import { chromiumMissing, launchChromium } from "../chromium";
import { intOption, parseFlags, runCli, UsageError } from "../cli/cli";
import { coalesce, compareOutputs } from "./compare";
import { freePorts, JUPYTER_PATH, PROJECT_ROOT } from "./kernel";
import { gitStatus, gitStatusProblems, hangulFontProblems, liveChartProblems, outputText, rerunProblems, stoppedProblems, type FontFaceSeen, type Stopped } from "./lab-verdicts";
import { decide, HANGUL_FAMILY, jupyterEnv, realProbes, writeLabConfig } from "./lab";
import { readNotebook, tags, text, type Output } from "./notebook";
import { startJupyterServer, type JupyterServer } from "./server";

import { syncWorkingCopy, NOTEBOOKS_DIR } from "../working-copy";

const DEFAULT = ["01-toy-image", "02-valid-same", "03-three-filters", "03b-learned-kernel", "04-pooling", "05-mnist-conv-pool", "06-full-cnn"];
const USAGE = `usage: npm run check:lab -- [--notebooks A,B,…] [--screenshots DIR] [--timeout S] [--no-interrupt]
  Run All in JupyterLab in headless Chromium for each notebook (default ${DEFAULT.join(", ")}; 06 with CNN_QUICK=1
  unless set), outputs compared with the committed ones; 06's live chart, completion, interrupt, Hangul font.
  --screenshots DIR  keep screenshots (a new or empty folder)
  --timeout S        seconds a notebook's Run All may take (default 1200)
  --no-interrupt     skip the interrupt-then-train-again step`;

const APP = "window.jupyterapp";
const PANEL = `${APP}.shell.currentWidget`;
// In the page: every code cell's state (plain JS: the project compiles without DOM types).
const CELLS = `(() => { const p = ${APP} && ${PANEL}; if (!p || !p.content || !p.content.model) return null;
  const out = []; const cells = p.content.model.cells;
  for (let i = 0; i < cells.length; i++) { const c = cells.get(i); out.push({ type: c.type, count: c.type === "code" ? c.executionCount : null,
    state: c.type === "code" ? c.executionState : "idle", outputs: c.type === "code" ? c.outputs.toJSON() : [] }); }
  return out; })()`;
interface CellState { type: string; count: number | null; state: string; outputs: Output[] }
// Light, for polling while a notebook runs: states only, and the chart cell's picture (the outputs of 06 are large).
const STATES = `(() => { const p = ${APP} && ${PANEL}; if (!p || !p.content || !p.content.model) return null;
  const out = []; const cells = p.content.model.cells;
  for (let i = 0; i < cells.length; i++) { const c = cells.get(i); out.push({ type: c.type, count: c.type === "code" ? c.executionCount : null, state: c.type === "code" ? c.executionState : "idle", outputs: [] }); }
  return out; })()`;
// The live chart as the learner sees it: a MutationObserver on the chart cell's node records every distinct <img> src
// (a hash of it) and the most images shown at once, so no redraw is missed between two polls. The cell's node is kept
// in the DOM by JupyterLab's default windowing ("contentVisibility"), so the observer sees it out of view too.
const WATCH_CHART = (i: number) => `(() => { const node = ${PANEL}.content.widgets[${i}].node; const seen = { srcs: new Set(), max: 0 };
  const hash = (s) => { let h = 0; for (let k = 0; k < s.length; k++) h = (h * 31 + s.charCodeAt(k)) | 0; return s.length + ":" + h; };
  const look = () => { const imgs = node.querySelectorAll(".jp-OutputArea-output img"); seen.max = Math.max(seen.max, imgs.length); imgs.forEach((im) => { if (im.src) seen.srcs.add(hash(im.src)); }); };
  const observer = new MutationObserver(look); observer.observe(node, { subtree: true, childList: true, attributes: true, attributeFilter: ["src"] });
  window.__chartSeen = { seen, observer }; look(); return true; })()`;
const CHART_SEEN = `(() => { const w = window.__chartSeen; if (!w) return null; w.observer.disconnect(); return { pictures: w.seen.srcs.size, maxImages: w.seen.max }; })()`;
const KERNEL_IDLE = `!!(${APP} && ${PANEL} && ${PANEL}.sessionContext && ${PANEL}.sessionContext.session && ${PANEL}.sessionContext.session.kernel
  && ${PANEL}.sessionContext.session.kernel.status === "idle" && ${PANEL}.content.widgets.length > 0)`;
const imgCount = (i: number) => `${PANEL}.content.widgets[${i}].node.querySelectorAll(".jp-OutputArea-output img").length`;
const outputsOf = (i: number) => `${PANEL}.content.model.cells.get(${i}).outputs.toJSON()`;
const stateOf = (i: number) => `${PANEL}.content.model.cells.get(${i}).executionState`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${seconds(timeoutMs)} waiting for ${what}`);
    await sleep(everyMs);
  }
}

const cellsOf = async (page: Page) => (await page.evaluate(CELLS)) as CellState[] | null;
const runAllDone = (cells: CellState[] | null) => !!cells && cells.every((c) => c.type !== "code" || c.state === "idle")
  && cells.some((c) => c.type === "code" && c.count !== null);

interface Ctx { page: Page; base: string; token: string; dir: string; timeoutMs: number; shots?: string; problems: string[] }

async function openNotebook(c: Ctx, name: string): Promise<void> {
  await c.page.goto(`${c.base}/lab/tree/${encodeURIComponent(name)}?reset&token=${c.token}`, { waitUntil: "domcontentloaded", timeout: 120_000 });
  await until(`${name} open with its kernel idle`, 180_000, async () => (await c.page.evaluate(KERNEL_IDLE)) as boolean);
}

/** Run All; returns the seconds it took. Watches the live chart cell (if any) while it runs. */
async function runAll(c: Ctx, name: string, chartCell: number): Promise<number> {
  const t0 = Date.now();
  if (chartCell >= 0) await c.page.evaluate(WATCH_CHART(chartCell));
  await c.page.evaluate(`${APP}.commands.execute("notebook:run-all-cells")`);
  await until(`Run All of ${name}`, c.timeoutMs, async () => runAllDone((await c.page.evaluate(STATES)) as CellState[] | null), 500);
  const secs = (Date.now() - t0) / 1000;
  if (chartCell >= 0) {
    const seen = (await c.page.evaluate(CHART_SEEN)) as { pictures: number; maxImages: number };
    const chart = { ...seen, endImages: (await c.page.evaluate(imgCount(chartCell))) as number };
    const problems = liveChartProblems(name, chart);
    c.problems.push(...problems);
    if (!problems.length) console.log(`  live chart changed in place: ${chart.pictures} different pictures while the cell ran, one image at a time`);
  }
  return secs;
}

function compareWithCommitted(c: Ctx, name: string, cells: CellState[]): void {
  const stored = readNotebook(join(NOTEBOOKS_DIR, name));
  stored.cells.forEach((cell, i) => {
    const t = tags(cell);
    if (cell.cell_type !== "code" || t.includes("skip-execution")) return;
    const got = coalesce(cells[i]?.outputs ?? []);
    if (got.some((o) => o.output_type === "error") && !t.includes("raises-exception")) c.problems.push(`${name} cell ${i + 1}: raised an error: ${JSON.stringify(got.find((o) => o.output_type === "error"))}`);
    else if (!t.includes("ignore-output")) for (const p of compareOutputs(cell.outputs ?? [], got, PROJECT_ROOT)) c.problems.push(`${name} cell ${i + 1}: ${p}`);
  });
}

/** `tf.` + Tab in a new cell below the last: JupyterLab's completer lists the kernel's suggestions. */
async function checkCompletion(c: Ctx): Promise<void> {
  await c.page.evaluate(`(async () => { const p = ${PANEL}; p.content.activeCellIndex = p.content.widgets.length - 1;
    await ${APP}.commands.execute("notebook:insert-cell-below"); await ${APP}.commands.execute("notebook:enter-edit-mode"); })()`);
  await sleep(500);
  await c.page.keyboard.type("tf.");
  await c.page.keyboard.press("Tab");
  try {
    const n = await until("completion suggestions after `tf.` + Tab", 60_000, async () => (await c.page.evaluate(`document.querySelectorAll(".jp-Completer-item").length`)) as number);
    console.log(`  completion: \`tf.\` + Tab offers ${n} suggestions`);
  } catch (e) {
    c.problems.push((e as Error).message);
  }
  await c.page.keyboard.press("Escape");
}

// Starts cell i and returns once it runs (its old outputs cleared): notebook:run-cell's promise ends only with the cell.
const runCell = async (c: Ctx, i: number) => {
  await c.page.evaluate(`(() => { const p = ${PANEL}; p.content.activeCellIndex = ${i}; p.content.deselectAll();
    void ${APP}.commands.execute("notebook:run-cell"); })()`);
  await until(`cell ${i + 1} to start`, 60_000, async () => !(await cellIdle(c, i)) || (await c.page.evaluate(`${PANEL}.content.model.cells.get(${i}).executionCount`)) === null, 100);
};
const cellOutputs = async (c: Ctx, i: number) => (await c.page.evaluate(outputsOf(i))) as Output[];
const cellIdle = async (c: Ctx, i: number) => (await c.page.evaluate(stateOf(i))) === "idle";

/** Runs a training cell, interrupts it (Kernel > Interrupt) once `started` shows in its output, waits for its end. */
async function interruptWhileTraining(c: Ctx, i: number, what: string, started: RegExp, mark: RegExp, settleMs: number): Promise<Stopped> {
  await runCell(c, i);
  // Ends early (with what the cell printed) if the cell ends before it trains, e.g. on an error.
  const ended = await until(`${what} (cell ${i + 1}) to start training (${started})`, 300_000, async () => {
    const said = outputText(await cellOutputs(c, i));
    return started.test(said) ? "started" : (await cellIdle(c, i)) && `ended before training: ${JSON.stringify(said.slice(-500))}`;
  });
  if (ended !== "started") throw new Error(`${what} (cell ${i + 1}) ${ended}`);
  await sleep(settleMs); // inside the training loop, not its set-up
  const t = Date.now();
  await c.page.evaluate(`${APP}.commands.execute("notebook:interrupt-kernel")`);
  await until(`${what} to end after the interrupt`, 120_000, async () => cellIdle(c, i));
  return { what, atEnd: await cellOutputs(c, i), stopSeconds: (Date.now() - t) / 1000, mark };
}

/**
 * A learner's interrupts during 06's training: the written-out (synchronous) loop, then train(); then the loop runs to
 * the end and must train (its epoch line and "Learning Finished!", no error), while no output of the stopped train()
 * may arrive, neither in its own cell after it ended nor in the loop's.
 */
async function checkInterrupt(c: Ctx, name: string, loopCell: number, trainCell: number): Promise<void> {
  const t0 = Date.now();
  const loop = await interruptWhileTraining(c, loopCell, "the written-out loop", /Learning started/, /KeyboardInterrupt|^Interrupted\b/m, 3000);
  const trained = await interruptWhileTraining(c, trainCell, "train()", /epoch \d+\/\d+ \[/, /Interrupted: stopped in epoch|KeyboardInterrupt/, 0);
  const t1 = Date.now();
  await runCell(c, loopCell);
  await until("the written-out loop run again to end", 600_000, async () => (await cellIdle(c, loopCell)) && (await cellOutputs(c, loopCell)).length > 0, 500);
  trained.later = await cellOutputs(c, trainCell);
  const problems = [...stoppedProblems(name, loop), ...stoppedProblems(name, trained),
    ...rerunProblems(name, await cellOutputs(c, loopCell), [/Epoch: 1 loss = [\d.]+ train accuracy = +0\.\d+ test accuracy = +0\.9\d+/, /Learning Finished!/], /epoch \d+\/\d+ \[/)];
  c.problems.push(...problems);
  console.log(`  interrupts: the loop stopped in ${loop.stopSeconds.toFixed(1)} s, train() in ${trained.stopSeconds.toFixed(1)} s (${seconds(t1 - t0)} with their starts); the loop run again to the end in ${seconds(Date.now() - t1)}${problems.length ? "" : ": it trains, nothing of the stopped training arrived"}`);
}

/** The bundled NanumGothic is loaded for the Hangul on the page (a markdown cell's), i.e. not drawn as boxes. */
async function checkHangul(c: Ctx, name: string): Promise<void> {
  const faces = (await c.page.evaluate(`document.fonts.ready.then(() => [...document.fonts].map((f) => ({ family: f.family, status: f.status })))`)) as FontFaceSeen[];
  const problems = hangulFontProblems(name, faces, HANGUL_FAMILY);
  c.problems.push(...problems);
  if (!problems.length) console.log(`  Hangul drawn with the bundled ${HANGUL_FAMILY}`);
  if (c.shots) await c.page.screenshot({ path: join(c.shots, `${basename(name, ".ipynb")}-top.png`) });
}


async function main(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { notebooks: { type: "string" }, screenshots: { type: "string" }, timeout: { type: "string" }, "no-interrupt": { type: "boolean" } });
  const names = (values.notebooks?.split(",") ?? DEFAULT).map((n) => (n.endsWith(".ipynb") ? n : `${n}.ipynb`));
  for (const n of names) if (!existsSync(join(NOTEBOOKS_DIR, n))) throw new UsageError(`--notebooks: ${join(NOTEBOOKS_DIR, n)} does not exist (expected names of notebooks/, e.g. 02-valid-same)`);
  const timeoutMs = intOption("timeout", values.timeout, 1, 1200)! * 1000;
  const shots = values.screenshots === undefined ? undefined : resolve(values.screenshots);
  if (shots && existsSync(shots) && readdirSync(shots).length) throw new UsageError(`--screenshots ${shots}: the folder is not empty (expected a new or empty folder: nothing is overwritten)`);
  const noBrowser = chromiumMissing();
  if (noBrowser) throw new Error(noBrowser);
  const d = decide({ ...realProbes(), python: () => undefined });
  if (!("open" in d) || d.open.app !== "lab") throw new Error("JupyterLab is not installed: `npm start -- --setup` sets it up in .jupyter/venv (or pip install jupyterlab)");
  if (!existsSync(join(JUPYTER_PATH, "kernels", "tslab", "kernel.json"))) throw new Error("tslab kernelspec missing: run `npm install`");
  if (shots) mkdirSync(shots, { recursive: true });

  const before = gitStatus(PROJECT_ROOT);
  process.env.CNN_QUICK ??= "1";
  // The working copy one level under the project, as my-notebooks/ is: ../data and "cnn-lab" resolve the same.
  const dir = mkdtempSync(join(PROJECT_ROOT, ".lab-check-"));
  let server: JupyterServer | undefined;
  let browser: Browser | undefined;
  const cleanup = () => {
    const b = browser?.process();
    if (b && b.exitCode === null) { try { process.kill(-b.pid!, "SIGKILL"); } catch { b.kill("SIGKILL"); } }
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  };
  process.on("exit", cleanup);
  const problems: string[] = [];
  const times: string[] = [];
  const phases: string[] = [];
  let last = Date.now();
  const phase = (what: string) => { const now = Date.now(); phases.push(`${what} ${seconds(now - last)}`); last = now; };
  const t0 = Date.now();
  let serverLog = "";
  try {
    syncWorkingCopy({ from: NOTEBOOKS_DIR, to: dir });
    const config = join(dir, ".jupyter-config");
    writeLabConfig(config);
    const [port] = await freePorts(1);
    const token = randomBytes(24).toString("hex");
    const env = jupyterEnv({ ...process.env, JUPYTERLAB_SETTINGS_DIR: join(config, "settings"), JUPYTERLAB_WORKSPACES_DIR: join(config, "workspaces") }, config);
    server = startJupyterServer({ command: d.open.command, env, stdio: "pipe", args: ["lab", "--no-browser", "--ip=127.0.0.1", `--port=${port}`, "--port-retries=0", "--allow-root",
      `--ServerApp.token=${token}`, `--notebook-dir=${dir}`, "--LabApp.custom_css=True", "--LabApp.expose_app_in_browser=True"] });
    // A stop signal (Ctrl-C, kill) stops the server (its handlers); then the browser and the working copy go too.
    void server.done.then(({ signal }) => { if (signal) { cleanup(); process.exit(128 + osConstants.signals[signal]); } });
    server.proc.stdout!.on("data", (b) => { serverLog = (serverLog + b).slice(-4000); });
    server.proc.stderr!.on("data", (b) => { serverLog = (serverLog + b).slice(-4000); });
    const base = `http://127.0.0.1:${port}`;
    await until("JupyterLab to answer", 180_000, async () => fetch(`${base}/api/status?token=${token}`).then((r) => r.ok, () => false));
    browser = await launchChromium(join(dir, ".profile"), { handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false, protocolTimeout: 600_000, defaultViewport: { width: 1200, height: 900 } });
    const page = await browser.newPage();
    page.on("dialog", (dialog) => void dialog.accept()); // "leave the page?" for the notebook left with a new cell
    const c: Ctx = { page, base, token, dir, timeoutMs, shots, problems };
    phase("start JupyterLab and Chromium");
    for (const name of names) {
      console.log(`${name}:`);
      await openNotebook(c, name);
      phase(`${name}: open, kernel idle`);
      if (name === names[0]) { await checkHangul(c, name); phase("Hangul font"); }
      const code = readNotebook(join(NOTEBOOKS_DIR, name)).cells;
      const source = (i: number) => (code[i]?.cell_type === "code" ? text(code[i].source) : "");
      const chartCell = code.findIndex((_, i) => /\b(liveTrainingCurves|liveDisplay)\(/.test(source(i)));
      const secs = await runAll(c, name, chartCell);
      phase(`${name}: Run All`);
      times.push(`${name.replace(/\.ipynb$/, "")} ${secs.toFixed(1)} s`);
      console.log(`  Run All: ${secs.toFixed(1)} s`);
      compareWithCommitted(c, name, (await cellsOf(page))!);
      phase(`${name}: compare outputs`);
      if (name === names[0]) { await checkCompletion(c); phase("completion"); }
      const loopCell = code.findIndex((_, i) => /Learning Finished!/.test(source(i)));
      if (chartCell >= 0 && loopCell >= 0 && !values["no-interrupt"]) { await checkInterrupt(c, name, loopCell, chartCell); phase(`${name}: interrupts`); }
      if (shots) await page.screenshot({ path: join(shots, `${basename(name, ".ipynb")}.png`) });
      // Its kernel goes now (JupyterLab keeps a notebook's kernel when the page moves on): one kernel at a time.
      await page.evaluate(`${PANEL}.sessionContext.shutdown()`);
    }
  } catch (e) {
    if (server) console.error(`JupyterLab's last output:\n${serverLog.trim().split("\n").slice(-10).join("\n")}`);
    throw e;
  } finally {
    await browser?.close().catch(() => undefined);
    if (server) await server.stop();
    cleanup();
  }
  phase("stop JupyterLab and Chromium");
  problems.push(...gitStatusProblems(before, gitStatus(PROJECT_ROOT)));
  console.log(`Phases: ${phases.join(", ")}; total ${seconds(Date.now() - t0)}`);
  console.log(`Run All times in JupyterLab: ${times.join(", ")}`);
  if (problems.length) {
    console.error(`✗ JupyterLab check failed:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    return 1;
  }
  console.log("✓ JupyterLab check passed; git status unchanged; server, kernel and browser stopped");
  return 0;
}

runCli(main, USAGE, { exit: true });
