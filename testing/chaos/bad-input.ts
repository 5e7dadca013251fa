/**
 * Part 5: the bad-spec corpus through the real CLI (`kdflow apply -f FILE` against a live server and
 * worker): each must be refused with exit 1 and a line naming the field, with nothing stored or
 * started. Then the workflow is offered the same input, bypassing the CLI: as a change to a running
 * cluster (update and signal: rejected, visible in status.lastRejection, nothing changed) or as the
 * input of a new cluster workflow (it fails with InvalidCluster). Malformed signal payloads last.
 */
import { WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import {
  TASK_QUEUE,
  clusterWorkflowId,
  resizeSignal,
  retrySignal,
  specChangeSignal,
  specChangeUpdate,
  statusQuery,
  type ClusterStatus,
} from '../../api/index.ts';
import { BAD_PAYLOADS, GOOD_APP, TARGET, badSpecs, baseClusterSpec, type BadSpec } from './bad-specs.ts';
import { AppCatalog, sdkCatalogTransport } from '../../lib/app-catalog.ts';
import type { CliResult, CliRunner } from './cli-runner.ts';
import type { ChaosEnv } from './env.ts';
import {
  NAMESPACE,
  baseAppSpec,
  bounded,
  chaosApp,
  configured,
  deleteCluster,
  memberNames,
  sleep,
  waitForStatus,
  type ClusterHandle,
} from './fixtures.ts';
import { partReport, type PartReport, type TrialResult } from './report.ts';
import type { clusterWorkflow } from '../../workflows/cluster.ts';

export interface BadInputOptions {
  /** Runs the CLI for each case. */
  cli: CliRunner;
  /** How the CLI was run, for the report. */
  cliMode: string;
  /** Also run these cases (by index) through a real CLI process when cli is in-process. */
  processCli?: { run: CliRunner; sample: number[] };
  /** How many CLI runs at once. */
  concurrency: number;
}

export async function badInput(env: ChaosEnv, options: BadInputOptions): Promise<PartReport> {
  const started = Date.now();
  const dir = path.join(env.dir, 'bad-specs');
  await mkdir(dir, { recursive: true });
  const app = chaosApp(null);
  const cases = badSpecs(app);
  const results: TrialResult[] = [];

  // Controls: the good app and the target cluster go through the same CLI and must be accepted.
  const manifest = async (file: string, kind: 'KdApp' | 'KdCluster', name: string, spec: unknown) => {
    await writeFile(file, stringify({ apiVersion: 'kdflow.dev/v1beta1', kind, metadata: { name }, spec }));
    return file;
  };
  const goodApp = await manifest(path.join(dir, 'good-app.yaml'), 'KdApp', GOOD_APP, baseAppSpec(null));
  const goodCluster = await manifest(path.join(dir, 'good-cluster.yaml'), 'KdCluster', TARGET, baseClusterSpec());
  for (const [id, file] of [
    ['control: good app', goodApp],
    ['control: good cluster', goodCluster],
  ] as const) {
    const run = await options.cli(['apply', '-f', file]);
    results.push({
      id,
      passed: run.code === 0,
      problems: run.code === 0 ? [] : [`exit ${run.code}: ${run.stderr.trim()}`],
    });
  }
  const target = env.client.workflow.getHandle<typeof clusterWorkflow>(
    clusterWorkflowId(NAMESPACE, TARGET),
  ) as ClusterHandle;
  await waitForStatus(target, configured(1), 120_000);
  // The shared catalog (docs/adr/0039): every version of every app of the namespace.
  const catalog = new AppCatalog(sdkCatalogTransport(env.client));
  const listing = async () =>
    (await catalog.list(NAMESPACE)).flatMap((a) => a.versions.map((v) => `${a.name}@${v.version}`)).join(',');
  const appsBefore = await listing();

  // --- the CLI ---
  const files = await Promise.all(
    cases.map(async (c, i) => {
      const file = path.join(
        dir,
        `${String(i).padStart(2, '0')}-${c.id.replace(/[^a-z0-9]+/gi, '-').slice(0, 40)}.${c.text.trimStart().startsWith('{') ? 'json' : 'yaml'}`,
      );
      await writeFile(file, c.text);
      return file;
    }),
  );
  const cliRuns: CliResult[] = new Array(cases.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      for (let i = next++; i < cases.length; i = next++)
        cliRuns[i] = await options.cli(['apply', '-f', files[i] as string]);
    }),
  );
  const sampled = new Map<number, CliResult>();
  for (const i of options.processCli?.sample ?? [])
    if (cases[i])
      sampled.set(i, await (options.processCli as { run: CliRunner }).run(['apply', '-f', files[i] as string]));
  const targetStatus = await bounded(target, 10_000, () => target.query(statusQuery));

  for (const [i, c] of cases.entries()) {
    const problems: string[] = [];
    for (const [how, run] of [
      [options.cliMode, cliRuns[i] as CliResult],
      ...(sampled.has(i) ? [['process', sampled.get(i) as CliResult] as const] : []),
    ] as const) {
      problems.push(...cliProblems(how, run, c));
    }
    // Nothing stored, nothing started.
    if (c.kind === 'app' && (await listing()) !== appsBefore)
      problems.push(`the app catalog changed: ${await listing()}`);
    if (c.kind === 'cluster') problems.push(...(await noNewCluster(env, c)));
    results.push({
      id: c.id,
      passed: problems.length === 0,
      problems,
      details: {
        kind: c.kind,
        cli: (cliRuns[i]?.stderr ?? '').trim().split('\n')[0],
        workflow: c.workflow?.via ?? 'n/a',
      },
    });
  }
  if (targetStatus.generation !== 1)
    results.push({
      id: 'target untouched by the CLI cases',
      passed: false,
      problems: [`target is at generation ${targetStatus.generation}`],
    });

  // --- the workflow, bypassing the CLI ---
  let refusedByWorkflow = 0;
  for (const c of cases) {
    if (!c.workflow) continue;
    const result = results.find((r) => r.id === c.id) as TrialResult;
    const problems =
      c.workflow.via === 'change'
        ? await refusedChange(target, c, c.workflow.spec)
        : await refusedStart(env, c, c.workflow.input);
    if (problems.length === 0) refusedByWorkflow += 1;
    result.problems.push(...problems.map((p) => `workflow (${c.workflow?.via}): ${p}`));
    result.passed = result.problems.length === 0;
  }
  for (const payload of BAD_PAYLOADS) {
    const problems = await refusedPayload(target, payload.signal, payload.payload, payload.field);
    results.push({
      id: `payload: ${payload.id}`,
      passed: problems.length === 0,
      problems,
      details: { kind: 'payload', workflow: 'signal' },
    });
  }
  const final = await bounded(target, 10_000, () => target.query(statusQuery));
  if (final.generation !== 1 || final.phase !== 'configured')
    results.push({
      id: 'target unchanged at the end',
      passed: false,
      problems: [`target is ${final.phase} at generation ${final.generation}`],
    });
  await deleteCluster(target);
  for (const r of results) if (!r.passed) env.log(`[chaos] bad-input ${r.id}: FAIL ${r.problems.join('; ')}`);

  const manifests = cases.filter((c) => c.kind !== 'file');
  return partReport(
    'bad-input',
    'Bad specs through the CLI and straight to the workflow',
    results,
    Date.now() - started,
    {
      manifests: manifests.length,
      appManifests: cases.filter((c) => c.kind === 'app').length,
      clusterManifests: cases.filter((c) => c.kind === 'cluster').length,
      otherFiles: cases.filter((c) => c.kind === 'file').length,
      offeredToWorkflow: cases.filter((c) => c.workflow).length,
      refusedByWorkflow,
      malformedPayloads: BAD_PAYLOADS.length,
      cli: options.cliMode,
      cliAlsoAsProcess: options.processCli?.sample.length ?? 0,
      notes: [
        'Pass: the CLI exits 1 with one or more "kdflow: FILE: field: message" lines naming the field, no stack trace, no app stored and no cluster started; the workflow rejects the same change (update fails, status.lastRejection names the field, generation and members unchanged, and the same for the signal) or fails a new cluster with InvalidCluster naming the field.',
        'Two controls (a good app and a good cluster) go through the same CLI and must be accepted.',
      ],
    },
  );
}

