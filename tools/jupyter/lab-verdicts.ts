// The decisions of `npm run check:lab` (tools/lab-check.ts), apart from the browser that gathers their evidence, so
// test/lab-verdicts.test.ts can show each one catches its bad case. Each returns the problems found (empty: passed).
import { spawnSync } from "node:child_process";
import { coalesce } from "./compare";
import { text, type Output } from "./notebook";

/** What the page saw of the live chart cell while it ran (recorded in the page as the DOM changed). */
export interface ChartSeen {
  /** Distinct <img> pictures (src) shown in the cell's output while it ran. */
  pictures: number;
  /** Most chart images in the cell's output at one time. */
  maxImages: number;
  /** Chart images in the cell's output at the end. */
  endImages: number;
}

/** The chart must be redrawn (at least two pictures) in place: one image at a time, one at the end. */
export function liveChartProblems(name: string, seen: ChartSeen): string[] {
  const problems: string[] = [];
  if (seen.pictures < 2) problems.push(`${name}: the live chart did not change while its cell ran (${seen.pictures} picture(s) seen in the page)`);
  if (seen.endImages !== 1 || seen.maxImages > 1) problems.push(`${name}: ${seen.endImages} chart image(s) at the end (at most ${seen.maxImages} at once), expected exactly 1: the chart must redraw in place`);
  return problems;
}

/** A face of document.fonts as the page reports it. */
export interface FontFaceSeen { family: string; status: string }

/** The bundled Hangul face must be in the page and loaded (it loads only when Hangul is drawn with it). */
export function hangulFontProblems(name: string, faces: FontFaceSeen[], family: string): string[] {
  const ours = faces.filter((f) => f.family.replace(/^["']|["']$/g, "") === family);
  if (!ours.length) return [`${name}: the Hangul font ${family} is not declared in the page (custom.css not served?): Korean would show as boxes without a system font`];
  if (!ours.some((f) => f.status === "loaded")) return [`${name}: the Hangul font ${family} was not loaded (status ${ours.map((f) => f.status).join(", ")}): Korean would show as boxes without a system font`];
  return [];
}

/** `git status --porcelain` of a folder (untracked files included, ignored ones not). */
export function gitStatus(cwd: string): string {
  const r = spawnSync("git", ["status", "--porcelain", "--untracked-files=all"], { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git status failed in ${cwd}: ${r.error?.message ?? r.stderr.trim()}`);
  return r.stdout;
}

/** The session must leave the project's files as they were: any line of `git status` that changed is a problem. */
export function gitStatusProblems(before: string, after: string): string[] {
  if (after === before) return [];
  const was = new Set(before.split("\n").filter(Boolean));
  const now = new Set(after.split("\n").filter(Boolean));
  const changed = [...[...now].filter((l) => !was.has(l)), ...[...was].filter((l) => !now.has(l)).map((l) => `(no longer) ${l}`)];
  return [`git status changed during the check: ${changed.join("; ")}`];
}

/** A cell's outputs as text: streams, results, and errors as "ename: evalue". */
export const outputText = (outputs: Output[]): string => coalesce(outputs).map((o) => (o.output_type === "stream" ? text(o.text)
  : o.output_type === "error" ? `${o.ename}: ${o.evalue}\n` : text(o.data["text/plain"]))).join("");
const errorOf = (outputs: Output[]) => outputs.find((o): o is Extract<Output, { output_type: "error" }> => o.output_type === "error");

/** A training cell stopped by Kernel > Interrupt, as JupyterLab's model held it. */
export interface Stopped {
  what: string;
  /** Its outputs when it ended, and (to catch training going on in the background) a while later. */
  atEnd: Output[];
  later?: Output[];
  /** Seconds from Kernel > Interrupt to the cell's end. */
  stopSeconds: number;
  /** What the cell says when the interrupt stopped it (KeyboardInterrupt, or train()'s "Interrupted: stopped in …"). */
  mark: RegExp;
}

/** Generous for a loaded 2-core machine; one batch of 06 takes well under a second. */
export const STOP_WITHIN_SECONDS = 30;

export function stoppedProblems(name: string, s: Stopped): string[] {
  const problems: string[] = [];
  const said = outputText(s.atEnd);
  if (!s.mark.test(said)) problems.push(`${name}: ${s.what} did not say it was interrupted (${s.mark}; did it end before the interrupt reached it?): ${said.slice(-300)}`);
  const err = errorOf(s.atEnd);
  if (err && err.ename !== "KeyboardInterrupt") problems.push(`${name}: ${s.what} ended with ${err.ename}: ${err.evalue}, expected KeyboardInterrupt or no error`);
  if (s.stopSeconds > STOP_WITHIN_SECONDS) problems.push(`${name}: ${s.what} took ${s.stopSeconds.toFixed(1)} s to end after the interrupt (expected within ${STOP_WITHIN_SECONDS} s: one batch)`);
  if (s.later && JSON.stringify(s.later) !== JSON.stringify(s.atEnd)) {
    problems.push(`${name}: output reached ${s.what} after it ended (training went on in the background): ${JSON.stringify(outputText(s.later).slice(said.length)).slice(0, 300)}`);
  }
  return problems;
}

/** The training cell run after the interrupts: no error, what a finished training prints, nothing of a stopped one. */
export function rerunProblems(name: string, rerun: Output[], expected: RegExp[], foreign?: RegExp): string[] {
  const problems: string[] = [];
  const err = errorOf(rerun);
  const got = outputText(rerun);
  if (err) problems.push(`${name}: after the interrupts the training cell fails: ${err.ename}: ${err.evalue}`);
  for (const re of expected) if (!re.test(got)) problems.push(`${name}: after the interrupts the training cell did not print ${re} (it printed: ${JSON.stringify(got.slice(-400))})`);
  if (foreign?.test(got)) problems.push(`${name}: a stopped training's output (${foreign}) reached the re-run cell: it went on alongside`);
  return problems;
}
