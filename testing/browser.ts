/** A real headless Chromium for the tests that drive the Temporal Web UI (playwright-core, no bundled browser). */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { lateBound } from './late-bound.ts';

/** The system's Chromium; the browser tests are skipped where it is not installed. */
export const CHROMIUM = process.env.KDFLOW_CHROMIUM ?? '/usr/bin/chromium';

/** Quiet on a machine without a display, a GPU or a network beyond 127.0.0.1. */
const ARGS = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'];

export interface ChromiumOptions {
  /** More command-line flags. */
  args?: string[];
  /** The pages' time zone (the machine's otherwise). */
  timezoneId?: string;
}

/**
 * Chromium on a profile of its own for the enclosing describe: launched in its beforeAll, closed and
 * its profile removed in its afterAll. What it returns stands in for the browser context.
 */
export function useChromium(options: ChromiumOptions = {}): BrowserContext {
  let context: BrowserContext | undefined;
  let profile: string | undefined;
  beforeAll(async () => {
    profile = await mkdtemp(path.join(os.tmpdir(), 'kdflow-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...ARGS, ...(options.args ?? [])],
      viewport: { width: 1440, height: 1300 },
      ...(options.timezoneId ? { timezoneId: options.timezoneId } : {}),
    });
  });
  afterAll(async () => {
    await context?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });
  return lateBound('the browser', () => context);
}
