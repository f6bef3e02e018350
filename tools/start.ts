// `npm start`: open JupyterLab (or the classic Notebook) with the project's tslab kernelspec on the learner's working
// copy my-notebooks/ (never on notebooks/: tools/working-copy.ts); where no Jupyter is installed but python3 is, set
// up a pinned JupyterLab in .jupyter/venv first (tools/jupyter/lab.ts); without either, write the static HTML book
// from the notebooks' committed outputs (in seconds, nothing runs).
import { dirname, join, relative } from "node:path";
import { runChild } from "./run-child.mjs";
import { buildBook } from "./book/book";
import { DRAW_PAGE } from "./book/drawpad";
import { parseFlags, runCli, UsageError } from "./cli/cli";
import { runNotebook } from "./jupyter/execute";
import { PROJECT_ROOT } from "./jupyter/kernel";
import { decide, jupyterEnv, realProbes, setupVenv, writeLabConfig, type Decision, type Jupyter, type Runner } from "./jupyter/lab";
import { startJupyterServer } from "./jupyter/server";
import { listNotebooks } from "./jupyter/nbrun";
import { resetWorkingCopy, syncWorkingCopy, WORK_DIR, type CopyDirs } from "./working-copy";

export const USAGE = `usage: npm start [-- --reset NAME|all | --setup | --book | --execute | --help]
  (no option)  open the notebooks in JupyterLab on your working copy my-notebooks/ (made from notebooks/ on the
               first start; your changes stay there, notebooks/ is never written). Where Jupyter is missing but
               python3 (3.10+) is there, JupyterLab is set up once in .jupyter/venv first; without Python, write the
               HTML book book/index.html from the notebooks' committed outputs (nothing is executed)
  --reset NAME|all  replace your copy of notebook NAME (e.g. 06-full-cnn, or 06), or of all, with the committed
               one, then open Jupyter; a copy you changed is kept beside it as NAME.backup-DATE.ipynb
  --setup      set up the project's JupyterLab (.jupyter/venv) unless a JupyterLab is installed, then exit
  --book       write the book from the committed outputs even when Jupyter is installed
  --execute    write the book after re-executing every notebook (minutes; one progress line per cell), with the
               full-CNN notebook's quick training schedule CNN_QUICK=1 unless CNN_QUICK is set
  --help       print this text`;

/** pip and venv run with their output captured (a failure shows its last lines); Ctrl-C stops them too. */
const captured: Runner = (cmd, args) => runChild(cmd, args, { capture: true });

/** The command line that opens `j` on `root`: bound to 127.0.0.1, token login on (Jupyter prints the URL). */
export function jupyterArgs(j: Jupyter, root: string, isRoot = process.getuid?.() === 0): string[] {
  const args = [j.app, "--ip=127.0.0.1", `--notebook-dir=${root}`];
  if (j.app === "lab") args.push("--LabApp.custom_css=True"); // custom.css: NanumGothic for Hangul
  args.push("--MultiKernelManager.default_kernel_name=tslab"); // a new notebook gets TypeScript, not Python
  if (isRoot) args.push("--allow-root"); // containers often run as root; Jupyter refuses without it
  return args;
}

async function openJupyter(j: Jupyter, log: (line: string) => void): Promise<number> {
  const name = j.app === "lab" ? "JupyterLab" : "Jupyter Notebook";
  writeLabConfig();
  log(`opening ${name}${j.where === "project" ? " (.jupyter/venv)" : ""} on ${relative(PROJECT_ROOT, WORK_DIR)}/, your working copy (kernel "TypeScript"); Ctrl-C stops it`);
  const server = startJupyterServer({ command: j.command, args: jupyterArgs(j, WORK_DIR), env: jupyterEnv() });
  const { code, signal } = await server.done;
  if (signal) process.kill(process.pid, signal); // end of the signal, as if it had not been caught
  return code ?? 1;
}

/** What `npm start` says about the working copy before Jupyter opens. */
function syncAndSay(dirs: CopyDirs | undefined, log: (line: string) => void): void {
  const r = syncWorkingCopy(dirs);
  const list = (names: string[]) => names.map((n) => n.replace(/\.ipynb$/, "")).join(", ");
  if (r.created.length) log(`working copy: ${r.created.length} notebook(s) copied from notebooks/ to ${relative(PROJECT_ROOT, dirs?.to ?? WORK_DIR)}/ (${list(r.created)})`);
  if (r.updated.length) log(`working copy: updated from notebooks/ (you had not changed them): ${list(r.updated)}`);
  if (r.outdated.length) log(`working copy: notebooks/ has newer versions of notebooks you changed: ${list(r.outdated)} (\`npm start -- --reset NAME\` takes the new one and keeps yours as a backup)`);
}

