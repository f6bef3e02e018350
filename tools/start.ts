// `npm start`: open the notebooks in JupyterLab (or the classic Notebook) with the project's tslab kernelspec;
// without Jupyter, execute every notebook and write the static HTML book instead.
import { spawn, spawnSync } from "node:child_process";
import { delimiter, join } from "node:path";
import { buildBook } from "./book";
import { JUPYTER_PATH, PROJECT_ROOT } from "./jupyter/kernel";
import { listNotebooks } from "./nbrun";

export type JupyterApp = "lab" | "notebook";

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

async function main(): Promise<void> {
  const app = findJupyter();
  if (app) {
    console.log(`opening Jupyter${app === "lab" ? "Lab" : " Notebook"} on notebooks/ (kernel "TypeScript" from ${JUPYTER_PATH})`);
    // Bound to localhost; Jupyter's token auth stays on (it prints the URL with the token).
    const args = [app, "--ip=127.0.0.1", `--notebook-dir=${join(PROJECT_ROOT, "notebooks")}`];
    if (process.getuid?.() === 0) args.push("--allow-root"); // containers often run as root; Jupyter refuses without it
    const child = spawn("jupyter", args, { stdio: "inherit", env: jupyterEnv() });
    child.on("exit", (code) => process.exit(code ?? 0));
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => child.kill(sig));
    return;
  }
  console.log("Jupyter is not installed (install it with `pip install jupyterlab`, or your distribution's package, e.g. `apt install jupyter-notebook`); writing the notebooks as a static HTML book instead.");
  const index = await buildBook(listNotebooks([]), join(PROJECT_ROOT, "book"));
  console.log(`\nbook written: ${index}`);
}

if (require.main === module) {
  main().catch((e) => { console.error(e instanceof Error ? e.message : e); process.exit(1); });
}
