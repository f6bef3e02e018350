// The live training chart in a real browser (issue 13): Debian's classic Jupyter Notebook, served headless with the
// project's tslab kernelspec, opens a scratch notebook whose cell draws training curves in place the way notebook
// 06's training cell does (liveTrainingCurves → liveDisplay → display_data, then update_display_data), and headless
// Chromium runs the cell with Shift-Enter. Passes when the chart changes while the cell runs (two screenshots of
// it differ) and exactly one chart remains when it is done. The server, its kernel, the browser and the temp
// folder are gone on every exit path, Ctrl-C and kill included.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { Browser, ElementHandle, Page } from "puppeteer-core";
import { CHROMIUM, chromiumMissing, launchChromium } from "../chromium";
import { intOption, parseFlags, runCli, UsageError } from "../cli/cli";
import { decodePng } from "./compare";
import { freePorts, JUPYTER_PATH, PROJECT_ROOT } from "./kernel";
import { readNotebook, text, writeNotebook, type Notebook } from "./notebook";

let stepTimeoutMs = 120_000; // per step (server up, kernel ready, first chart, cell done): a loaded machine is slow

// Three synthetic epochs of eight batches, a pause per batch as if training: the chart is redrawn about fifteen
// times over several seconds, with progress text below it, as in notebook 06.
const CELL = `import { liveTrainingCurves } from "cnn-lab";
const curves = liveTrainingCurves();
const epochs = 3, batches = 8;
for (let epoch = 1; epoch <= epochs; epoch++) {
  for (let batch = 1; batch <= batches; batch++) {
    const t = epoch - 1 + batch / batches;
    curves.onBatch({ epoch, epochs, batch, batches, loss: Math.exp(-t), accuracy: 1 - 0.5 * Math.exp(-t) });
    process.stdout.write(\`\\repoch \${epoch}/\${epochs} batch \${batch}/\${batches}\`);
    await new Promise((r) => setTimeout(r, 400));
  }
  curves.onEpoch({ epoch, loss: Math.exp(-epoch), trainAccuracy: 1 - 0.5 * Math.exp(-epoch), testAccuracy: 1 - 0.4 * Math.exp(-epoch), seconds: 3 });
  process.stdout.write(\`\\repoch \${epoch}/\${epochs} done: loss \${Math.exp(-epoch).toFixed(4)}\\n\`); // longer than the line it overwrites
}`;

// In the page (plain JS strings: the project compiles without DOM types).
const KERNEL_IDLE = `!!(window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected()
  && document.querySelector("#kernel_indicator_icon.kernel_idle_icon"))`;
/** The watched cell (the `index`-th code cell): its element, whether it runs or is done, its output images. */
function cellExpressions(index: number) {
  const cell = `document.querySelectorAll(".code_cell")[${index}]`;
  return {
    cell,
    running: `${cell}.querySelector(".input_prompt").textContent.includes("*")`,
    done: `/\\[\\d+\\]/.test(${cell}.querySelector(".input_prompt").textContent)`,
    images: `${cell}.querySelectorAll(".output_area img")`,
  };
}

/** What to open and run: the scratch notebook (Shift-Enter on its cell) or a copy of a lecture notebook (Run All). */
interface Plan { name: string; notebook: Notebook; watch: number; runAll: boolean }

const scratch = (cell: string): Plan => ({
  name: "live.ipynb", watch: 0, runAll: false,
  notebook: {
    nbformat: 4, nbformat_minor: 5,
    metadata: { kernelspec: { name: "tslab", display_name: "TypeScript", language: "typescript" } },
    cells: [{ id: "live", cell_type: "code", source: cell, metadata: {}, outputs: [], execution_count: null }],
  },
});

