// `npm start`: open the notebooks in JupyterLab (or the classic Notebook) with the project's tslab kernelspec;
// without Jupyter, write the static HTML book from the notebooks' committed outputs (in seconds, nothing runs).
import { spawn, spawnSync } from "node:child_process";
import { delimiter, dirname, join } from "node:path";
import { buildBook } from "./book/book";
import { DRAW_PAGE } from "./book/drawpad";
import { parseFlags, runCli } from "./cli/cli";
import { runNotebook } from "./jupyter/execute";
import { JUPYTER_PATH, PROJECT_ROOT } from "./jupyter/kernel";
import { listNotebooks } from "./jupyter/nbrun";

export type JupyterApp = "lab" | "notebook";

export const USAGE = `usage: npm start [-- --book | --execute | --help]
  (no option)  open the notebooks in JupyterLab (or the classic Notebook); without Jupyter, write the HTML book
               book/index.html from the notebooks' committed outputs (nothing is executed)
  --book       write the book from the committed outputs even when Jupyter is installed
  --execute    write the book after re-executing every notebook (minutes; one progress line per cell), with the
               full-CNN notebook's quick training schedule CNN_QUICK=1 unless CNN_QUICK is set
  --help       print this text`;

/** Which Jupyter front end is installed, if any. */
export function findJupyter(env: NodeJS.ProcessEnv = process.env): JupyterApp | undefined {
  for (const app of ["lab", "notebook"] as const) {
    const r = spawnSync("jupyter", [app, "--version"], { env, stdio: "ignore", timeout: 30_000 });
    if (r.status === 0) return app;
  }
  return undefined;
}

function jupyterEnv(): NodeJS.ProcessEnv {
  const prev = process.env.JUPYTER_PATH;
  return { ...process.env, JUPYTER_PATH: prev ? `${JUPYTER_PATH}${delimiter}${prev}` : JUPYTER_PATH };
}

function openJupyter(app: JupyterApp): Promise<number> {
  console.log(`opening Jupyter${app === "lab" ? "Lab" : " Notebook"} on notebooks/ (kernel "TypeScript" from ${JUPYTER_PATH})`);
  // Bound to localhost; Jupyter's token auth stays on (it prints the URL with the token).
  const args = [app, "--ip=127.0.0.1", `--notebook-dir=${join(PROJECT_ROOT, "notebooks")}`];
  if (process.getuid?.() === 0) args.push("--allow-root"); // containers often run as root; Jupyter refuses without it
  const child = spawn("jupyter", args, { stdio: "inherit", env: jupyterEnv() });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => child.kill(sig));
  return new Promise((ok) => child.on("exit", (code) => ok(code ?? 0)));
}

export interface StartDeps {
  findJupyter: () => JupyterApp | undefined;
  run: typeof runNotebook;
  notebooks: string[];
  outDir: string;
  log: (line: string) => void;
}

export async function start(argv: string[], deps: Partial<StartDeps> = {}): Promise<number> {
  const { values } = parseFlags(argv, { book: { type: "boolean" }, execute: { type: "boolean" } });
  const book = values.book ?? false, execute = values.execute ?? false;
  const log = deps.log ?? console.log;
  if (!book && !execute) {
    const app = (deps.findJupyter ?? findJupyter)();
    if (app) return openJupyter(app);
    log("Jupyter is not installed (install it with `pip install jupyterlab`, or your distribution's package, e.g. `apt install jupyter-notebook`); writing the notebooks as a static HTML book instead.");
  }
  if (execute) {
    process.env.CNN_QUICK ??= "1"; // the kernel inherits it: the full-CNN notebook trains for minutes, not 35
    log(`re-executing every notebook (CNN_QUICK=${process.env.CNN_QUICK}), then writing the book …`);
  } else {
    log("writing the book from the notebooks' committed outputs (nothing is executed; `npm start -- --execute` re-executes them) …");
  }
  const index = await buildBook(deps.notebooks ?? listNotebooks([]), deps.outDir ?? join(PROJECT_ROOT, "book"), { execute, log, run: deps.run });
  log(`\nbook written ${execute ? "from a fresh run" : "from the committed outputs"}: ${index} (open it in a browser)`);
  log(`draw a digit and see the CNN's answer: ${join(dirname(index), DRAW_PAGE)} (works offline from file://, no server)`);
  return 0;
}

if (require.main === module) runCli((argv) => start(argv), USAGE);
