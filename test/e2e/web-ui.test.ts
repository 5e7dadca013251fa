/**
 * The Temporal Web UI as the lifecycle viewer, in a real browser: a dev server with its UI, the worker
 * binary (with its Prometheus endpoint) in its own process, the Spark example cluster created and grown
 * by the `resize` signal, then Chromium finds the cluster by search attribute and reads its history.
 * KDFLOW_RECORD_SCREENSHOT=1 also copies the screenshots to docs/img/ for the README.
 */
import { Client, Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterWorkflowId, resizeSignal } from '../../api/index.ts';
import { main as kdflow } from '../../cli/main.ts';
import { freePort } from '../../lib/free-port.ts';
import { startDevServer, type DevServer } from '../../lib/temporal-server.ts';
import { CHROMIUM, useChromium } from '../../testing/browser.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SHOTS = path.join(REPO, 'test', '.tmp', 'web-ui');
const WORKFLOW_ID = clusterWorkflowId('default', 'analytics');

let home: string;
let server: DevServer;
let worker: ChildProcess;
let workerLog = '';
let metricsUrl: string;

async function cli(...args: string[]): Promise<string> {
  const out: string[] = [];
  const code = await kdflow(args, (line) => out.push(line));
  if (code !== 0) throw new Error(`kdflow ${args.join(' ')} exited ${code}: ${out.join('\n')}`);
  return out.join('\n');
}

