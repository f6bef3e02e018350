// The book's drawing page (draw.html), in the browser. Plain JS (the project compiles without DOM types); it uses
// what the page loaded before it: tf (tf.min.js), digitImage (lib/dist/data/digit-image.js, the preprocessing of
// `npm run predict`) and LECTURE_CNN (the shipped model, inlined so the page works from file://).
// Its state is on <body> for tests: data-state loading|empty|shown|error, data-ink-version (the drawing's version)
// and data-shown-version (the version the display shows).
"use strict";
(function () {
  const pad = document.getElementById("pad");
  const ctx = pad.getContext("2d", { willReadFrequently: true });
  const input28 = document.getElementById("input28").getContext("2d");
  const prediction = document.getElementById("prediction");
  const bars = Array.from(document.querySelectorAll("#bars .bar"));
  const maps = Array.from(document.querySelectorAll("#maps canvas")).map((c) => c.getContext("2d"));
  const body = document.body;
  let model, conv1, inked = false, inkVersion = 0, last, lastRun = 0, timer;
  // The pointer drawing (its pointerId) while it is down: one at a time, so a second finger or the palm adds no stroke.
  let drawing;
  // Throttle while drawing: the CPU backend needs some tens of ms per prediction.
  const THROTTLE_MS = 120;

  function setState(state, version) {
    body.dataset.state = state;
    body.dataset.shownVersion = String(version);
  }

  function clearPad() {
    // Opaque white paper: the pixels read back (and a PNG exported from them) are exactly what was drawn.
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, pad.width, pad.height);
    inked = false;
    body.dataset.inkVersion = String(++inkVersion);
  }

  function showEmpty(message) {
    prediction.textContent = message;
    for (const bar of bars) {
      delete bar.dataset.prob;
      bar.classList.remove("top");
      bar.querySelector(".fill").style.width = "0";
      bar.querySelector(".pct").textContent = "–";
    }
    input28.fillStyle = "#000";
    input28.fillRect(0, 0, 28, 28);
    for (const m of maps) { m.fillStyle = "#000"; m.fillRect(0, 0, 28, 28); }
  }

  function drawGray(target, values, stride, offset, scale) {
    const img = target.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = Math.round(Math.min(1, values[i * stride + offset] * scale) * 255);
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
      img.data[4 * i + 3] = 255;
    }
    target.putImageData(img, 0, 0);
  }

  function run() {
    clearTimeout(timer);
    timer = undefined;
    lastRun = performance.now();
    const version = inkVersion;
    if (!model) return;
    if (!inked) {
      showEmpty("숫자(0–9)를 하나 그려 보세요. (Draw a digit.)");
      return setState("empty", version);
    }
    const gray = digitImage.rgbaToGray(ctx.getImageData(0, 0, pad.width, pad.height).data, pad.width, pad.height);
    let digit;
    try {
      digit = digitImage.preprocessDigit(gray, pad.width, pad.height);
    } catch (e) {
      showEmpty(`숫자를 찾지 못했습니다 (${e.message}). 다시 그려 보세요.`);
      return setState("empty", version);
    }
    // As `npm run predict`: logits of the [1, 28, 28, 1] input, then softmax over the ten.
    const logits = tf.tidy(() => model.predict(tf.tensor4d(digit.pixels, [1, 28, 28, 1])).dataSync());
    const probs = tf.tidy(() => tf.softmax(tf.tensor1d(logits)).dataSync());
    const features = tf.tidy(() => conv1.predict(tf.tensor4d(digit.pixels, [1, 28, 28, 1])).dataSync());
    let top = 0;
    for (let d = 1; d < 10; d++) if (probs[d] > probs[top]) top = d;
    bars.forEach((bar, d) => {
      bar.dataset.prob = String(probs[d]);
      bar.classList.toggle("top", d === top);
      bar.querySelector(".fill").style.width = `${(probs[d] * 100).toFixed(2)}%`;
      bar.querySelector(".pct").textContent = `${(probs[d] * 100).toFixed(1)}%`;
    });
    prediction.innerHTML = `모델의 답: <strong data-digit="${top}">${top}</strong> (확률 ${(probs[top] * 100).toFixed(1)}%)`;
    drawGray(input28, digit.pixels, 1, 0, 1);
    maps.forEach((m, f) => {
      let max = 0;
      for (let i = 0; i < 784; i++) max = Math.max(max, features[i * 32 + f]);
      drawGray(m, features, 32, f, max > 0 ? 1 / max : 0);
    });
    setState("shown", version);
  }

  function schedule() {
    if (timer !== undefined) return;
    timer = setTimeout(run, Math.max(0, THROTTLE_MS - (performance.now() - lastRun)));
  }

  function point(e) {
    const r = pad.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * pad.width) / r.width, y: ((e.clientY - r.top) * pad.height) / r.height };
  }

  function inkChanged() {
    inked = true;
    body.dataset.inkVersion = String(++inkVersion);
  }

  function stroke(to) {
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
    last = to;
    inkChanged();
  }

  // A tap's dot, as wide as a stroke: stroking a zero-length line draws nothing in Chromium.
  function dot(at) {
    ctx.beginPath();
    ctx.arc(at.x, at.y, ctx.lineWidth / 2, 0, 2 * Math.PI);
    ctx.fillStyle = ctx.strokeStyle;
    ctx.fill();
    inkChanged();
  }

  pad.addEventListener("pointerdown", (e) => {
    // Only the main button draws (a right-button drag opens the menu), and only while no other pointer draws.
    if (e.button !== 0 || drawing !== undefined) return;
    e.preventDefault();
    pad.setPointerCapture(e.pointerId);
    drawing = e.pointerId;
    last = point(e);
    dot(last);
    schedule();
  });
  pad.addEventListener("pointermove", (e) => {
    if (e.pointerId !== drawing) return;
    stroke(point(e));
    schedule();
  });
  for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
    pad.addEventListener(type, (e) => {
      if (e.pointerId !== drawing) return;
      drawing = undefined;
      run();
    });
  }
  document.getElementById("clear").addEventListener("click", () => {
    clearPad();
    run();
  });

  ctx.lineWidth = pad.width / 12; // about MNIST's stroke once the digit is scaled to 20 px
  ctx.lineCap = ctx.lineJoin = "round";
  ctx.strokeStyle = "#000";
  clearPad();
  setState("loading", 0);

  (async () => {
    // The CPU backend: plain JS float32 everywhere, so the page answers as `npm run predict` does (WebGL may
    // compute in float16 on phones).
    await tf.setBackend("cpu");
    const bytes = Uint8Array.from(atob(LECTURE_CNN.weightData), (c) => c.charCodeAt(0));
    model = await tf.loadLayersModel(tf.io.fromMemory({
      modelTopology: LECTURE_CNN.modelTopology, weightSpecs: LECTURE_CNN.weightSpecs, weightData: bytes.buffer,
    }));
    conv1 = tf.model({ inputs: model.inputs, outputs: model.getLayer("conv1").output });
    run();
  })().catch((e) => {
    prediction.textContent = `모델을 불러오지 못했습니다: ${e.message}`;
    setState("error", inkVersion);
  });
})();
