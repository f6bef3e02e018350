import type { SeenProcess } from "./proc.mjs";
/** The processes that launched this one: its parent, and up through npm scripts to the npm that ran them. */
export function launchers(pid?: number): SeenProcess[];
/** Stops this process as on SIGTERM once a process that launched it is gone. Idempotent. */
export function stopWithLauncher(): void;
