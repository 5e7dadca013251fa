/**
 * Encrypted payloads end to end (docs/adr/0035-encrypted-payloads.md): a dev server with its SQLite
 * file in the test's home, the worker and `kdflow codec-server` as their own processes with a key
 * file, the CLI in this process with the same key. A cluster whose role env has `password=hunter2`
 * lives its whole life (create, a configure that fails once with a canary in its output, grow,
 * delete); a cluster input that the workflow itself refuses, naming a value in its failure (a
 * failure raised inside the sandbox, converted by the bundle's failure converter); then the Web UI,
 * pointed at the codec server, shows the value decoded, and the server's SQLite file holds neither
 * the value, the canary nor the refused value, as text, hex or base64. The same scan over a
 * `pg_dump` of the PostgreSQL-backed server is in test/k8s/production-temporal.test.ts.
 */
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TASK_QUEUE, clusterWorkflowId } from '../../api/index.ts';
import { main as kdflow } from '../../cli/main.ts';
import { EncryptionCodec, ENCRYPTED_ENCODING, clientDataConverter } from '../../lib/codec.ts';
import { freePort } from '../../lib/free-port.ts';
import { ensureTemporalCli, startDevServer, type DevServer } from '../../lib/temporal-server.ts';
import { expectAbsent, foundIn } from '../support/absence.ts';
import { CHROMIUM, useChromium } from '../../testing/browser.ts';

const execFileAsync = promisify(execFile);
const utf8 = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString();
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = 'hunter2';
const CANARY = `canary-${randomBytes(6).toString('hex')}`;
// Only in a failure that workflow code raises (its input refused, naming the value).
const REFUSED = `refused-${randomBytes(6).toString('hex')}`;
const REFUSED_WORKFLOW_ID = 'refused-input';
const CLUSTER = 'vault';
const WORKFLOW_ID = clusterWorkflowId('default', CLUSTER);
const KEY_ID = 'e2e-1';
const KEY = randomBytes(32);

let home: string;
let server: DevServer;
let worker: ChildProcess;
let codecServer: ChildProcess;
let workerLog = '';
let codecLog = '';
let codecUrl: string;
const cliOutput: string[] = [];
const withoutKey = { code: -1, errors: [] as string[] };
const refusal = { type: '', message: '' };

async function cli(...args: string[]): Promise<string> {
  const out: string[] = [];
  const code = await kdflow(args, (line) => out.push(line));
  cliOutput.push(...out);
  if (code !== 0) throw new Error(`kdflow ${args.join(' ')} exited ${code}: ${out.join('\n')}`);
  return out.join('\n');
}

