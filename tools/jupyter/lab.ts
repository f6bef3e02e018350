// Which Jupyter `npm start` opens, and the project-local JupyterLab it sets up where none is installed: a venv in
// .jupyter/venv (git-ignored, with the kernelspec) holding a pinned JupyterLab, made once with the machine's python3.
// Also the project's Jupyter config folder .jupyter/config (JUPYTER_CONFIG_DIR), whose custom/custom.css gives
// JupyterLab the bundled NanumGothic for Hangul: a machine without a Korean font would show boxes.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { FONT_DIR, FONT_FILES } from "cnn-lab/dist/display/font";
import { writeFileAtomic } from "../working-copy";
import { JUPYTER_PATH } from "./kernel";

/** The JupyterLab the project sets up, tested by CI (`npm start -- --setup` installs it there too). */
export const JUPYTERLAB_PIN = "jupyterlab==4.6.4";
/** JupyterLab 4.6 needs Python 3.10 or newer. */
const MIN_PYTHON: [number, number] = [3, 10];
export const VENV = join(JUPYTER_PATH, "venv");
/** Written (atomically) once pip has finished: a venv without it is a set-up that was interrupted. */
const readyMarker = (venv: string) => join(venv, "cnn-lab-ready");
const venvJupyter = (venv: string) => join(venv, "bin", "jupyter");
export const CONFIG_DIR = join(JUPYTER_PATH, "config");

export type JupyterApp = "lab" | "notebook";
/** A Jupyter to open: the `jupyter` command to run and its front end. */
export interface Jupyter { app: JupyterApp; command: string; where: "PATH" | "project" }

/** What the decision looks at, injectable for tests (no Jupyter or pip is run). */
export interface Probes {
  /** Does `command app --version` succeed? */
  runs(command: string, app: JupyterApp): boolean;
  /** python3's version, or undefined when there is no python3. */
  python(): [number, number] | undefined;
  /** The project venv finished setting up (its ready marker names the pin). */
  venvReady(): boolean;
}

export type Decision =
  | { open: Jupyter }
  | { install: true }
  | { none: string }; // why nothing can be opened: npm start writes the book instead

/**
 * JupyterLab before the classic Notebook: a JupyterLab on PATH, else the project's, else a classic Notebook on
 * PATH; where there is none, set one up when python3 (3.10+) is there; otherwise nothing (the book). `labOnly`
 * (npm start -- --setup): a classic Notebook does not count.
 */
export function decide(p: Probes, labOnly = false): Decision {
  if (p.runs("jupyter", "lab")) return { open: { app: "lab", command: "jupyter", where: "PATH" } };
  if (p.venvReady() && p.runs(venvJupyter(VENV), "lab")) return { open: { app: "lab", command: venvJupyter(VENV), where: "project" } };
  if (!labOnly && p.runs("jupyter", "notebook")) return { open: { app: "notebook", command: "jupyter", where: "PATH" } };
  const py = p.python();
  if (!py) return { none: "Jupyter is not installed and there is no python3 to set up JupyterLab with" };
  if (py[0] < MIN_PYTHON[0] || (py[0] === MIN_PYTHON[0] && py[1] < MIN_PYTHON[1])) {
    return { none: `Jupyter is not installed and python3 ${py.join(".")} is too old for JupyterLab 4 (it needs ${MIN_PYTHON.join(".")} or newer)` };
  }
  return { install: true };
}

export const realProbes = (env: NodeJS.ProcessEnv = process.env): Probes => ({
  runs: (command, app) => spawnSync(command, [app, "--version"], { env, stdio: "ignore", timeout: 120_000 }).status === 0, // slow on a loaded machine
  python: () => {
    const r = spawnSync("python3", ["-c", "import sys; print(sys.version_info[0], sys.version_info[1])"], { env, encoding: "utf8", timeout: 30_000 });
    const m = r.status === 0 ? /^(\d+) (\d+)/.exec(r.stdout) : null;
    return m ? [Number(m[1]), Number(m[2])] : undefined;
  },
  venvReady: () => existsSync(readyMarker(VENV)) && readFileSync(readyMarker(VENV), "utf8").trim() === JUPYTERLAB_PIN,
});

/** Runs a command to its end, output captured; injectable so tests make no venv. */
export type Runner = (cmd: string, args: string[]) => Promise<{ status: number | null; stdout: string; stderr: string }>;

/**
 * Makes .jupyter/venv with python3 and pip-installs the pinned JupyterLab (`--retries 0`: an index it cannot reach
 * fails at once instead of after minutes of retries). A venv left by an interrupted set-up (no ready marker) is
 * ours and is made anew. Throws with pip's last lines when it fails.
 */
