// Installs @tensorflow/tfjs-node where its own download of libtensorflow cannot be reached: the TensorFlow CPU wheel
// from pip carries the same C API (libtensorflow_cc.so.2 + libtensorflow_framework.so.2 and the C headers). This packs
// them as the tarball tfjs-node's install script asks for, serves it on 127.0.0.1 for the length of the install
// (TFJS_NODE_BASE_URI), and lets npm run tfjs-node's ordinary install: download, then node-gyp builds the binding.
// The wheel is kept in a git-ignored cache; the tarball, its server and the temp folder go on every exit path.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { parseFlags, runCli, UsageError } from "./cli/cli";

const PROJECT_ROOT = resolve(__dirname, "..");
const PACKAGE = "@tensorflow/tfjs-node";
const TF_WHEEL = "tensorflow-cpu==2.21.0";
/** The file tfjs-node 4.22's scripts/install.js downloads on Linux x64: `${TFJS_NODE_BASE_URI}cpu-linux-x86_64-2.9.1.tar.gz`. */
const TARBALL = "libtensorflow-cpu-linux-x86_64-2.9.1.tar.gz";
export const DEFAULT_CACHE = join(PROJECT_ROOT, ".cache", "tfjs-node");

const USAGE = `usage: node --import tsx tools/tfjs-node-from-wheel.ts [--cache DIR] [--force]

Installs ${PACKAGE} (the version package.json names) with libtensorflow taken from pip's ${TF_WHEEL} wheel, for
machines that cannot reach tfjs-node's own download. Needs python3 with pip, a C++ compiler and make (node-gyp).
  --cache DIR  where the wheel is kept between runs (default .cache/tfjs-node, git-ignored)
  --force      rebuild even when ${PACKAGE} already loads`;

/** The tarball's members: every TF_ and TFE_ symbol is in libtensorflow_cc.so.2; the binding links -ltensorflow and
 * -ltensorflow_framework; its headers include tensorflow/c and, through them, the ctstring and tsl_status headers. */
const PACK_PY = String.raw`
import sys, tarfile, zipfile
whl, out = sys.argv[1], sys.argv[2]
INC = "tensorflow/include/"
KEEP = ("tensorflow/c/", "tensorflow/core/platform/ctstring", "tsl/platform/ctstring", "xla/tsl/c/")
z = zipfile.ZipFile(whl)
with tarfile.open(out, "w:gz", compresslevel=1) as t:
    def add(name, member, mode):
        info = z.getinfo(member)
        ti = tarfile.TarInfo(name); ti.size = info.file_size; ti.mode = mode
        with z.open(info) as f: t.addfile(ti, f)
    def link(name, target):
        ti = tarfile.TarInfo(name); ti.type = tarfile.SYMTYPE; ti.linkname = target; t.addfile(ti)
    for so in ("libtensorflow_cc.so.2", "libtensorflow_framework.so.2"):
        add("lib/" + so, "tensorflow/" + so, 0o755)
    link("lib/libtensorflow.so", "libtensorflow_cc.so.2")
    link("lib/libtensorflow_framework.so", "libtensorflow_framework.so.2")
    n = 0
    for m in z.namelist():
        rel = m[len(INC):]
        if m.startswith(INC) and not m.endswith("/") and rel.startswith(KEEP):
            add("include/" + rel, m, 0o644); n += 1
    if n == 0 or "tensorflow/include/tensorflow/c/c_api.h" not in z.namelist():
        sys.exit("the wheel has no C headers (tensorflow/include/tensorflow/c/c_api.h)")
`;

/** What this run started: the child running now, the server, the temp folder. kill() is synchronous, for the signal
 * and exit handlers. */
class Session {
  readonly tmp = mkdtempSync(join(tmpdir(), "tfjs-node-from-wheel-"));
  child?: ChildProcess;
  server?: Server;
  readonly alsoRemove: string[] = [];

  kill(): void {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      try { process.kill(-this.child.pid!, "SIGKILL"); } catch { /* gone */ }
    }
    this.server?.closeAllConnections();
    this.server?.close();
    for (const d of [this.tmp, ...this.alsoRemove]) rmSync(d, { recursive: true, force: true, maxRetries: 5 });
  }

  /** Runs a command in its own process group (so kill() stops what it starts too), output shared. */
  run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
    return new Promise((ok, fail) => {
      const child = spawn(cmd, args, { detached: true, env, cwd: PROJECT_ROOT, stdio: ["ignore", "inherit", "inherit"] });
      this.child = child;
      child.on("error", (e) => fail(new Error(`${cmd}: ${e.message}`)));
      child.on("close", (status, signal) => {
        if (status === 0) ok();
        else fail(new Error(`\`${cmd} ${args.join(" ")}\` failed (${signal ?? `exit ${status}`})`));
      });
    });
  }
}

function stopWithProcess(session: Session): void {
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  const onSignal = (sig: NodeJS.Signals) => {
    session.kill();
    for (const s of signals) process.removeListener(s, onSignal);
    process.kill(process.pid, sig); // die of the signal, as without the handler
  };
  for (const s of signals) process.on(s, onSignal);
  process.on("exit", () => session.kill());
}