/** A notebook of notebooks/, watched at its first code cell that draws a live chart; stored outputs dropped. */
function lectureNotebook(path: string): Plan {
  const notebook = readNotebook(path);
  const code = notebook.cells.filter((c) => c.cell_type === "code");
  const watch = code.findIndex((c) => /\b(liveTrainingCurves|liveDisplay)\(/.test(text(c.source)));
  if (watch < 0) throw new UsageError(`--notebook ${path}: no code cell calls liveTrainingCurves() or liveDisplay() (expected a notebook with a live chart)`);
  for (const c of code) { c.outputs = []; c.execution_count = null; }
  return { name: basename(path), notebook, watch, runAll: true };
}

const USAGE = `usage: npm run check:live -- [--screenshots DIR] [--cell FILE | --notebook FILE] [--timeout S]
  Runs a cell that draws live training curves in Debian's classic Jupyter Notebook (jupyter-notebook) in headless
  Chromium (${CHROMIUM}, or $CHROMIUM); exit 0 when the chart changed during the run and one chart remains, else 1.
  --screenshots DIR   keep the screenshots (a new or empty folder): during.png, later.png, end.png (the browser
                      window, scrolled to the chart)
  --cell FILE         run this code as the cell instead of the built-in synthetic training (it imports "cnn-lab")
  --notebook FILE     run a copy of this notebook of notebooks/ (Cell > Run All; CNN_QUICK=1 unless set) and watch
                      its first cell calling liveTrainingCurves() or liveDisplay()
  --timeout S         seconds each step may take (server up, kernel ready, first chart, redraw, cell done); default 120`;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Processes (not this one) whose command line mentions `text`: what a run started under its temp folder. */
function processesMentioning(text: string): number[] {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid).filter((d) => {
    try {
      return readFileSync(`/proc/${d}/cmdline`, "utf8").includes(text) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${d}/stat`, "utf8"));
    } catch {
      return false; // exited meanwhile
    }
  }).map(Number);
}

/** SIGKILL to the process group of a child still running (a pid, or a child this process started). */
function killGroup(p: number | ChildProcess | null | undefined): void {
  if (p && typeof p !== "number" && (p.exitCode !== null || p.signalCode !== null)) return; // exited: its pid may be reused
  const pid = typeof p === "number" ? p : p?.pid;
  if (!pid) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
  }
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** What one check started: stopped gently by stop(), at once by kill() (signal handlers, exit). */
class Session {
  readonly tmp = mkdtempSync(join(PROJECT_ROOT, ".live-check-")); // under the project: the cell imports "cnn-lab"
  server?: ChildProcess;
  serverLog = "";
  browser?: Browser;

  /** The browser closes, the server shuts its kernel down; whatever still runs is killed; the temp folder goes. */
  async stop(): Promise<void> {
    await this.browser?.close().catch(() => undefined);
    killGroup(this.browser?.process());
    const server = this.server;
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((r) => server.once("exit", r));
      try { process.kill(-server.pid!, "SIGTERM"); } catch { /* gone */ }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    }
    this.kill();
    for (let i = 0; i < 50 && processesMentioning(this.tmp).length; i++) await new Promise((r) => setTimeout(r, 100));
    const left = processesMentioning(this.tmp);
    if (left.length) throw new Error(`processes ${left.join(", ")} (started under ${this.tmp}) survived SIGKILL`);
  }

  /** SIGKILL to everything started. The kernel runs in its own session (jupyter_client): found by its connection
   * file, which is under the temp folder, like the browser's profile. */
  private killAll(): void {
    killGroup(this.server);
    killGroup(this.browser?.process());
    for (const pid of processesMentioning(this.tmp)) killGroup(pid);
  }

  /** Synchronous, for the exit and signal handlers. SIGKILL takes effect asynchronously: a browser still writing its
   * profile would make the removal fail, so it waits for the processes to be gone first. */
  kill(): void {
    this.killAll();
    for (let i = 0; i < 100 && processesMentioning(this.tmp).length; i++) sleepSync(50);
    rmSync(this.tmp, { recursive: true, force: true, maxRetries: 5 });
  }
}

// npm runs this file as `node --import tsx`, which lets the handler take its time (the tsx CLI would SIGKILL it
// mid-cleanup). A signal arriving during the cleanup waits for it, then finds no handler and ends the process.
function killWithProcess(session: Session): void {
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  const onSignal = (sig: NodeJS.Signals) => {
    session.kill();
    for (const s of signals) process.removeListener(s, onSignal);
    process.kill(process.pid, sig); // die of the signal, as without the handler
  };
  for (const s of signals) process.on(s, onSignal);
  process.on("exit", () => session.kill());
}

function prerequisites(): void {
  const noBrowser = chromiumMissing();
  if (noBrowser) throw new Error(noBrowser);
  const nb = spawnSync("jupyter", ["notebook", "--version"], { encoding: "utf8" });
  if (nb.status !== 0) throw new Error("Jupyter's classic Notebook is not installed: `jupyter notebook --version` failed (Debian: apt-get install jupyter-notebook)");
  const spec = join(JUPYTER_PATH, "kernels", "tslab", "kernel.json");
  if (!existsSync(spec)) throw new Error(`tslab kernelspec not found at ${spec}: run \`npm install\` (it writes the kernelspec)`);
  const lib = join(PROJECT_ROOT, "lib", "dist", "index.js");
  if (!existsSync(lib)) throw new Error(`${lib} not found: run \`npm run build\` (the cell imports "cnn-lab")`);
}

async function startServer(s: Session, plan: Plan): Promise<{ base: string; token: string }> {
  // The notebook sits in the temp folder, one level under the project like notebooks/: "cnn-lab" and the lecture
  // notebooks' relative paths (../data) resolve as they do from notebooks/.
  writeNotebook(join(s.tmp, plan.name), plan.notebook);
  const [port] = await freePorts(1);
  const token = randomBytes(24).toString("hex");
  // Config, data and runtime (connection files) in a hidden folder of the temp folder: the user's Jupyter settings
  // play no part, and the kernel's command line names the temp folder (how kill() finds it).
  const state = join(s.tmp, ".jupyter");
  const env = { ...process.env, CNN_QUICK: process.env.CNN_QUICK ?? "1", JUPYTER_PATH, JUPYTER_CONFIG_DIR: join(state, "config"), JUPYTER_DATA_DIR: join(state, "data"), JUPYTER_RUNTIME_DIR: join(state, "runtime") };
  const server = (s.server = spawn("jupyter", ["notebook", "--no-browser", "--ip=127.0.0.1", `--port=${port}`, "--port-retries=0", "--allow-root",
    `--NotebookApp.token=${token}`, `--notebook-dir=${s.tmp}`], { env, detached: true, stdio: ["ignore", "pipe", "pipe"] }));
  const log = (d: Buffer) => { s.serverLog = (s.serverLog + d).slice(-8000); };
  server.stdout!.on("data", log);
  server.stderr!.on("data", log);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + stepTimeoutMs;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`jupyter notebook exited (code ${server.exitCode}) before serving: ${s.serverLog.trim().split("\n").pop()}`);
    if (Date.now() > deadline) throw new Error(`jupyter notebook did not answer on ${base} within ${seconds(stepTimeoutMs)}`);
    const ok = await fetch(`${base}/api/status?token=${token}`).then((r) => r.ok, () => false);
    if (ok) return { base, token };
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function waitFor(page: Page, what: string, expr: string): Promise<void> {
  try {
    await page.waitForFunction(expr, { timeout: stepTimeoutMs, polling: 100 });
  } catch (e) {
    throw new Error(`timed out after ${seconds(stepTimeoutMs)} waiting for ${what} (${(e as Error).message.split("\n")[0]})`);
  }
}

/** How many pixels differ between two screenshots (every pixel when their sizes differ). */
function differingPixels(a: Buffer, b: Buffer): { differ: number; total: number } {
  const x = decodePng(a);
  const y = decodePng(b);
  const total = x.width * x.height;
  if (x.width !== y.width || x.height !== y.height) return { differ: Math.max(total, y.width * y.height), total };
  let differ = 0;
  for (let i = 0; i < x.pixels.length; i += 4) {
    if (x.pixels[i] !== y.pixels[i] || x.pixels[i + 1] !== y.pixels[i + 1] || x.pixels[i + 2] !== y.pixels[i + 2] || x.pixels[i + 3] !== y.pixels[i + 3]) differ++;
  }
  return { differ, total };
}

/** A screenshot of the chart. An update replaces the image element, which can happen between finding it and
 * taking the picture ("Node is detached"): then the new one is taken. */
async function chartScreenshot(page: Page, images: string): Promise<Buffer> {
  for (let attempt = 1; ; attempt++) {
    const img = (await page.evaluateHandle(`${images}[0]`)).asElement() as ElementHandle | null;
    if (!img) throw new Error("the chart disappeared from the cell's output");
    try {
      return Buffer.from(await img.screenshot({ type: "png" }));
    } catch (e) {
      if (attempt >= 10 || !/detached/i.test((e as Error).message)) throw e;
    }
  }
}

async function check(s: Session, plan: Plan, shots: string | undefined): Promise<string[]> {
  const t0 = Date.now();
  const { cell, running: RUNNING, done: DONE, images: IMAGES } = cellExpressions(plan.watch);
  const { base, token } = await startServer(s, plan);
  console.log(`jupyter notebook ${spawnSync("jupyter", ["notebook", "--version"], { encoding: "utf8" }).stdout.trim()} serving on ${base} (${seconds(Date.now() - t0)})`);
  s.browser = await launchChromium(join(s.tmp, ".profile"), {
    handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false, // killWithProcess stops it with everything else
    defaultViewport: { width: 1000, height: 900 },
  });
  const page = await s.browser.newPage();
  await page.goto(`${base}/notebooks/${encodeURIComponent(plan.name)}?token=${token}`, { waitUntil: "domcontentloaded", timeout: stepTimeoutMs });
  await waitFor(page, "the notebook's kernel to be ready", KERNEL_IDLE);
  console.log(`notebook open, kernel idle (${seconds(Date.now() - t0)})`);

  if (plan.runAll) {
    await page.click("#celllink"); // the Cell menu
    await page.click("#run_all_cells > a");
  } else {
    await page.click(".code_cell .CodeMirror");
    await page.keyboard.down("Shift");
    await page.keyboard.press("Enter");
    await page.keyboard.up("Shift");
  }
  const shoot = async (name: string) => {
    const png = await chartScreenshot(page, IMAGES);
    if (shots) await page.screenshot({ path: join(shots, `${name}.png`) }); // the notebook scrolls inside the window
    return { png, running: (await page.evaluate(RUNNING)) as boolean };
  };

  await waitFor(page, "the first chart in the cell's output", `${IMAGES}.length > 0`);
  const during = await shoot("during");
  if (!during.running) throw new Error("the cell finished before its chart could be seen while running");
  const firstSrc = (await page.evaluate(`${IMAGES}[0].src`)) as string;
  await new Promise((r) => setTimeout(r, 3000)); // "a few seconds later": then at least one redraw since
  await waitFor(page, "the chart to be redrawn", `${IMAGES}[0].src !== ${JSON.stringify(firstSrc)} || ${DONE}`);
  const later = await shoot("later");
  await waitFor(page, "the cell to finish", DONE);
  if (shots) {
    await chartScreenshot(page, IMAGES); // scrolls the chart into view
    await page.screenshot({ path: join(shots, "end.png") });
  }
  const images = (await page.evaluate(`${IMAGES}.length`)) as number;
  const stderr = (await page.evaluate(`[...${cell}.querySelectorAll(".output_stderr, .output_error")].map((e) => e.textContent).join("\\n")`)) as string;

  const problems: string[] = [];
  if (stderr.trim()) problems.push(`the cell wrote errors: ${stderr.trim()}`);
  const { differ, total } = differingPixels(during.png, later.png);
  const when = later.running ? "both while the cell ran" : "the second after it finished";
  if (differ === 0) problems.push(`the chart did not change: two screenshots of it (${when}) are identical`);
  else console.log(`the chart changed during the run: ${differ} of ${total} pixels differ between two screenshots (${when})`);
  if (images !== 1) problems.push(`${images} chart images remain in the cell's output, expected exactly 1`);
  else console.log("one chart remains when the cell is done");
  console.log(`checked in ${seconds(Date.now() - t0)}${shots ? `; screenshots in ${shots}` : ""}`);
  return problems;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { screenshots: { type: "string" }, cell: { type: "string" }, notebook: { type: "string" }, timeout: { type: "string" } });
  const timeout = intOption("timeout", values.timeout, 1, 120)!;
  if (timeout > 86_400) throw new UsageError(`--timeout must be at most 86400 seconds (a day), got ${timeout}`);
  stepTimeoutMs = timeout * 1000;
  if (values.cell !== undefined && values.notebook !== undefined) throw new UsageError("--cell and --notebook exclude each other (a cell of its own, or a lecture notebook's)");
  const shots = values.screenshots === undefined ? undefined : resolve(values.screenshots);
  if (shots && existsSync(shots) && readdirSync(shots).length) throw new UsageError(`--screenshots ${shots}: the folder is not empty (expected a new or empty folder: nothing is overwritten)`);
  let cell = CELL;
  if (values.cell !== undefined) {
    try {
      cell = readFileSync(values.cell, "utf8");
    } catch (e) {
      throw new UsageError(`--cell ${resolve(values.cell)}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); expected a file holding the cell's code`);
    }
  }
  let plan: Plan;
  if (values.notebook !== undefined) {
    const path = resolve(values.notebook);
    try {
      plan = lectureNotebook(path);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`--notebook ${(e as Error).message}`);
    }
  } else {
    plan = scratch(cell);
  }
  prerequisites();
  if (shots) mkdirSync(shots, { recursive: true });
  const session = new Session();
  killWithProcess(session);
  let problems: string[];
  try {
    problems = await check(session, plan, shots);
  } catch (e) {
    if (session.serverLog && !(e instanceof UsageError)) console.error(`jupyter notebook's last output:\n${session.serverLog.trim().split("\n").slice(-10).join("\n")}`);
    throw e;
  } finally {
    await session.stop();
  }
  if (problems.length) {
    console.error(`✗ live chart check failed:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    return 1;
  }
  console.log("✓ live chart check passed; server, kernel and browser stopped");
  return 0;
}

runCli(main, USAGE, { exit: true });
