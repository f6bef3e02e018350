// Paths typed by the user are relative to where they typed the command. `npm run X` runs the tool in the
// project root but passes the user's folder as INIT_CWD; run directly, the tool's own cwd is that folder.
// Defaults (checkpoints/cnn, data/full-runs.json, ...) belong to the project, wherever it is run from.
import * as path from "node:path";

export const PROJECT_ROOT = path.resolve(__dirname, "..", "..");

/** A path from the command line, absolute. */
export function userPath(p: string): string {
  return path.resolve(process.env.INIT_CWD || process.cwd(), p);
}

/** A default path of the project (relative to its root), absolute. */
export function projectPath(p: string): string {
  return path.resolve(PROJECT_ROOT, p);
}
