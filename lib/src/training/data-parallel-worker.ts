// One replica of a data-parallel trainer (see data-parallel.ts): receives weights and a shard of the
// batch, returns the gradients of the shard's mean softmax cross-entropy loss (and its correct count).
import { parentPort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { setupBackend, BackendName } from "../engine/backend";
import { dropoutReseeder, ShardReply, ShardRequest, ReplicaInit } from "./data-parallel";
import { grad, trainableVariables } from "../lecture/step";

let model: tf.LayersModel;
let reseed: (step: number, replica: number) => void;

async function init(msg: ReplicaInit): Promise<void> {
  await setupBackend({ force: msg.backend as BackendName, quiet: true });
  model = await tf.models.modelFromJSON(JSON.parse(msg.topology));
  reseed = dropoutReseeder(model);
}

function step(msg: ShardRequest): ShardReply {
  const start = performance.now();
  const ws = msg.weights.map((w, i) => tf.tensor(w, model.weights[i].shape as number[]));
  model.setWeights(ws);
  tf.dispose(ws);
  reseed(msg.step, msg.replica);
  const vars = trainableVariables(model);
  const { loss, correct, grads } = tf.tidy(() => grad(model, tf.tensor(msg.x, msg.xShape), tf.tensor(msg.y, msg.yShape)));
  // Read out after the tidy: tidy() walks whatever it returns, typed arrays element by element.
  const reply: ShardReply = {
    loss: loss.dataSync()[0], correct: correct.dataSync()[0],
    grads: vars.map((v) => grads[v.name].dataSync() as Float32Array),
    ms: performance.now() - start,
  };
  tf.dispose([loss, correct, ...Object.values(grads)]);
  return reply;
}

parentPort!.on("message", async (msg: ReplicaInit | ShardRequest) => {
  try {
    if (msg.kind === "init") {
      await init(msg);
      parentPort!.postMessage({ ok: true });
    } else {
      const reply = step(msg);
      parentPort!.postMessage({ ok: true, ...reply }, reply.grads.map((g) => g.buffer as ArrayBuffer));
    }
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) });
  }
});
