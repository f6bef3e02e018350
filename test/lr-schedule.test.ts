// lab-11-5's staircase decay and setting a TF.js optimizer's rate between steps: the values Keras's
// ExponentialDecay(staircase=True) gives, clear errors, and a rate change that really changes the next update.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { tf, setupBackend, staircaseDecay, setLearningRate } from "cnn-lab";

before(async () => { await setupBackend({ quiet: true }); });

test("staircaseDecay: initial · rate^floor(step / decaySteps), constant within each stair", () => {
  const lr = staircaseDecay(0.001, 15000, 0.5);
  assert.equal(lr(0), 0.001);
  assert.equal(lr(14999), 0.001);
  assert.equal(lr(15000), 0.0005);
  assert.equal(lr(29999), 0.0005);
  assert.equal(lr(30000), 0.00025);
  assert.equal(lr(45000), 0.000125);
  assert.equal(staircaseDecay(0.1, 2.5, 0.1)(5), 0.1 * 0.1 ** 2); // Keras allows a fractional decay_steps (60000/100·5·5 is a float there)
  assert.equal(staircaseDecay(0.01, 1, 1)(1000), 0.01); // rate 1: no decay
});

test("staircaseDecay and setLearningRate: bad arguments throw clear errors", () => {
  assert.throws(() => staircaseDecay(0.001, 0, 0.5), /decaySteps must be a positive number, got 0/);
  assert.throws(() => staircaseDecay(0.001, -3, 0.5), /decaySteps must be a positive number, got -3/);
  assert.throws(() => staircaseDecay(0.001, NaN, 0.5), /decaySteps must be a positive number, got NaN/);
  assert.throws(() => staircaseDecay(0.001, 100, 0), /rate must be in \(0, 1\], got 0/);
  assert.throws(() => staircaseDecay(0.001, 100, 1.5), /rate must be in \(0, 1\], got 1.5/);
  assert.throws(() => staircaseDecay(0.001, 100, NaN), /rate must be in \(0, 1\], got NaN/);
  assert.throws(() => staircaseDecay(0, 100, 0.5), /initial learning rate must be a positive number, got 0/);
  assert.throws(() => staircaseDecay(0.001, 100, 0.5)(-1), /step must be a non-negative integer, got -1/);
  assert.throws(() => staircaseDecay(0.001, 100, 0.5)(1.5), /step must be a non-negative integer, got 1.5/);
  const adam = tf.train.adam(0.001);
  assert.throws(() => setLearningRate(adam, NaN), /learning rate must be a positive number, got NaN/);
  assert.throws(() => setLearningRate(adam, -0.1), /learning rate must be a positive number, got -0.1/);
  adam.dispose();
  class NoRate extends tf.Optimizer {
    static className = "NoRate";
    applyGradients(): void {}
    getConfig() { return {}; }
  }
  assert.throws(() => setLearningRate(new NoRate(), 0.1), /NoRate has no numeric learningRate field/);
});

/** The change one applyGradients makes to a variable with gradient g (loss = sum(v · g)). */
function update(optimizer: tf.Optimizer, v: tf.Variable, g: tf.Tensor): number[] {
  const before = Array.from(v.dataSync());
  optimizer.minimize(() => tf.sum(tf.mul(v, g)) as tf.Scalar, false, [v]);
  return Array.from(v.dataSync()).map((x, i) => x - before[i]);
}

test("setLearningRate changes Adam's next update: its first is ≈ −lr·sign(g), and with a constant gradient every one is", () => {
  const g = tf.tensor1d([0.5, -1, 2]);
  const lr = 0.01;
  const [a, b] = [tf.variable(tf.tensor1d([1, -2, 3])), tf.variable(tf.tensor1d([1, -2, 3]))];
  const [adamA, adamB] = [tf.train.adam(lr), tf.train.adam(lr)];
  setLearningRate(adamB, lr / 2); // before its first step
  const [ua, ub] = [update(adamA, a, g), update(adamB, b, g)];
  ua.forEach((d, i) => assert.ok(Math.abs(d + lr * Math.sign(g.dataSync()[i])) < 1e-6, `first Adam step ${d} ≈ −lr·sign(g)`));
  ub.forEach((d, i) => assert.ok(Math.abs(d / ua[i] - 0.5) < 1e-4, `half the rate, half the step: ${d} vs ${ua[i]}`));
  // Between steps of one optimizer: the second step of A at lr/2 is half its first.
  setLearningRate(adamA, lr / 2);
  update(adamA, a, g).forEach((d, i) => assert.ok(Math.abs(d / ua[i] - 0.5) < 1e-4, `after setLearningRate: ${d} vs ${ua[i]}`));
  tf.dispose([g, a, b]);
  [adamA, adamB].forEach((o) => o.dispose());
});

test("setLearningRate changes SGD's update too (SGD keeps a scalar of the rate, which its setLearningRate remakes)", () => {
  const g = tf.tensor1d([0.5, -1, 2]);
  const v = tf.variable(tf.zeros([3]));
  const sgd = tf.train.sgd(0.1);
  setLearningRate(sgd, 0.05);
  update(sgd, v, g).forEach((d, i) => assert.ok(Math.abs(d + 0.05 * g.dataSync()[i]) < 1e-7, `SGD step ${d} = −0.05·g`));
  tf.dispose([g, v]);
  sgd.dispose();
});