beforeAll(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-webui-'));
  const [port, uiPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  server = await startDevServer({
    port,
    uiPort,
    dbFile: path.join(home, 'temporal.db'),
    logFile: path.join(home, 'temporal.log'),
  });
  process.env.TEMPORAL_ADDRESS = server.address;
  process.env.KDFLOW_HOME = home;
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  // The worker as users run it: its own process, JSON logs on stderr, metrics on the flag.
  worker = spawn(process.execPath, [path.join(REPO, 'worker', 'main.ts'), '--metrics', `127.0.0.1:${metricsPort}`], {
    cwd: REPO,
    env: { ...process.env, KDFLOW_METRICS_ADDRESS: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  worker.stderr?.on('data', (chunk) => {
    workerLog += String(chunk);
  });

  await cli('app', 'apply', '-f', path.join(REPO, 'crds/examples/spark/app.yaml'));
  await cli('apply', '-f', path.join(REPO, 'crds/examples/spark/cluster.yaml'));
  await cli('wait', 'analytics', '--for', 'configured', '--timeout', '120s');
  // Grow by the signal, as the CRD shim does: the history shows it with its readable argument.
  const connection = await Connection.connect({ address: server.address });
  await new Client({ connection }).workflow.getHandle(WORKFLOW_ID).signal(resizeSignal, { roles: { worker: 4 } });
  await connection.close();
  await cli('wait', 'analytics', '--for', 'configured', '--timeout', '120s');
});

afterAll(async () => {
  // Delete the cluster while the worker still runs, so no member process outlives the test.
  if (worker && worker.exitCode === null) {
    await cli('delete', 'analytics').catch(() => {});
    await cli('wait', 'analytics', '--for', 'deleted', '--timeout', '120s').catch(() => {});
  }
  if (worker && worker.exitCode === null) {
    const gone = new Promise((resolve) => worker.once('exit', resolve));
    worker.kill('SIGTERM');
    await gone;
  }
  await server?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

describe('worker telemetry', () => {
  it('serves Prometheus metrics and logs JSON lines that name the workflow run', async () => {
    const text = await (await fetch(metricsUrl)).text();
    expect(text).toMatch(/^temporal_activity_execution_latency_count\{.*activity_type="runScript".*\} [1-9]/m);
    expect(text).toMatch(/^temporal_worker_start\{/m);

    const lines = workerLog
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const scripts = lines.filter((l) => l.msg === 'script finished');
    // 3 configures at launch; 2 more and the controller's addnodes on the grow (workers only configure).
    expect(scripts).toHaveLength(6);
    expect(scripts[0]).toMatchObject({
      workflowId: WORKFLOW_ID,
      activity: 'runScript',
      event: 'configure',
      exitCode: 0,
    });
    expect(scripts[0]?.runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines.find((l) => l.msg === 'kdflow worker running')).toMatchObject({ metrics: metricsUrl, tls: false });
  });
});

describe.skipIf(!existsSync(CHROMIUM))(`the Web UI in Chromium (${CHROMIUM})`, () => {
  const context = useChromium({ args: ['--disable-quic', '--disable-component-update'], timezoneId: 'UTC' });
  let page: Page;

  beforeAll(async () => {
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    await mkdir(SHOTS, { recursive: true });
  });

  const shoot = async (name: string) => {
    const file = path.join(SHOTS, name);
    await page.screenshot({ path: file });
    if (process.env.KDFLOW_RECORD_SCREENSHOT) {
      await mkdir(path.join(REPO, 'docs', 'img'), { recursive: true });
      await copyFile(file, path.join(REPO, 'docs', 'img', name));
    }
  };

  it('finds the cluster by search attribute and shows the resize signal and the activity summaries', async () => {
    const query = 'KdCluster = "analytics" AND KdApp = "spark" AND KdMembers = 5';
    await page.goto(`${server.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
    // Visibility is eventually consistent; the list page refreshes itself, so wait for the row.
    await page.getByRole('link', { name: WORKFLOW_ID, exact: true }).click();
    await page.waitForURL(/\/history/);

    const history = page.getByText('Event History', { exact: true });
    await history.waitFor();
    // The timeline labels every activity with its summary, and the resize signal by name.
    await page.getByText('runScript • addnodes on analytics-controller-0 (+worker 2-3)', { exact: true }).waitFor();
    await page.getByText('runScript • configure analytics-worker-3', { exact: true }).waitFor();
    // A grow's launch also rewrites the older members' configmeta (planner v3, docs/adr/0014).
    await page
      .getByText(
        /^launchMembers • launch analytics-worker-2, analytics-worker-3 \(create, ready, configmeta, package\); configmeta to /,
      )
      .waitFor();
    // The signal's row opens to its readable argument.
    await page.getByText('Workflow Execution Signaled', { exact: true }).first().click();
    await page
      .getByText(/"worker":\s*4/)
      .first()
      .waitFor();
    // The picture: the timeline of summaries and the signal, then the first events, under the header bar.
    await history.evaluate((heading) => {
      // Runs in the page (tsconfig has no DOM lib, hence the one structural type).
      type Box = { parentElement: Box | null; scrollBy(x: number, y: number): void; scrollIntoView(o: object): void };
      const win = globalThis as unknown as {
        getComputedStyle(e: Box): { overflowY: string };
        document: { scrollingElement: Box | null };
      };
      const start = heading as unknown as Box;
      start.scrollIntoView({ block: 'start' });
      let scroller = start.parentElement;
      while (scroller && !/(auto|scroll)/.test(win.getComputedStyle(scroller).overflowY))
        scroller = scroller.parentElement;
      (scroller ?? win.document.scrollingElement)?.scrollBy(0, -70);
    });
    await shoot('web-ui-history.png');
  });

  it('shows the summary and the members table as current details', async () => {
    await page.getByText('User Metadata', { exact: true }).click();
    await page.waitForURL(/\/user-metadata/);
    await page.getByText('Current Details', { exact: true }).waitFor();
    // Both are Markdown the UI renders in frames: the summary first, the current details last.
    const frames = page.locator('iframe[title="output"]');
    await frames.first().contentFrame().getByText('spark/default/analytics — 3 roles', { exact: true }).waitFor();
    const details = frames.last().contentFrame();
    await details.getByText('configured', { exact: true }).first().waitFor();
    await details.getByRole('columnheader', { name: 'last event' }).waitFor();
    await details
      .getByRole('row', { name: /analytics-controller-0\s+controller\s+configured\s+addnodes ok/ })
      .waitFor();
    await details.getByRole('row', { name: /analytics-worker-3\s+worker\s+configured\s+configure ok/ }).waitFor();
    // The events the workflow labelled, in order, beside it.
    await page.getByText('addnodes on analytics-controller-0 (+worker 2-3)', { exact: true }).waitFor();
    await shoot('web-ui-details.png');
  });
});