/** Resolves with the first stdout line that matches; rejects if the process exits first. */
function lineFrom(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stdout?.on('data', (chunk) => {
      seen += String(chunk);
      const line = seen.split('\n').find((l) => pattern.test(l));
      if (line) resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before printing ${pattern}: ${seen}${codecLog}`)));
  });
}

async function stopChild(child: ChildProcess | undefined): Promise<number | null | undefined> {
  if (!child || child.exitCode !== null) return child?.exitCode;
  const gone = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  return gone;
}

beforeAll(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-codec-e2e-'));
  const keyFile = path.join(home, 'payload-keys');
  await writeFile(keyFile, `# current key first\n${KEY_ID}:${KEY.toString('base64')}\n`, { mode: 0o600 });
  const [port, uiPort] = [await freePort(), await freePort()];
  const keyEnv = { KDFLOW_HOME: home, KDFLOW_CODEC_KEY_FILE: keyFile };
  // The codec server binds a port of its own choosing first (no window for another process to take
  // a port picked ahead), and the dev server's Web UI is then pointed at the URL it printed.
  codecServer = spawn(
    process.execPath,
    [
      path.join(REPO, 'cli', 'main.ts'),
      'codec-server',
      '--listen',
      '127.0.0.1:0',
      '--origin',
      `http://127.0.0.1:${uiPort}`,
    ],
    { cwd: REPO, env: { ...process.env, ...keyEnv }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  codecServer.stderr?.on('data', (chunk) => {
    codecLog += String(chunk);
  });
  const listening = await lineFrom(codecServer, /^kdflow codec server on /);
  codecUrl = /^kdflow codec server on (\S+)/.exec(listening)?.[1] ?? '';
  server = await startDevServer({
    port,
    uiPort,
    dbFile: path.join(home, 'temporal.db'),
    logFile: path.join(home, 'temporal.log'),
    extraArgs: ['--ui-codec-endpoint', codecUrl],
  });
  expect(server.uiUrl).toBe(`http://127.0.0.1:${uiPort}`);
  const env = { TEMPORAL_ADDRESS: server.address, ...keyEnv };
  Object.assign(process.env, env);
  delete process.env.KDFLOW_CODEC_KEYS;
  worker = spawn(process.execPath, [path.join(REPO, 'worker', 'main.ts')], {
    cwd: REPO,
    env: { ...process.env, ...env, KDFLOW_METRICS_ADDRESS: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  worker.stderr?.on('data', (chunk) => {
    workerLog += String(chunk);
  });

  // An app whose startscript prints a plain-named env value, and fails its first configure on each
  // member with that value as its last line: script output and a failure message, both in history.
  const app = path.join(home, 'app');
  await mkdir(path.join(app, 'config'), { recursive: true });
  await writeFile(
    path.join(app, 'config', 'startscript'),
    [
      '#!/usr/bin/env bash',
      'echo "event $1; greeting=$GREETING"',
      'marker="$(dirname "$0")/.failed-once"',
      'if [[ "$1" == --configure && ! -e "$marker" ]]; then touch "$marker"; echo "failing once: $GREETING"; exit 1; fi',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  await writeFile(
    path.join(app, 'app.yaml'),
    [
      'apiVersion: kdflow.dev/v1beta1',
      'kind: KdApp',
      'metadata: { name: vaultapp }',
      'spec:',
      '  label: { name: Vault-like, description: keeps a password in its env }',
      '  distroID: kdflow/vaultapp',
      '  version: "1.0"',
      '  defaultImageRepoTag: kdflow/none:1',
      '  defaultConfigPackage: { packageURL: file://./config }',
      '  roles:',
      '    - { id: server, cardinality: "1+" }',
      '  scriptTimeoutSeconds: 60',
      '',
    ].join('\n'),
  );
  await writeFile(
    path.join(app, 'cluster.yaml'),
    [
      'apiVersion: kdflow.dev/v1beta1',
      'kind: KdCluster',
      `metadata: { name: ${CLUSTER} }`,
      'spec:',
      '  app: vaultapp',
      '  roles:',
      '    - id: server',
      '      members: 1',
      '      env:',
      `        - { name: password, value: ${SECRET} }`,
      `        - { name: GREETING, value: ${CANARY} }`,
      '',
    ].join('\n'),
  );
  await cli('app', 'apply', '-f', path.join(app, 'app.yaml'));
  await cli('apply', '-f', path.join(app, 'cluster.yaml'));
  await cli('wait', CLUSTER, '--for', 'configured', '--timeout', '120s');
  await cli('resize', CLUSTER, 'server=2');
  await cli('wait', CLUSTER, '--for', 'configured', '--timeout', '120s');
  await cli('history', CLUSTER, '-o', 'json');
  // The same CLI without the key: it cannot read the status, and says why.
  delete process.env.KDFLOW_CODEC_KEY_FILE;
  withoutKey.code = await kdflow(
    ['get', CLUSTER],
    () => {},
    (line) => withoutKey.errors.push(line),
  );
  process.env.KDFLOW_CODEC_KEY_FILE = keyFile;
  await cli('delete', CLUSTER);
  await cli('wait', CLUSTER, '--for', 'deleted', '--timeout', '120s');
  // Anyone with access to Temporal may start a cluster workflow by hand: the workflow refuses an
  // invalid name with a failure naming it, raised inside the sandbox (workflows/cluster.ts).
  const connection = await Connection.connect({ address: server.address });
  try {
    const client = new Client({ connection, dataConverter: clientDataConverter() });
    const refused = await client.workflow.start('clusterWorkflow', {
      taskQueue: TASK_QUEUE,
      workflowId: REFUSED_WORKFLOW_ID,
      args: [{ name: `Not_${REFUSED}` }],
    });
    const error = await refused.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(error instanceof WorkflowFailedError)) throw new Error(`expected the workflow to fail, got ${String(error)}`);
    Object.assign(refusal, {
      type: (error.cause as { type?: string } | undefined)?.type,
      message: error.cause?.message ?? '',
    });
  } finally {
    await connection.close();
  }
});

afterAll(async () => {
  if (worker && worker.exitCode === null) {
    await cli('delete', CLUSTER).catch(() => {});
    await cli('wait', CLUSTER, '--for', 'deleted', '--timeout', '120s').catch(() => {});
  }
  await stopChild(worker);
  await stopChild(codecServer);
  await server?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

describe('with a payload key', () => {
  it('the worker says payloads are encrypted and with which key, and no process logs the key', () => {
    const lines = workerLog
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.msg === 'payloads encrypted (AES-256-GCM)')).toMatchObject({
      keyId: KEY_ID,
      keyIds: [KEY_ID],
    });
    for (const log of [workerLog, codecLog, cliOutput.join('\n')]) {
      expect(log).not.toContain(KEY.toString('base64'));
      expect(log).not.toContain(KEY.toString('hex'));
    }
  });

  it('the CLI decodes: history -o json showed the script output; without the key it says what is missing', () => {
    expect(cliOutput.join('\n')).toContain(`greeting=${CANARY}`);
    expect(withoutKey.code).toBe(3);
    expect(withoutKey.errors.join('\n')).toMatch(
      /a payload is encrypted \(key id "e2e-1"\) and no key is configured: set KDFLOW_CODEC_KEY_FILE or KDFLOW_CODEC_KEYS/,
    );
  });

  it('the Temporal CLI shows the history decrypted through the codec server, and ciphertext without it', async () => {
    const show = async (...extra: string[]) =>
      (
        await execFileAsync(
          ensureTemporalCli(),
          ['workflow', 'show', '--address', server.address, '-w', WORKFLOW_ID, '-o', 'json', ...extra],
          { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
        )
      ).stdout;
    // JSON output keeps each payload's data as base64: read them all.
    const payloadTexts = (json: string) => {
      const texts: string[] = [];
      JSON.parse(json, (key, value: unknown) => {
        if (key === 'data' && typeof value === 'string') texts.push(Buffer.from(value, 'base64').toString('latin1'));
        return value;
      });
      return texts.join('\n');
    };
    expect(payloadTexts(await show('--codec-endpoint', codecUrl))).toContain(SECRET);
    const raw = await show();
    expect(payloadTexts(raw)).not.toContain(SECRET);
    expect(raw).toContain(Buffer.from(ENCRYPTED_ENCODING).toString('base64'));
  });

  it("history holds the spec, the env value and the failed script's output only as ciphertext", async () => {
    const connection = await Connection.connect({ address: server.address });
    const codec = new EncryptionCodec([{ id: KEY_ID, key: KEY }]);
    const found = { input: false, failure: false, plain: [] as string[] };
    try {
      let nextPageToken: Uint8Array | undefined;
      do {
        const page = await connection.workflowService.getWorkflowExecutionHistory({
          namespace: 'default',
          execution: { workflowId: WORKFLOW_ID },
          ...(nextPageToken ? { nextPageToken } : {}),
        });
        for (const event of page.history?.events ?? []) {
          const started = event.workflowExecutionStartedEventAttributes;
          for (const payload of started?.input?.payloads ?? []) {
            const [decoded] = await codec.decode([payload as Payload]);
            if (JSON.stringify(defaultPayloadConverter.fromPayload(decoded as Payload)).includes(SECRET))
              found.input = true;
          }
          const failure = event.activityTaskStartedEventAttributes?.lastFailure;
          if (failure?.encodedAttributes) {
            expect(failure.message).toBe('Encoded failure');
            const [decoded] = await codec.decode([failure.encodedAttributes as Payload]);
            const attributes = defaultPayloadConverter.fromPayload<{ message: string }>(decoded as Payload);
            if (attributes.message.includes(`failing once: ${CANARY}`)) found.failure = true;
          }
          // Every payload of every event is encrypted; search attributes and headers are not for the codec,
          // and the SDK writes a patch marker (the planner version's patch id, no user data) past the codec.
          if (event.markerRecordedEventAttributes?.markerName === 'core_patch') continue;
          JSON.stringify(event, (key, value: unknown) => {
            if (key === 'searchAttributes' || key === 'header') return undefined;
            if (key === 'metadata' && value && typeof value === 'object' && 'encoding' in value) {
              // A message's toJSON gives bytes as base64.
              const raw = (value as { encoding: Uint8Array | string }).encoding;
              const encoding = (typeof raw === 'string' ? Buffer.from(raw, 'base64') : Buffer.from(raw)).toString();
              if (encoding !== ENCRYPTED_ENCODING) found.plain.push(`${event.eventType}: ${encoding}`);
            }
            return value;
          });
        }
        nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
      } while (nextPageToken);
    } finally {
      await connection.close();
    }
    expect(found).toEqual({ input: true, failure: true, plain: [] });
  });

  it('a failure raised by workflow code is encoded too, and the client reads it back', async () => {
    // Decoded by the client: the refusal names the value it refused.
    expect(refusal.type).toBe('InvalidCluster');
    expect(refusal.message).toContain(`Not_${REFUSED}`);
    const connection = await Connection.connect({ address: server.address });
    try {
      const page = await connection.workflowService.getWorkflowExecutionHistory({
        namespace: 'default',
        execution: { workflowId: REFUSED_WORKFLOW_ID },
      });
      const failed = page.history?.events?.find((e) => e.workflowExecutionFailedEventAttributes);
      const failure = failed?.workflowExecutionFailedEventAttributes?.failure;
      // In history: the SDK's placeholder message, and the real one only in the encrypted attributes.
      expect(failure?.message).toBe('Encoded failure');
      expect(failure?.applicationFailureInfo?.type).toBe('InvalidCluster');
      const encoded = failure?.encodedAttributes as Payload | undefined;
      expect(utf8(encoded?.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
      const codec = new EncryptionCodec([{ id: KEY_ID, key: KEY }]);
      const [decoded] = await codec.decode([encoded as Payload]);
      expect(defaultPayloadConverter.fromPayload<{ message: string }>(decoded as Payload).message).toContain(REFUSED);
    } finally {
      await connection.close();
    }
  });
});

describe.skipIf(!existsSync(CHROMIUM))(`the Web UI in Chromium (${CHROMIUM}) with the codec endpoint`, () => {
  const context = useChromium();

  it('shows the env value decoded, through the codec server', async () => {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(60_000);
    const decodes: string[] = [];
    page.on('response', (response) => {
      if (response.url().startsWith(`${codecUrl}/decode`)) decodes.push(String(response.status()));
    });
    await page.goto(`${server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(WORKFLOW_ID)}`);
    // The workflow's input (the spec) is on its page; only the codec server can have made it readable.
    await page.getByText(SECRET).first().waitFor();
    await page.getByText(CANARY).first().waitFor();
    await page.screenshot({ path: path.join(home, 'web-ui-decoded.png') });
    expect(decodes.length).toBeGreaterThan(0);
    expect(decodes.every((status) => status === '200')).toBe(true);
  });
});

describe('kdflow codec-server', () => {
  it('stops on SIGTERM with exit 0', async () => {
    expect(await stopChild(codecServer)).toBe(0);
  });
});

describe("the server's database", () => {
  it("the dev server's SQLite file holds neither the env value, the script output nor a workflow's failure, as text, hex or base64", async () => {
    // Stopped first, so everything is in the files (the WAL is checkpointed on a clean stop; it is read too if left).
    await server.stop();
    const files = ['temporal.db', 'temporal.db-wal', 'temporal.db-shm'].map((f) => path.join(home, f));
    const bytes = Buffer.concat(await Promise.all(files.filter(existsSync).map((f) => readFile(f))));
    expect(bytes.length).toBeGreaterThan(100_000);
    // The scan finds what is there: the workflow id (the cluster's name) is stored as it is.
    expect(foundIn(bytes, WORKFLOW_ID)).toBe(true);
    expectAbsent(bytes, SECRET);
    expectAbsent(bytes, CANARY);
    expectAbsent(bytes, REFUSED);
  });
  // The pg_dump of the PostgreSQL-backed server (npm run temporal:prod): test/k8s/production-temporal.test.ts.
});