export interface StartDeps {
  decide: (labOnly: boolean) => Decision;
  setup: (log: (line: string) => void) => Promise<string>;
  open: (j: Jupyter, log: (line: string) => void) => Promise<number>;
  /** The working copy's folders (tests use their own). */
  copy: CopyDirs;
  run: typeof runNotebook;
  notebooks: string[];
  outDir: string;
  log: (line: string) => void;
  error: (line: string) => void;
}

export async function start(argv: string[], deps: Partial<StartDeps> = {}): Promise<number> {
  const { values } = parseFlags(argv, { book: { type: "boolean" }, execute: { type: "boolean" }, reset: { type: "string" }, setup: { type: "boolean" } });
  const book = values.book ?? false, execute = values.execute ?? false;
  const log = deps.log ?? console.log;
  if ((book || execute) && (values.reset !== undefined || values.setup)) throw new UsageError("--book and --execute write the book; --reset and --setup are for Jupyter (use one or the other)");
  if (values.reset !== undefined) {
    const r = resetWorkingCopy(values.reset, deps.copy);
    for (const b of r.backups) log(`working copy: your changed ${b.name} kept as ${b.backup}`);
    log(`working copy: ${r.reset.map((n) => n.replace(/\.ipynb$/, "")).join(", ")} reset from notebooks/`);
  }
  if (!book && !execute) {
    const decision = (deps.decide ?? ((labOnly) => decide(realProbes(), labOnly)))(values.setup ?? false);
    let jupyter: Jupyter | undefined;
    let why: string | undefined;
    if ("open" in decision) jupyter = decision.open;
    else if ("none" in decision) why = decision.none;
    else {
      try {
        const command = await (deps.setup ?? ((l) => setupVenv(captured, l)))(log);
        jupyter = { app: "lab", command, where: "project" };
      } catch (e) {
        why = `setting up JupyterLab failed: ${(e as Error).message}\n(\`npm start\` tries again next time; or install Jupyter yourself: \`pip install jupyterlab\`)`;
      }
    }
    if (values.setup) {
      if (!jupyter) throw new Error(why!);
      log(`Jupyter${jupyter.app === "lab" ? "Lab" : " Notebook"} ready: ${jupyter.command}${jupyter.where === "PATH" ? " (on PATH; nothing set up)" : ""}`);
      return 0;
    }
    if (jupyter) {
      syncAndSay(deps.copy, log);
      return (deps.open ?? openJupyter)(jupyter, log);
    }
    log(`${why}; writing the notebooks as a static HTML book instead.`);
  }
  if (execute) {
    process.env.CNN_QUICK ??= "1"; // the kernel inherits it: the full-CNN notebook trains for minutes, not 35
    log(`re-executing every notebook (CNN_QUICK=${process.env.CNN_QUICK}), then writing the book …`);
  } else {
    log("writing the book from the notebooks' committed outputs (nothing is executed; `npm start -- --execute` re-executes them) …");
  }
  const failed: string[] = [];
  const onFailed = (name: string, why: string) => failed.push(`${name}: ${why}`);
  const index = await buildBook(deps.notebooks ?? listNotebooks([]), deps.outDir ?? join(PROJECT_ROOT, "book"), { execute, log, run: deps.run, onFailed });
  log(`\nbook written ${execute ? "from a fresh run" : "from the committed outputs"}: ${index} (open it in a browser)`);
  log(`draw a digit and see the CNN's answer: ${join(dirname(index), DRAW_PAGE)} (works offline from file://, no server)`);
  if (!failed.length) return 0;
  // The book shows where each run stopped; the exit status tells a script (or CI) that the run failed.
  (deps.error ?? console.error)(`\n${failed.length} notebook(s) failed to execute (their pages end at the failing cell):\n${failed.map((f) => `  ✗ ${f}`).join("\n")}`);
  return 1;
}

if (require.main === module) runCli((argv) => start(argv), USAGE);