function cliProblems(how: string, run: CliResult, c: BadSpec): string[] {
  const problems: string[] = [];
  const err = run.stderr.trim();
  if (run.code !== 1) problems.push(`CLI (${how}) exited ${run.code}, not 1: ${err.split('\n')[0]}`);
  if (!c.field.test(err)) problems.push(`CLI (${how}) did not name ${c.field}: ${err.slice(0, 300)}`);
  if (err.split('\n').some((l) => !l.startsWith('kdflow: ')))
    problems.push(`CLI (${how}) wrote more than kdflow: lines: ${err.slice(0, 300)}`);
  if (/\n\s+at /.test(run.stderr)) problems.push(`CLI (${how}) printed a stack trace`);
  return problems;
}

async function noNewCluster(env: ChaosEnv, c: BadSpec): Promise<string[]> {
  const name = c.workflow?.via === 'start' ? (c.workflow.input as { name?: unknown }).name : 'fresh';
  if (typeof name !== 'string' || name === TARGET) return [];
  try {
    const description = await env.client.workflow.getHandle(clusterWorkflowId(NAMESPACE, name)).describe();
    return [`a cluster workflow ${description.workflowId} was started`];
  } catch (error) {
    return error instanceof WorkflowNotFoundError ? [] : [`describe failed: ${(error as Error).message}`];
  }
}

const snapshot = (s: ClusterStatus) =>
  JSON.stringify({ generation: s.generation, members: memberNames(s), phase: s.phase });

