/**
 * Part 7: security checks with a live cluster. Secret-looking role env values that a startscript
 * prints must not reach status, `kdflow get -o json`, `kdflow history` or the worker's log (while a
 * plain value still shows, so the check is not vacuous); env values that look like shell are inert;
 * member directories, configmeta and the dev server's database have private modes; and the source
 * builds no shell strings.
 */
import { randomBytes } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { KdClusterSpec, statusQuery } from '../../api/index.ts';
import type { CliRunner } from './cli-runner.ts';
import { workflowHistory } from './checks.ts';
import type { ChaosEnv } from './env.ts';
import { REPO } from './env.ts';
import {
  APP_NAME,
  NAMESPACE,
  bounded,
  deleteCluster,
  scriptApp,
  settled,
  startCluster,
  waitForStatus,
} from './fixtures.ts';
import { partReport, type PartReport, type TrialResult } from './report.ts';
import { scanSource } from '../source-scan.ts';

/** Prints its whole environment to stdout and stderr; the worker role then fails so the tails land in lastError too. */
const ECHO_ENV_SCRIPT = `#!/usr/bin/env bash
env | sort
env | sort >&2
[ "$CHAOS_FAIL" = yes ] && exit 1
exit 0
`;

export async function security(env: ChaosEnv, cli: CliRunner): Promise<PartReport> {
  const started = Date.now();
  const results: TrialResult[] = [];
  const trial = (id: string, problems: string[], details?: Record<string, unknown>) =>
    results.push({ id, passed: problems.length === 0, problems, ...(details ? { details } : {}) });

  // --- the source ---
  const scan = scanSource(REPO);
  trial(
    'no shell strings in the source',
    scan.findings.map((f) => `${f.file}:${f.line}: ${f.what}`),
    { filesScanned: scan.files },
  );

  // --- a cluster with secrets in its env ---
  const secret = (label: string) => `${label}-${randomBytes(6).toString('hex')}`;
  const secrets = {
    DB_PASSWORD: secret('pw'),
    API_TOKEN: secret('tok'),
    AWS_SECRET_ACCESS_KEY: secret('aws'),
    SSH_PRIVATE_KEY: secret('ssh'),
  };
  const plain = secret('plain');
  const pwned = path.join(env.dir, 'security-pwned');
  const inert = [`$(touch ${pwned})`, `\`touch ${pwned}\``, `; touch ${pwned}`, `' ; touch ${pwned}; '`];
  const roleEnv = (fail: boolean) => [
    ...Object.entries(secrets).map(([name, value]) => ({ name, value })),
    { name: 'LOG_LEVEL', value: plain },
    ...inert.map((value, i) => ({ name: `INERT_${i}`, value })),
    { name: 'CHAOS_FAIL', value: fail ? 'yes' : 'no' },
  ];
  const app = await scriptApp(path.join(env.dir, 'security-pkg'), ECHO_ENV_SCRIPT, {
    retry: { maximumAttempts: 1, initialIntervalSeconds: 0.2, backoffCoefficient: 1 },
  });
  const name = 'secrets';
  const spec = KdClusterSpec.parse({
    app: APP_NAME,
    roles: [
      { id: 'controller', members: 1, env: roleEnv(false) },
      { id: 'worker', members: 1, env: roleEnv(true) },
    ],
  });
  const handle = await startCluster(env, name, app, spec);
  const status = await waitForStatus(handle, settled(1), 120_000);
  const get = await cli(['get', name, '-o', 'json']);
  const history = await cli(['history', name]);
  const workerLogs = (
    await Promise.all(
      (await readdir(env.dir))
        .filter((f) => f.startsWith('worker-'))
        .map((f) => readFile(path.join(env.dir, f), 'utf8')),
    )
  ).join('\n');
  const member = (role: string) => status.roles.find((r) => r.id === role)?.members[0];
  const stdoutOnDisk = await readFile(
    path.join(
      env.runtime.memberRoot({ namespace: NAMESPACE, cluster: name, name: member('controller')?.name ?? '' }),
      'opt/guestconfig/configure.stdout',
    ),
    'utf8',
  ).catch(() => '');

  {
    const problems: string[] = [];
    const places: [string, string][] = [
      ['status', JSON.stringify(status)],
      ['kdflow get -o json', get.stdout],
      ['kdflow history', history.stdout],
      ['the worker log', workerLogs],
    ];
    for (const [where, text] of places)
      for (const [key, value] of Object.entries(secrets))
        if (text.includes(value)) problems.push(`${key} appears in ${where}`);
    // Not vacuous: the script did print them, and a plain value still shows.
    if (!stdoutOnDisk.includes(secrets.DB_PASSWORD))
      problems.push('the script did not print its env (the member file lacks DB_PASSWORD)');
    // Output tails are in history (the activities' results), not in status (docs/adr/0013).
    if (
      !history.stdout.includes(plain) &&
      !(await workflowHistory(handle)).some((run) => (run.stdoutTail ?? '').includes(plain))
    )
      problems.push('the plain LOG_LEVEL value is missing from the history tails (over-redaction, or no tails)');
    if (
      !(await workflowHistory(handle)).some(
        (run) => run.member === member('worker')?.name && (run.stdoutTail ?? '').includes('[redacted]'),
      )
    )
      problems.push("the failed member's output tail in history shows no [redacted]");
    if (get.code !== 0) problems.push(`kdflow get exited ${get.code}: ${get.stderr}`);
    trial('secret env values redacted from status, get -o json, history and logs', problems, {
      secretsChecked: Object.keys(secrets),
      placesChecked: places.map(([p]) => p),
    });
  }
  {
    const problems: string[] = [];
    if (
      await stat(pwned).then(
        () => true,
        () => false,
      )
    )
      problems.push(`an env value was run as shell: ${pwned} exists`);
    for (const value of inert)
      if (!stdoutOnDisk.includes(value))
        problems.push(`env value ${JSON.stringify(value)} did not reach the script as is`);
    trial('shell-looking env values reach the script verbatim and run nothing', problems);
  }
  {
    const problems: string[] = [];
    const root = env.runtime.memberRoot({
      namespace: NAMESPACE,
      cluster: name,
      name: member('controller')?.name ?? '',
    });
    const modes: [string, string, number][] = [
      ['member dir', root, 0o700],
      ['/etc/guestconfig', path.join(root, 'etc/guestconfig'), 0o700],
      // Readable by whatever user a script runs as, as KubeDirector's; its directory keeps it private (ADR 0025).
      ['configmeta.json', path.join(root, 'etc/guestconfig/configmeta.json'), 0o644],
      ['members/<namespace>', path.join(env.home, 'members', NAMESPACE), 0o700],
      // The dev server's SQLite file holds every history, env values included.
      ['the Temporal dev server database', env.dbFile, 0o600],
    ];
    const seen: Record<string, string> = {};
    for (const [what, file, want] of modes) {
      const mode = ((await stat(file).catch(() => undefined))?.mode ?? 0) & 0o777;
      seen[what] = mode.toString(8);
      if (mode !== want) problems.push(`${what} has mode ${mode.toString(8)}, not ${want.toString(8)}`);
    }
    trial('private file modes', problems, { modes: seen });
  }
  const final = await bounded(handle, 10_000, () => handle.query(statusQuery));
  await deleteCluster(handle);
  for (const r of results) if (!r.passed) env.log(`[chaos] security ${r.id}: FAIL ${r.problems.join('; ')}`);
  return partReport('security', 'Security checks', results, Date.now() - started, {
    sourceFilesScanned: scan.files,
    shellStringFindings: scan.findings.length,
    clusterPhase: final.phase,
    notes: [
      "Secret-looking names: PASSWORD, PASSWD, SECRET, TOKEN, KEY, CREDENTIAL, PRIVATE (values of 4 characters or more); the member's own output files keep everything.",
      'Temporal history (workflow input, activity input) still holds env values in plain text: see docs/security.md.',
    ],
  });
}
