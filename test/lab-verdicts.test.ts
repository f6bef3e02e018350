// The decisions of `npm run check:lab` (tools/jupyter/lab-verdicts.ts) catch their bad cases: a chart drawn anew or
// never redrawn, a missing or unloaded Hangul font, a file changed by the session, an interrupt that let training go
// on or broke the next training. (The browser run that feeds them is the check itself, a CI step.)
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { Output } from "../tools/jupyter/notebook";
import { gitStatus, gitStatusProblems, hangulFontProblems, liveChartProblems, rerunProblems, stoppedProblems, STOP_WITHIN_SECONDS, type Stopped } from "../tools/jupyter/lab-verdicts";

test("live chart: redrawn in place passes; never redrawn, or a second image beside the first, fails", () => {
  assert.deepEqual(liveChartProblems("06", { pictures: 4, maxImages: 1, endImages: 1 }), []);
  assert.match(liveChartProblems("06", { pictures: 1, maxImages: 1, endImages: 1 }).join(), /did not change while its cell ran \(1 picture/);
  assert.match(liveChartProblems("06", { pictures: 0, maxImages: 0, endImages: 0 }).join(), /0 picture\(s\).*0 chart image\(s\) at the end/);
  assert.match(liveChartProblems("06", { pictures: 4, maxImages: 4, endImages: 4 }).join(), /4 chart image\(s\) at the end \(at most 4 at once\), expected exactly 1/);
  assert.match(liveChartProblems("06", { pictures: 4, maxImages: 2, endImages: 1 }).join(), /at most 2 at once/);
});

test("Hangul font: the bundled face loaded passes; absent, unloaded or failed fails", () => {
  const F = "CnnLab Hangul";
  const others = [{ family: "Lato", status: "loaded" }];
  assert.deepEqual(hangulFontProblems("01", [...others, { family: `"${F}"`, status: "loaded" }], F), []);
  assert.match(hangulFontProblems("01", others, F).join(), /not declared in the page/);
  assert.match(hangulFontProblems("01", [{ family: F, status: "unloaded" }], F).join(), /was not loaded \(status unloaded\)/);
  assert.match(hangulFontProblems("01", [{ family: F, status: "error" }], F).join(), /was not loaded \(status error\)/);
  assert.match(hangulFontProblems("01", [{ family: "CnnLab Hangul2", status: "loaded" }], F).join(), /not declared/);
});

test("git status: a file the session changed, added or removed is caught, in a real repository", (t) => {
  const repo = mkdtempSync(join(tmpdir(), "lab-verdicts-git-"));
  t.after(() => rmSync(repo, { recursive: true, force: true }));
  const git = (...args: string[]) => assert.equal(spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: repo }).status, 0, args.join(" "));
  git("init", "-q");
  writeFileSync(join(repo, "06.ipynb"), "reviewed");
  writeFileSync(join(repo, ".gitignore"), "my-notebooks/\n");
  git("add", ".");
  git("commit", "-qm", "x");
  const before = gitStatus(repo);
  assert.equal(before, "");
  rmSync(join(repo, ".gitignore"));
  writeFileSync(join(repo, ".gitignore"), "my-notebooks/\n"); // rewritten the same: not a change
  assert.deepEqual(gitStatusProblems(before, gitStatus(repo)), []);
  writeFileSync(join(repo, "06.ipynb"), "a learner's quick run"); // autosave over the committed notebook
  assert.match(gitStatusProblems(before, gitStatus(repo)).join(), /git status changed during the check: +M 06\.ipynb/);
  git("checkout", "06.ipynb");
  writeFileSync(join(repo, "stray.log"), "");
  assert.match(gitStatusProblems(before, gitStatus(repo)).join(), /\?\? stray\.log/);
  rmSync(join(repo, "stray.log"));
  assert.match(gitStatusProblems(" M notes.md\n", gitStatus(repo)).join(), /\(no longer\)  M notes\.md/);
  assert.throws(() => gitStatus(join(repo, "nope")), /git status failed in .*nope/);
});