async function waitForRejection(target: ClusterHandle, after: string | undefined): Promise<ClusterStatus> {
  return waitForStatus(
    target,
    (s) => s.lastRejection !== undefined && s.lastRejection.at + s.lastRejection.reason !== after,
    15_000,
  );
}

async function refusedChange(target: ClusterHandle, c: BadSpec, spec: unknown): Promise<string[]> {
  const problems: string[] = [];
  const field = c.workflowField ?? c.field;
  const before = await bounded(target, 10_000, () => target.query(statusQuery));
  try {
    await bounded(target, 20_000, () => target.executeUpdate(specChangeUpdate, { args: [{ spec: spec as never }] }));
    problems.push('the update was accepted');
  } catch (error) {
    if (!(error instanceof WorkflowUpdateFailedError))
      problems.push(`the update failed otherwise: ${(error as Error).message.slice(0, 200)}`);
    else if (!field.test(error.cause?.message ?? ''))
      problems.push(`the update's rejection does not name ${field}: ${error.cause?.message}`);
  }
  const afterUpdate = await waitForRejection(target, mark(before)).catch(() => undefined);
  if (!afterUpdate || !field.test(afterUpdate.lastRejection?.reason ?? ''))
    problems.push(`status.lastRejection does not name ${field}: ${afterUpdate?.lastRejection?.reason}`);
  if (afterUpdate && snapshot(afterUpdate) !== snapshot(before))
    problems.push(`the cluster changed: ${snapshot(before)} → ${snapshot(afterUpdate)}`);
  await target.signal(specChangeSignal, { spec: spec as never });
  const afterSignal = await waitForRejection(target, mark(afterUpdate ?? before)).catch(() => undefined);
  if (!afterSignal) problems.push('the signal left no rejection in status');
  else {
    if (!field.test(afterSignal.lastRejection?.reason ?? ''))
      problems.push(`the signal's rejection does not name ${field}: ${afterSignal.lastRejection?.reason}`);
    if (snapshot(afterSignal) !== snapshot(before))
      problems.push(`the signal changed the cluster: ${snapshot(afterSignal)}`);
  }
  return problems;
}

const mark = (s: ClusterStatus | undefined) =>
  s?.lastRejection ? s.lastRejection.at + s.lastRejection.reason : undefined;

async function refusedStart(env: ChaosEnv, c: BadSpec, input: unknown): Promise<string[]> {
  const problems: string[] = [];
  const field = c.workflowField ?? c.field;
  const workflowId = `kdcluster:chaos-start/${c.id.replace(/[^a-z0-9]+/gi, '-')}`;
  const membersBefore = await readdir(path.join(env.home, 'members'), { recursive: true }).catch(() => [] as string[]);
  const handle = await env.client.workflow.start('clusterWorkflow', {
    taskQueue: TASK_QUEUE,
    workflowId,
    args: [input as never],
  });
  try {
    await bounded(handle as ClusterHandle, 30_000, () => handle.result());
    problems.push('the workflow accepted the input and ran to the end');
  } catch (error) {
    if (!(error instanceof WorkflowFailedError)) {
      problems.push(`the workflow did not fail: ${(error as Error).message}`);
      await handle.terminate('chaos: invalid input was not refused').catch(() => {});
    } else if (!field.test(error.cause?.message ?? ''))
      problems.push(`InvalidCluster does not name ${field}: ${error.cause?.message}`);
  }
  const membersAfter = await readdir(path.join(env.home, 'members'), { recursive: true }).catch(() => [] as string[]);
  if (membersAfter.length !== membersBefore.length) problems.push('member directories were created');
  return problems;
}

async function refusedPayload(
  target: ClusterHandle,
  signal: 'resize' | 'specChange' | 'retry',
  payload: unknown,
  field: RegExp | undefined,
): Promise<string[]> {
  const problems: string[] = [];
  const before = await bounded(target, 10_000, () => target.query(statusQuery));
  const definition = { resize: resizeSignal, specChange: specChangeSignal, retry: retrySignal }[signal];
  await target.signal(definition as typeof resizeSignal, payload as never);
  if (field) {
    const after = await waitForRejection(target, mark(before)).catch(() => undefined);
    if (!after) problems.push('no rejection in status (is the workflow wedged?)');
    else if (!field.test(after.lastRejection?.reason ?? ''))
      problems.push(`the rejection does not name ${field}: ${after.lastRejection?.reason}`);
  } else {
    await sleep(1000);
  }
  // Still answering, and unchanged.
  const now = await bounded(target, 10_000, () => target.query(statusQuery)).catch((e: Error) => e);
  if (now instanceof Error) problems.push(`the workflow stopped answering: ${now.message}`);
  else if (snapshot(now) !== snapshot(before))
    problems.push(`the cluster changed: ${snapshot(before)} → ${snapshot(now)}`);
  return problems;
}
