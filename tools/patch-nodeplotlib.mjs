// Run by `npm install` (postinstall): nodeplotlib 1.1.2 (train --plot) as shipped is neither private nor offline.
// - Its NestJS server calls `app.listen(port)`, which listens on every interface: anyone on the network could read
//   the training curves and drive its socket. Bound to 127.0.0.1 (and the address it prints and opens says so).
// - Its page loads plotly 1.58.4 and its fonts from CDNs: offline the page is empty ("Plotly is not defined"). Plotly
//   now comes from the npm package plotly.js-dist-min (pinned to that version), copied next to the page in the
//   folder nodeplotlib serves; the Roboto fonts are dropped (the page falls back to the system's sans-serif) and the
//   one Material icon (the tutorial button's) is drawn by an inline SVG instead of the icon font.
// - Its chart component calls Plotly.react on the chart's element in ngOnChanges, which Angular runs once before the
//   element exists (a @ViewChild is set only at view init): "Cannot read properties of undefined (reading
//   'nativeElement')" once per chart. ngAfterViewInit draws that first data anyway, so the early call is skipped.
// Idempotent (each edit is recognised when already made); nodeplotlib and plotly.js-dist-min are optional (absent:
// nothing to do); a version whose code differs is left alone with a note. Files are written to a temp name and renamed.
import { copyFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const MARK = "patched by cnn-basics-ts tools/patch-nodeplotlib.mjs";
/** The local copy of plotly the page loads, in the folder nodeplotlib's server serves. */
const LOCAL_PLOTLY = "plotly.min.js";

// An inline light bulb (for Material's "tips_and_updates") in the page's toolbar colour; the ligature text is hidden.
const BULB = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' fill='white'%3E%3Cpath d='M12 2a7 7 0 0 0-4 12.7V17a1 1 0 0 0 1 1h6a1 1 0 0 0 1-1v-2.3A7 7 0 0 0 12 2zM9 19.5h6V21a1 1 0 0 1-1 1h-4a1 1 0 0 1-1-1z'/%3E%3C/svg%3E";

/** [file under nodeplotlib's src/lib, what the edit does, text to find (1.1.2's), its replacement]. */
const EDITS = [
  ["nodeplotlib.js", "its server listens on 127.0.0.1 only",
    "        yield app.listen(port);\n",
    `        yield app.listen(port, '127.0.0.1'); // ${MARK}: this machine only\n`],
  ["nodeplotlib.js", "it prints the address it listens on",
    "console.log('[Nodeplotlib] Server running at', `http://localhost:${actualPort}`);",
    `console.log('[Nodeplotlib] Server running at', \`http://127.0.0.1:\${actualPort}\`); // ${MARK}`],
  ["server/services/bridge.service.js", "it opens the address it listens on",
    "(0, open_window_1.openWindow)(`http://localhost:${port}`);",
    `(0, open_window_1.openWindow)(\`http://127.0.0.1:\${port}\`); // ${MARK}`],
  ["server/web/index.html", "its page loads plotly from this machine, not a CDN",
    '<script type="text/javascript" src="https://cdn.plot.ly/plotly-1.58.4.min.js" defer></script>',
    `<script type="text/javascript" src="${LOCAL_PLOTLY}" defer></script><!-- ${MARK}: plotly.js-dist-min, offline -->`],
  ["server/web/index.html", "its page uses the system's fonts, not a font CDN",
    /<link rel="preconnect" href="https:\/\/fonts\.gstatic\.com">\s*<style type="text\/css">@font-face\{font-family:'Roboto'[^<]*<\/style>/,
    `<!-- ${MARK}: Roboto from fonts.gstatic.com dropped (offline): the system's sans-serif -->`],
  ["server/web/index.html", "its toolbar icon is an inline SVG, not a CDN icon font",
    /<style type="text\/css">@font-face\{font-family:'Material Icons'[^<]*<\/style>/,
    `<style type="text/css">/* ${MARK}: no icon font from a CDN */.material-icons{font-size:0!important;color:transparent;display:inline-block;width:24px;height:24px;background:url("${BULB}") center/24px 24px no-repeat}</style>`],
  ["server/web/main.js", "its charts draw without 'nativeElement' errors",
    "ngOnChanges(t){t.plotData&&Plotly.react(this.plotContainer.nativeElement",
    `ngOnChanges(t){/* ${MARK} */t.plotData&&this.plotContainer&&Plotly.react(this.plotContainer.nativeElement`],
];

function writeAtomically(file, text) {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

let pkg;
try {
  pkg = require.resolve("nodeplotlib/package.json");
} catch {
  console.log("nodeplotlib not installed (optional): nothing to patch");
  process.exit(0);
}
const lib = join(dirname(pkg), "src", "lib");
const texts = new Map();
const done = [], already = [], unknown = [];
for (const [rel, what, find, replacement] of EDITS) {
  const file = join(lib, rel);
  if (!texts.has(file)) texts.set(file, existsSync(file) ? readFileSync(file, "utf8") : "");
  const src = texts.get(file);
  if (src.includes(replacement)) already.push(what);
  else if (typeof find === "string" ? src.includes(find) : find.test(src)) {
    texts.set(file, src.replace(find, () => replacement));
    done.push(what);
  } else unknown.push(`${what} (${file})`);
}
for (const [file, text] of texts) if (existsSync(file) && text !== readFileSync(file, "utf8")) writeAtomically(file, text);

// The page's plotly: the npm package's file, copied when missing or different (another version installed).
let plotly;
try {
  plotly = require.resolve("plotly.js-dist-min/plotly.min.js");
} catch {
  unknown.push("plotly.js-dist-min is not installed: the page has no plotly (run `npm install`)");
}
if (plotly) {
  const local = join(lib, "server", "web", LOCAL_PLOTLY);
  if (existsSync(local) && readFileSync(local).equals(readFileSync(plotly))) already.push("its page has plotly");
  else {
    const tmp = `${local}.tmp-${process.pid}`;
    copyFileSync(plotly, tmp);
    renameSync(tmp, local);
    done.push(`its page has plotly (${plotly})`);
  }
}

if (done.length) console.log(`nodeplotlib patched: ${done.join("; ")} (${lib})`);
if (already.length && !done.length && !unknown.length) console.log(`nodeplotlib already patched: listens on 127.0.0.1 only, works offline (${lib})`);
if (unknown.length) console.log(`note: nodeplotlib is not the 1.1.2 code this project patches; not done: ${unknown.join("; ")}`);