/** The tfjs-node version package.json pins (its optionalDependencies). */
export function pinnedVersion(root = PROJECT_ROOT): string {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const v = pkg.optionalDependencies?.[PACKAGE] ?? pkg.dependencies?.[PACKAGE];
  if (typeof v !== "string" || !/^\d+\.\d+\.\d+$/.test(v)) {
    throw new Error(`${join(root, "package.json")}: expected an exact version of ${PACKAGE} in optionalDependencies, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Why tfjs-node does not load in a fresh Node (undefined when it does); its first line of error. */
export function tfjsNodeLoadError(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const r = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(PACKAGE)})`], { cwd: PROJECT_ROOT, encoding: "utf8", env: { ...env, TF_CPP_MIN_LOG_LEVEL: "3" } });
  if (r.status === 0) return undefined;
  return (r.stderr.split("\n").find((l) => /Error/.test(l)) ?? r.stderr.trim().split("\n")[0] ?? `exit ${r.status}`).trim();
}

/** The cached wheel, or pip downloads it into the cache (through a temp folder, renamed into place). */
async function wheel(session: Session, cache: string): Promise<string> {
  const cached = () => existsSync(cache) ? readdirSync(cache).find((f) => /^tensorflow_cpu-2\.21\.0-.*\.whl$/.test(f)) : undefined;
  const hit = cached();
  if (hit) {
    console.log(`wheel: ${join(cache, hit)} (cached)`);
    return join(cache, hit);
  }
  mkdirSync(cache, { recursive: true });
  const dl = join(cache, `.pip-${process.pid}`); // beside the cache, so the wheel is renamed into it whole
  session.alsoRemove.push(dl);
  console.log(`wheel: pip download ${TF_WHEEL}`);
  await session.run("python3", ["-m", "pip", "download", "--no-deps", "--retries", "0", "--only-binary", ":all:", "--disable-pip-version-check", "-d", dl, TF_WHEEL]);
  const got = readdirSync(dl).find((f) => f.endsWith(".whl"));
  if (!got) throw new Error(`pip download ${TF_WHEEL} left no wheel in ${dl}`);
  renameSync(join(dl, got), join(cache, got));
  return join(cache, got);
}

/** Serves `file` at /TARBALL on 127.0.0.1 (a free port); resolves to the base URI tfjs-node appends its name to. */
function serve(session: Session, file: string): Promise<string> {
  const size = statSync(file).size;
  const server = createServer((req, res) => {
    if (req.url !== `/${TARBALL}`) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/gzip", "content-length": size });
    createReadStream(file).pipe(res);
  });
  session.server = server;
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      if (!addr || typeof addr === "string") return fail(new Error("the tarball server has no port"));
      ok(`http://127.0.0.1:${addr.port}/libtensorflow-`);
    });
  });
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { cache: { type: "string" }, force: { type: "boolean" } });
  const cache = resolve(values.cache ?? DEFAULT_CACHE);
  if (existsSync(cache) && !statSync(cache).isDirectory()) throw new UsageError(`--cache ${cache} is not a folder`);
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(`the ${TF_WHEEL} wheel's libtensorflow is for Linux x64; this is ${process.platform} ${process.arch}`);
  }
  const version = pinnedVersion();
  if (!values.force && existsSync(join(PROJECT_ROOT, "node_modules", PACKAGE)) && !tfjsNodeLoadError()) {
    console.log(`${PACKAGE} already loads (--force rebuilds it)`);
    return 0;
  }
  const session = new Session();
  stopWithProcess(session);
  try {
    const whl = await wheel(session, cache);
    const tarball = join(session.tmp, TARBALL);
    console.log(`packing ${basename(tarball)} from the wheel`);
    await session.run("python3", ["-c", PACK_PY, whl, tarball]);
    const baseUri = await serve(session, tarball);
    // The download goes to 127.0.0.1: no proxy (tfjs-node's script would send it through one if set).
    const env: NodeJS.ProcessEnv = { ...process.env, TFJS_NODE_BASE_URI: baseUri};
    for (const k of ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]) delete env[k];
    if (!existsSync(join(PROJECT_ROOT, "node_modules", PACKAGE, "package.json"))) {
      // npm left the optional package out when its install failed: fetch it from the registry (proxy and all) first.
      console.log(`npm install ${PACKAGE}@${version} (scripts after, with the local tarball)`);
      await session.run("npm", ["install", "--no-save", "--ignore-scripts", "--no-audit", "--no-fund", `${PACKAGE}@${version}`]);
    }
    console.log(`npm rebuild ${PACKAGE}: libtensorflow from ${baseUri}${TARBALL.slice("libtensorflow-".length)}, then node-gyp`);
    await session.run("npm", ["rebuild", "--foreground-scripts", PACKAGE], env);
  } finally {
    session.kill();
  }
  const why = tfjsNodeLoadError();
  if (why) throw new Error(`${PACKAGE} was built but does not load: ${why}`);
  console.log(`${PACKAGE} loads`);
  return 0;
}

if (require.main === module) runCli(main, USAGE, { exit: true });
