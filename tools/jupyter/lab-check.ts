// The JupyterLab check (CI, issue 20): the project's JupyterLab (on PATH or .jupyter/venv, `npm start -- --setup`)
// serves a working copy made the way `npm start` makes it, and headless Chromium does what a learner does: Run All on
// each notebook (06 on its quick schedule), outputs compared with the committed ones as `npm test` compares them;
// 06's live chart must change in place; `tf.` + Tab must offer completions; an interrupt during 06's training loop,
// then the loop run again, must train; Hangul must be drawn with the bundled font; and `git status` must not change.
// Prints the Run All time of each notebook. Everything it starts goes when it ends (Ctrl-C and kill included).
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { Browser, Page } from "puppeteer-core";
import { chromiumMissing, launchChromium } from "../chromium";
import { intOption, parseFlags, runCli, UsageError } from "../cli/cli";
import { coalesce, compareOutputs } from "./compare";
import { freePorts, JUPYTER_PATH, PROJECT_ROOT } from "./kernel";
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
const chartPicture = (i: number) => `(() => { const o = ${PANEL}.content.model.cells.get(${i}).outputs; for (let j = 0; j < o.length; j++) { const d = o.get(j).data; if (d && d["image/png"]) return String(d["image/png"]).slice(-2000); } return ""; })()`;
const KERNEL_IDLE = `!!(${APP} && ${PANEL} && ${PANEL}.sessionContext && ${PANEL}.sessionContext.session && ${PANEL}.sessionContext.session.kernel
  && ${PANEL}.sessionContext.session.kernel.status === "idle" && ${PANEL}.content.widgets.length > 0)`;
