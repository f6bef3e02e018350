export interface ProcStat { pid: number; state: string; ppid: number; pgid: number; sid: number; start: string }
export interface SeenProcess { pid: number; start: string }
/** Whether this system has a Linux /proc process table. */
export function hasProcTable(): boolean;
/** A process's state, parent, process group, session and start time; undefined if there is none. */
export function procStat(pid: number): ProcStat | undefined;
/** Whether the process is still the one seen before (same start time) and not a zombie. */
export function stillRunning(p: SeenProcess): boolean;
/** Whether the process's environment holds `entry` ("NAME=value", or "NAME=" for any value). */
export function environHas(pid: number, entry: string): boolean;
/** `pid` and every process below it now, with start times ([] off Linux). */
export function processTree(pid: number): SeenProcess[];
/** SIGKILLs what still runs of `tree`, everything below it, and every process whose environment holds `mark`, with the process groups they lead. */
export function stopTree(tree: SeenProcess[], mark?: string): void;