export async function setupVenv(run: Runner, log: (line: string) => void, venv = VENV): Promise<string> {
  log(`setting up ${JUPYTERLAB_PIN} in ${venv} (once; about a minute) …`);
  rmSync(venv, { recursive: true, force: true });
  const steps: Array<[string, string[]]> = [
    ["python3", ["-m", "venv", venv]],
    [join(venv, "bin", "pip"), ["install", "--quiet", "--retries", "0", "--disable-pip-version-check", JUPYTERLAB_PIN]],
  ];
  for (const [cmd, args] of steps) {
    const r = await run(cmd, args);
    if (r.status !== 0) {
      const last = `${r.stdout}\n${r.stderr}`.trim().split("\n").filter((l) => !/^WARNING: Location/.test(l)).slice(-3).join("\n  ");
      throw new Error(`${[cmd, ...args].join(" ")} failed (exit ${r.status})${last ? `:\n  ${last}` : ""}`);
    }
  }
  writeFileAtomic(readyMarker(venv), JUPYTERLAB_PIN + "\n");
  return venvJupyter(venv);
}

// Hangul only (syllables, jamo, compatibility jamo, CJK punctuation, full-width forms): every other character keeps
// JupyterLab's own fonts.
const HANGUL_RANGE = "U+1100-11FF,U+3000-303F,U+3130-318F,U+A960-A97F,U+AC00-D7AF,U+D7B0-D7FF,U+FF00-FFEF";
export const HANGUL_FAMILY = "CnnLab Hangul";
const KOREAN_FILE = FONT_FILES[1];

/**
 * custom.css for JupyterLab (served from CONFIG_DIR/custom when LabApp.custom_css is on): the bundled Korean
 * NanumGothic file, first in JupyterLab's UI, content and code font lists and limited to Hangul by unicode-range.
 * The variables are set on body: the theme sets them on :root, and body's values win for everything inside it.
 */
export function customCss(): string {
  const defaults = {
    "--jp-ui-font-family": "system-ui, -apple-system, blinkmacsystemfont, 'Segoe UI', helvetica, arial, sans-serif, 'Apple Color Emoji', 'Segoe UI Emoji', 'Segoe UI Symbol'",
    "--jp-content-font-family": "system-ui, -apple-system, blinkmacsystemfont, 'Segoe UI', helvetica, arial, sans-serif, 'Apple Color Emoji', 'Segoe UI Emoji', 'Segoe UI Symbol'",
    "--jp-code-font-family": "menlo, consolas, 'DejaVu Sans Mono', monospace",
  };
  return `/* Written by npm start (tools/jupyter/lab.ts): the bundled NanumGothic (SIL OFL) for Hangul. */
@font-face{font-family:"${HANGUL_FAMILY}";src:url("fonts/${KOREAN_FILE}") format("woff2");unicode-range:${HANGUL_RANGE}}
body{${Object.entries(defaults).map(([k, v]) => `${k}:"${HANGUL_FAMILY}", ${v}`).join(";")}}
`;
}

/** Writes CONFIG_DIR/custom/custom.css and the font beside it (with its licence); returns the CSS file's path. */
export function writeLabConfig(configDir = CONFIG_DIR): string {
  const custom = join(configDir, "custom");
  mkdirSync(join(custom, "fonts"), { recursive: true });
  for (const file of [KOREAN_FILE, "NanumGothic-OFL.txt"]) writeFileAtomic(join(custom, "fonts", file), readFileSync(join(FONT_DIR, file)));
  const css = join(custom, "custom.css");
  writeFileAtomic(css, customCss());
  return css;
}

/**
 * The environment Jupyter runs in: the project's kernelspec first on JUPYTER_PATH, the project's config folder
 * (custom.css), and the learner's own JupyterLab settings and workspaces where they were (JupyterLab would
 * otherwise look for them under the config folder).
 */
export function jupyterEnv(env: NodeJS.ProcessEnv = process.env, configDir = CONFIG_DIR): NodeJS.ProcessEnv {
  const own = env.JUPYTER_CONFIG_DIR ?? join(homedir(), ".jupyter");
  const path = env.JUPYTER_PATH;
  return {
    ...env,
    JUPYTER_PATH: path ? `${JUPYTER_PATH}:${path}` : JUPYTER_PATH,
    JUPYTER_CONFIG_DIR: configDir,
    JUPYTERLAB_SETTINGS_DIR: env.JUPYTERLAB_SETTINGS_DIR ?? join(own, "lab", "user-settings"),
    JUPYTERLAB_WORKSPACES_DIR: env.JUPYTERLAB_WORKSPACES_DIR ?? join(own, "lab", "workspaces"),
  };
}
