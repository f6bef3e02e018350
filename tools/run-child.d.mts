/** Runs `cmd` in its own process group, stopped with this process (SIGINT, SIGTERM, SIGHUP are passed on). */
export function runChild(cmd: string, args: string[], opts?: { capture?: boolean; env?: NodeJS.ProcessEnv }): Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