const imgCount = (i: number) => `${PANEL}.content.widgets[${i}].node.querySelectorAll(".jp-OutputArea-output img").length`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${seconds(timeoutMs)} waiting for ${what}`);
    await sleep(1000);
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
  await c.page.evaluate(`${APP}.commands.execute("notebook:run-all-cells")`);
  await sleep(500);
  const srcs = new Set<string>();
  let maxImages = 0;
  await until(`Run All of ${name}`, c.timeoutMs, async () => {
    const cells = (await c.page.evaluate(STATES)) as CellState[] | null;
    if (chartCell >= 0 && cells && cells[chartCell].state !== "idle") {
      const picture = (await c.page.evaluate(chartPicture(chartCell))) as string;
      if (picture) srcs.add(picture);
      maxImages = Math.max(maxImages, (await c.page.evaluate(imgCount(chartCell))) as number);
    }
    return runAllDone(cells);
  });
  const secs = (Date.now() - t0) / 1000;
  if (chartCell >= 0) {
    const end = (await c.page.evaluate(imgCount(chartCell))) as number;
    if (srcs.size < 2) c.problems.push(`${name}: the live chart did not change while its cell ran (${srcs.size} picture(s) seen)`);
    else console.log(`  live chart changed in place: ${srcs.size} different pictures while the cell ran`);
    if (end !== 1 || maxImages > 1) c.problems.push(`${name}: ${end} chart image(s) at the end (at most ${maxImages} at once), expected exactly 1`);
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

/** Runs the training loop cell, interrupts it mid-training, runs it again: it must train (progress, no error). */
async function checkInterrupt(c: Ctx, name: string, loopCell: number): Promise<void> {
  const run = async () => c.page.evaluate(`(async () => { const p = ${PANEL}; p.content.activeCellIndex = ${loopCell}; await ${APP}.commands.execute("notebook:run-cell"); })()`);
  const outputText = async () => JSON.stringify((await cellsOf(c.page))![loopCell].outputs);
  await run();
  await until("the training loop to print progress", 300_000, async () => /batch|Epoch|epoch/.test(await outputText()));
  await c.page.evaluate(`${APP}.commands.execute("notebook:interrupt-kernel")`);
  await until("the interrupted cell to end", 120_000, async () => (await cellsOf(c.page))![loopCell].state === "idle");
  await run();
  const first = await until("the loop run again to print progress", 300_000, async () => {
    const s = await outputText();
    if (/"output_type":"error"|Cannot find a connection/.test(s)) return `error: ${s.slice(0, 400)}`;
    return /batch|Epoch|epoch/.test(s) ? s : undefined;
  });
  if (first.startsWith("error:")) c.problems.push(`${name}: after an interrupt the training loop fails when run again (${first})`);
  else console.log("  interrupt during training, then the loop run again: it trains");
  await c.page.evaluate(`${APP}.commands.execute("notebook:interrupt-kernel")`);
  await until("the second run to end", 120_000, async () => (await cellsOf(c.page))![loopCell].state === "idle");
}

/** The bundled NanumGothic is loaded for the Hangul on the page (a markdown cell's), i.e. not drawn as boxes. */
async function checkHangul(c: Ctx, name: string): Promise<void> {
  const loaded = (await c.page.evaluate(`document.fonts.ready.then(() => [...document.fonts].some((f) => f.family.replace(/"/g, "") === ${JSON.stringify(HANGUL_FAMILY)} && f.status === "loaded"))`)) as boolean;
  if (!loaded) c.problems.push(`${name}: the Hangul font ${HANGUL_FAMILY} (custom.css) was not loaded: Korean would show as boxes without a system font`);
  else console.log(`  Hangul drawn with the bundled ${HANGUL_FAMILY}`);
  if (c.shots) await c.page.screenshot({ path: join(c.shots, `${basename(name, ".ipynb")}-top.png`) });
}

const gitStatus = () => spawnSync("git", ["status", "--porcelain"], { cwd: PROJECT_ROOT, encoding: "utf8" }).stdout;

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

  const before = gitStatus();
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
    server.proc.stdout!.on("data", (b) => { serverLog = (serverLog + b).slice(-4000); });
    server.proc.stderr!.on("data", (b) => { serverLog = (serverLog + b).slice(-4000); });
    const base = `http://127.0.0.1:${port}`;
    await until("JupyterLab to answer", 180_000, async () => fetch(`${base}/api/status?token=${token}`).then((r) => r.ok, () => false));
    browser = await launchChromium(join(dir, ".profile"), { handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false, protocolTimeout: 600_000, defaultViewport: { width: 1200, height: 900 } });
    const page = await browser.newPage();
    page.on("dialog", (dialog) => void dialog.accept()); // "leave the page?" for the notebook left with a new cell
    const c: Ctx = { page, base, token, dir, timeoutMs, shots, problems };
    for (const name of names) {
      console.log(`${name}:`);
      await openNotebook(c, name);
      if (name === names[0]) await checkHangul(c, name);
      const code = readNotebook(join(NOTEBOOKS_DIR, name)).cells;
      const chartCell = code.findIndex((cell) => cell.cell_type === "code" && /\b(liveTrainingCurves|liveDisplay)\(/.test(text(cell.source)));
      const secs = await runAll(c, name, chartCell);
      times.push(`${name.replace(/\.ipynb$/, "")} ${secs.toFixed(1)} s`);
      console.log(`  Run All: ${secs.toFixed(1)} s`);
      compareWithCommitted(c, name, (await cellsOf(page))!);
      if (name === names[0]) await checkCompletion(c);
      if (chartCell >= 0 && !values["no-interrupt"]) await checkInterrupt(c, name, chartCell);
      if (shots) await page.screenshot({ path: join(shots, `${basename(name, ".ipynb")}.png`) });
    }
  } catch (e) {
    if (server) console.error(`JupyterLab's last output:\n${serverLog.trim().split("\n").slice(-10).join("\n")}`);
    throw e;
  } finally {
    await browser?.close().catch(() => undefined);
    if (server) await server.stop();
    cleanup();
  }
  const after = gitStatus();
  if (after !== before) problems.push(`git status changed during the check:\n${after}`);
  console.log(`Run All times in JupyterLab: ${times.join(", ")}`);
  if (problems.length) {
    console.error(`✗ JupyterLab check failed:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    return 1;
  }
  console.log("✓ JupyterLab check passed; git status unchanged; server, kernel and browser stopped");
  return 0;
}

runCli(main, USAGE, { exit: true });
