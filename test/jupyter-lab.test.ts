// Which Jupyter npm start opens or sets up (probes injected: no Jupyter or pip runs here), the venv set-up's commands
// and failure handling (runner injected), and the custom.css that gives JupyterLab the bundled NanumGothic.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { FONT_DIR } from "cnn-lab/dist/display/font";
import { decide, HANGUL_FAMILY, JUPYTERLAB_PIN, jupyterEnv, setupVenv, VENV, writeLabConfig, type JupyterApp, type Probes, type Runner } from "../tools/jupyter/lab";

const root = join(__dirname, "..");
let dir: string;
before(() => { mkdirSync(join(root, "test", ".tmp"), { recursive: true }); dir = mkdtempSync(join(root, "test", ".tmp", "lab-")); });
after(() => rmSync(dir, { recursive: true, force: true }));

function probes(o: { path?: JupyterApp[]; venv?: boolean; python?: [number, number] }): Probes {
  return {
    runs: (command, app) => (command === "jupyter" ? (o.path ?? []).includes(app) : command === join(VENV, "bin", "jupyter") && !!o.venv && app === "lab"),
    python: () => o.python,
    venvReady: () => !!o.venv,
  };
}

test("decide: JupyterLab on PATH, else the project's, else the classic Notebook; else set up with python3 >= 3.10; else the book", () => {
  assert.deepEqual(decide(probes({ path: ["lab", "notebook"], venv: true, python: [3, 11] })), { open: { app: "lab", command: "jupyter", where: "PATH" } });
  const project = { open: { app: "lab", command: join(VENV, "bin", "jupyter"), where: "project" } };
  assert.deepEqual(decide(probes({ path: ["notebook"], venv: true })), project, "the project's JupyterLab before a classic Notebook");
  assert.deepEqual(decide(probes({ venv: true })), project, "once set up, no second set-up");
  assert.deepEqual(decide(probes({ path: ["notebook"], python: [3, 11] })), { open: { app: "notebook", command: "jupyter", where: "PATH" } }, "an installed Notebook, no set-up");
  assert.deepEqual(decide(probes({ path: ["notebook"], python: [3, 11] }), true), { install: true }, "--setup: JupyterLab even where a classic Notebook is");
  assert.deepEqual(decide(probes({ python: [3, 10] })), { install: true });
  assert.deepEqual(decide(probes({ python: [4, 0] })), { install: true });
  assert.deepEqual(decide(probes({ python: [3, 9] })), { none: "Jupyter is not installed and python3 3.9 is too old for JupyterLab 4 (it needs 3.10 or newer)" });
  assert.deepEqual(decide(probes({})), { none: "Jupyter is not installed and there is no python3 to set up JupyterLab with" });
});

test("setupVenv: python3 -m venv then pip install --retries 0 of the pin, one progress line, a ready marker last", async () => {
  const venv = join(dir, "venv");
  mkdirSync(venv);
  writeFileSync(join(venv, "half-done"), "left by an interrupted set-up");
  const calls: string[] = [];
  const run: Runner = async (cmd, args) => {
    calls.push([cmd, ...args].join(" "));
    assert.ok(!existsSync(join(venv, "cnn-lab-ready")), "not ready before pip has finished");
    return { status: 0, stdout: "", stderr: "" };
  };
  const lines: string[] = [];
  const jupyter = await setupVenv(run, (l) => lines.push(l), venv);
  assert.deepEqual(calls, [`python3 -m venv ${venv}`, `${venv}/bin/pip install --quiet --retries 0 --disable-pip-version-check ${JUPYTERLAB_PIN}`]);
  assert.match(JUPYTERLAB_PIN, /^jupyterlab==4\.\d+\.\d+$/, "a pinned JupyterLab 4");
  assert.equal(jupyter, join(venv, "bin", "jupyter"));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^setting up jupyterlab==4\.\S+ in .*venv \(once; about a minute\) …$/);
  assert.equal(readFileSync(join(venv, "cnn-lab-ready"), "utf8"), `${JUPYTERLAB_PIN}\n`);
  assert.ok(!existsSync(join(venv, "half-done")), "an interrupted set-up's venv (ours) is made anew");
});

test("setupVenv: a failing pip is an error with its last lines (index warnings dropped), and no ready marker", async () => {
  const venv = join(dir, "failing");
  const run: Runner = async (cmd) => cmd.endsWith("pip")
    ? { status: 1, stdout: "", stderr: "WARNING: Location 'file:///x' is ignored\nERROR: Could not find a version that satisfies the requirement jupyterlab==4.6.4\nERROR: No matching distribution found" }
    : { status: 0, stdout: "", stderr: "" };
  await assert.rejects(setupVenv(run, () => {}, venv), (e: Error) => /pip install .* failed \(exit 1\):\n  ERROR: Could not find a version .*\n  ERROR: No matching distribution found$/.test(e.message) && !/WARNING/.test(e.message));
  assert.ok(!existsSync(join(venv, "cnn-lab-ready")));
});

test("custom.css: the bundled Korean NanumGothic, served beside it, first in JupyterLab's font lists for Hangul only", () => {
  const config = join(dir, "config");
  const css = writeLabConfig(config);
  assert.equal(css, join(config, "custom", "custom.css"));
  const text = readFileSync(css, "utf8");
  const url = /@font-face\{font-family:"CnnLab Hangul";src:url\("(fonts\/[^"]+\.woff2)"\) format\("woff2"\);unicode-range:([^}]+)\}/.exec(text);
  assert.ok(url, text);
  assert.deepEqual(readFileSync(join(config, "custom", url[1])), readFileSync(join(FONT_DIR, "nanum-gothic-korean-400-normal.woff2")));
  assert.ok(existsSync(join(config, "custom", "fonts", "NanumGothic-OFL.txt")), "with its licence");
  assert.ok(url[2].includes("U+AC00-D7AF"), "Hangul syllables");
  for (const v of ["--jp-ui-font-family", "--jp-content-font-family", "--jp-code-font-family"]) {
    assert.match(text, new RegExp(`body\\{[^}]*${v}:"${HANGUL_FAMILY}", `), `${v} starts with the Hangul font`);
  }
});

test("jupyterEnv: the project's kernelspec first, the project's config folder, the learner's own JupyterLab settings kept", () => {
  const env = jupyterEnv({ HOME: "/home/u", JUPYTER_PATH: "/elsewhere" }, "/p/.jupyter/config");
  assert.equal(env.JUPYTER_PATH, `${join(root, ".jupyter")}:/elsewhere`);
  assert.equal(env.JUPYTER_CONFIG_DIR, "/p/.jupyter/config");
  assert.match(env.JUPYTERLAB_SETTINGS_DIR!, /\.jupyter\/lab\/user-settings$/);
  const own = jupyterEnv({ JUPYTER_CONFIG_DIR: "/mine" }, "/p/c");
  assert.equal(own.JUPYTERLAB_SETTINGS_DIR, "/mine/lab/user-settings");
  assert.equal(own.JUPYTERLAB_WORKSPACES_DIR, "/mine/lab/workspaces");
});
