// The book's drawing page: draw a digit, see the lecture CNN's answer, in the browser and offline from file://.
// Everything it loads is written next to it from the project: TF.js's own browser build, lib/dist/data/digit-image.js
// (the preprocessing `npm run predict` runs, the same file) and the shipped model inlined as a script (Chromium
// refuses fetch() of model.json from a file:// page).
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { MODEL_JSON, readArtifacts } from "cnn-lab/dist/checkpoints/checkpoint";
import { readProvenance, SHIPPED_MODEL_DIR } from "cnn-lab/dist/checkpoints/shipped-model";

export const DRAW_PAGE = "draw.html";
export const DRAW_TITLE = "숫자 그리기: CNN의 답 (draw a digit)";
const ASSETS = "drawpad";

export const DRAW_STYLE = `.pad{display:flex;flex-wrap:wrap;gap:1.5rem;align-items:flex-start;margin-bottom:1.2rem}
#pad{width:280px;height:280px;border:2px solid #4a7bd0;border-radius:6px;touch-action:none;cursor:crosshair;background:#fff}
#input28{width:168px;height:168px;image-rendering:pixelated;border:1px solid #ccc}
button{font:inherit;padding:.2rem 1rem;margin-top:.4rem}
#prediction{font-size:1.2rem;min-height:2.2em;margin:0 0 .5rem}#prediction strong{font-size:2rem;color:#4a7bd0}
.bar{display:flex;align-items:center;gap:.5rem;width:18rem}.bar .label{width:1rem;text-align:right}
.bar .track{flex:1;height:1rem;background:#eef2f8;border-radius:3px;overflow:hidden}
.bar .fill{display:block;height:100%;width:0;background:#9db3da}.bar.top .fill{background:#4a7bd0}
.bar .pct{width:3.5rem;text-align:right;font-variant-numeric:tabular-nums;font-size:.9rem}
#maps{display:grid;grid-template-columns:repeat(8,1fr);gap:4px;max-width:476px}#maps canvas{width:100%;aspect-ratio:1;image-rendering:pixelated}
h2{font-size:1.05rem;margin:.2rem 0 .5rem}`;

/** lib/dist/data/digit-image.js as a browser script defining `digitImage`: a CommonJS shim around the unchanged file. */
function digitImageScript(): string {
  const file = require.resolve("cnn-lab/dist/data/digit-image.js");
  const source = readFileSync(file, "utf8");
  // The shim provides `exports` only: the file must stay free of imports to run in the page.
  if (/\brequire\s*\(/.test(source)) throw new Error(`${file} requires other modules: the drawing page can only load it alone`);
  return `// lib/dist/data/digit-image.js, the preprocessing of \`npm run predict\`, unchanged inside a CommonJS shim.\n` +
    `var digitImage = (function () {\nvar exports = {};\n${source}\nreturn exports;\n})();\n`;
}

/** The model as a script defining `LECTURE_CNN`: topology, weight specs, weights as base64. */
function modelScript(dir: string): string {
  const a = readArtifacts(dir);
  const weights = Buffer.from(a.weightData as ArrayBuffer).toString("base64");
  return `// ${MODEL_JSON} and its weights from data/lecture-cnn, inlined so the page works from file://.\n` +
    `var LECTURE_CNN = ${JSON.stringify({ modelTopology: a.modelTopology, weightSpecs: a.weightSpecs, weightData: weights })};\n`;
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/**
 * Writes the drawing page's scripts to outDir/drawpad/ and returns the page's body. Without a shipped model in
 * modelDir the body says so (and how to make one) and loads nothing.
 */
export function drawPageBody(outDir: string, modelDir: string = SHIPPED_MODEL_DIR): { body: string; model: boolean } {
  const shown = relative(process.cwd(), modelDir) || modelDir;
  const heading = `<h1>${DRAW_TITLE}</h1>`;
  if (!existsSync(join(modelDir, MODEL_JSON))) {
    return {
      model: false,
      body: `${heading}\n<p>이 책에는 학습된 모델이 없습니다: <code>${escape(shown)}</code>에 model.json이 없습니다. ` +
        `<code>npm run train</code>으로 학습한 뒤 <code>npm run ship-model -- CHECKPOINT</code>로 만들고, <code>npm start</code>로 책을 다시 쓰세요.</p>`,
    };
  }
  const p = readProvenance(modelDir);
  mkdirSync(join(outDir, ASSETS), { recursive: true });
  copyFileSync(require.resolve("@tensorflow/tfjs/dist/tf.min.js"), join(outDir, ASSETS, "tf.min.js"));
  writeFileSync(join(outDir, ASSETS, "digit-image.js"), digitImageScript());
  writeFileSync(join(outDir, ASSETS, "model.js"), modelScript(modelDir));
  copyFileSync(join(__dirname, "drawpad-page.js"), join(outDir, ASSETS, "drawpad.js"));
  const bars = Array.from({ length: 10 }, (_, d) =>
    `<div class="bar" data-digit="${d}"><span class="label">${d}</span><span class="track"><span class="fill"></span></span><span class="pct">–</span></div>`).join("\n");
  const maps = Array.from({ length: 32 }, () => `<canvas width="28" height="28"></canvas>`).join("");
  const epochs = p.schedule.epochs;
  const body = `${heading}
<p>아래 칸에 마우스나 손가락으로 숫자(0–9)를 하나 그려 보세요. Lab 11의 CNN이 그리는 동안 답을 바꿔 가며 보여 줍니다.
모든 계산은 이 브라우저 안에서 TensorFlow.js(<code>cpu</code> 백엔드)로 하며, 인터넷 연결이나 서버 없이 이 파일을 그대로 열면(<code>file://</code>) 됩니다.</p>
<div class="pad">
<div><canvas id="pad" width="280" height="280"></canvas><br><button id="clear" type="button">지우기 (clear)</button></div>
<div><h2>모델이 보는 28×28 입력</h2><canvas id="input28" width="28" height="28"></canvas>
<p style="font-size:.85rem;max-width:168px">MNIST처럼: 흰 글씨·검은 바탕, 긴 변 20 px, 무게중심을 가운데로.</p></div>
<div><p id="prediction" aria-live="polite">모델을 불러오는 중…</p><div id="bars">\n${bars}\n</div></div>
</div>
<h2>첫 번째 합성곱 층(conv1)의 특성 맵 32개</h2>
<div id="maps">${maps}</div>
<p>전처리는 <code>npm run predict</code>와 같은 코드입니다(<code>lib/src/data/digit-image.ts</code>): 같은 그림이면 같은 확률이 나옵니다.
모델: <code>${escape(shown)}</code> (${escape(p.model)}, 파라미터 ${p.parameters.toLocaleString("en")}개, seed ${p.seed}, ${epochs} epoch${epochs === 1 ? "" : "s"},
MNIST 테스트 정확도 ${(p.testAccuracy * 100).toFixed(2)}%, ${escape(p.date)}).</p>
<script src="${ASSETS}/tf.min.js"></script>
<script src="${ASSETS}/digit-image.js"></script>
<script src="${ASSETS}/model.js"></script>
<script src="${ASSETS}/drawpad.js"></script>`;
  return { model: true, body };
}