const stream = (s: string): Output => ({ output_type: "stream", name: "stdout", text: s });
const keyboard: Output = { output_type: "error", ename: "KeyboardInterrupt", evalue: "interrupted", traceback: [] };
const progress = "\repoch 1/1 [##------------------] 20/200 loss 0.5000 acc 0.8000";
const stopped = (over: Partial<Stopped>): Stopped => ({ what: "train()", atEnd: [stream(`${progress}\nInterrupted: stopped in epoch 1 after batch 21/200. No epoch completed.\n`)],
  stopSeconds: 1.5, mark: /Interrupted: stopped in epoch|KeyboardInterrupt/, ...over });

test("interrupt: a cell that stopped at once and stayed quiet passes; too late, too slow, or going on fails", () => {
  assert.deepEqual(stoppedProblems("06", stopped({})), []);
  assert.deepEqual(stoppedProblems("06", stopped({ later: stopped({}).atEnd })), []);
  assert.deepEqual(stoppedProblems("06", { what: "the loop", atEnd: [stream("Learning started.\n"), keyboard], stopSeconds: 0.4, mark: /KeyboardInterrupt/ }), []);
  // finished before the interrupt: no mark
  assert.match(stoppedProblems("06", stopped({ atEnd: [stream("Epoch: 1 loss = 0.2\ntrained 1 epoch(s)\n")] })).join(), /did not say it was interrupted/);
  // the tslab way: an error other than the interrupt's
  assert.match(stoppedProblems("06", stopped({ atEnd: [stream("x"), { output_type: "error", ename: "Error", evalue: "Interrupted asynchronously", traceback: [] }] })).join(), /ended with Error: Interrupted asynchronously, expected KeyboardInterrupt/);
  assert.match(stoppedProblems("06", stopped({ stopSeconds: STOP_WITHIN_SECONDS + 1 })).join(), /took 31\.0 s to end/);
  // training went on after the cell ended: its progress arrives later
  const atEnd = [stream(`${progress}\n`), keyboard];
  assert.match(stoppedProblems("06", stopped({ atEnd, later: [stream(`${progress}\r${progress.replace("20/200", "40/200")}\n`), keyboard] })).join(), /output reached train\(\) after it ended/);
});

test("interrupt: the training cell run again must finish and print its results; an error or a stopped run's output fails", () => {
  const expected = [/Epoch: 1 loss = [\d.]+ train accuracy = +0\.\d+ test accuracy = +0\.9\d+/, /Learning Finished!/];
  const foreign = /epoch \d+\/\d+ \[/;
  const done = [stream("Learning started. It takes sometime.\nEpoch: 1 loss = 0.24 train accuracy =  0.9300 test accuracy =  0.9700\nLearning Finished!\ncheckpoint: a, b\n")];
  assert.deepEqual(rerunProblems("06", done, expected, foreign), []);
  const broken = [stream("Learning started. It takes sometime.\n"), { output_type: "error", ename: "Error", evalue: "Cannot find a connection between any variable and the result of the loss function", traceback: [] } as Output];
  const p = rerunProblems("06", broken, expected, foreign).join("\n");
  assert.match(p, /training cell fails: Error: Cannot find a connection/);
  assert.match(p, /did not print .*Learning Finished/);
  assert.match(rerunProblems("06", [stream("Learning started. It takes sometime.\n")], expected, foreign).join(), /did not print/); // stopped early, no error
  assert.match(rerunProblems("06", [stream("Epoch: 1 loss = 2.3 train accuracy =  0.1100 test accuracy =  0.1100\nLearning Finished!\n")], expected, foreign).join(), /did not print \/Epoch/); // did not learn
  assert.match(rerunProblems("06", [...done, stream(`${progress}\n`)], expected, foreign).join(), /stopped training's output .* reached the re-run cell/);
});
