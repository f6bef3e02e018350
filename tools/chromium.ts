// Debian's Chromium for the browser tests and checks (puppeteer-core: the `puppeteer` package downloads a browser of
// its own and cannot install here): where it is, why it is missing, and how to launch it on this machine.
import { existsSync } from "node:fs";
import puppeteer, { type Browser, type LaunchOptions } from "puppeteer-core";

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Why no browser can run here, or undefined when Chromium is installed. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `no browser at ${CHROMIUM} (Debian: apt-get install chromium; or set CHROMIUM=/path/to/chrome)`;
}

/**
 * Headless Chromium with its own profile folder. As root it needs --no-sandbox; the background-networking flags stop
 * it reaching for hosts that this machine's closed network refuses.
 */
export function launchChromium(profileDir: string, opts: LaunchOptions = {}): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM, headless: true, userDataDir: profileDir, ...opts,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", ...(opts.args ?? [])],
  });
}
