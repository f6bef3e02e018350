export function removeOrphans(base?: string): void;
export function kernelScratch(base?: string): { dir: string; remove: () => void };
