/**
 * Part 6: hostile config packages. Each is refused by the package check (unit level), and all of
 * them together go through one real cluster — one role per package, plus a good role — where each
 * member must end in config error naming the problem while the good member is configured. The file
 * system is the judge: a sentinel directory the archives aim at, and the tree around the members,
 * are compared before and after.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { lstat, mkdir, readdir, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { KdClusterSpec, type MemberStatus } from '../../api/index.ts';
import { PACKAGE_LIMITS, preparePackage } from '../../runtimes/config-package.ts';
import { RuntimeError } from '../../runtimes/errors.ts';
import { checkGone } from './checks.ts';
import type { ChaosEnv } from './env.ts';
import {
  APP_NAME,
  NAMESPACE,
  chaosApp,
  deleteCluster,
  settled,
  startCluster,
  waitForStatus,
  writeScriptPackage,
} from './fixtures.ts';
import { partReport, type PartReport, type TrialResult } from './report.ts';
import { tarBytes, tgz, writeZeroBomb, type TarEntry } from './tarball.ts';

interface Hostile {
  /** Also the role id of its member in the cluster. */
  id: string;
  /** Writes the package and returns its URL. */
  make: (dir: string, ctx: Ctx) => Promise<string>;
  /** What the refusal (and the member's lastError) must say. */
  refusal: RegExp;
}

interface Ctx {
  sentinel: string;
  /** How many `..` climb from a member's /opt/guestconfig to the chaos dir. */
  climb: string;
  http404: string;
}

const script = (mode = 0o755): TarEntry[] => [
  { name: 'appconfig/', type: 'dir' },
  { name: 'appconfig/startscript', type: 'file', mode, content: '#!/bin/sh\necho configured\n' },
];

async function archive(dir: string, id: string, entries: TarEntry[]): Promise<string> {
  const file = path.join(dir, `${id}.tgz`);
  await writeFile(file, tgz(entries));
  return `file://${file}`;
}

const HOSTILE: Hostile[] = [
  {
    id: 'dotdot',
    refusal: /path contains '\.\.'/,
    make: (d, c) =>
      archive(d, 'dotdot', [
        ...script(),
        { name: `appconfig/${c.climb}sentinel/dotdot-pwned`, type: 'file', content: 'pwned' },
      ]),
  },
  {
    id: 'absolute',
    refusal: /absolute path/,
    make: (d, c) =>
      archive(d, 'absolute', [
        ...script(),
        { name: path.join(c.sentinel, 'absolute-pwned'), type: 'file', content: 'pwned' },
      ]),
  },
  {
    id: 'symlink-out',
    refusal: /symlink points outside the package/,
    make: (d, c) =>
      archive(d, 'symlink-out', [
        ...script(),
        { name: 'appconfig/escape', type: 'symlink', linkname: c.sentinel },
        { name: 'appconfig/escape/symlink-pwned', type: 'file', content: 'pwned' },
      ]),
  },
  {
    id: 'symlink-up',
    refusal: /symlink points outside the package/,
    make: (d, c) =>
      archive(d, 'symlink-up', [
        ...script(),
        { name: 'appconfig/up', type: 'symlink', linkname: `../${c.climb}sentinel` },
      ]),
  },
  {
    id: 'symlink-chain',
    refusal: /path goes through the symlink/,
    make: (d) =>
      archive(d, 'symlink-chain', [
        ...script(),
        { name: 'appconfig/l1', type: 'symlink', linkname: '..' },
        { name: 'appconfig/l1/l2', type: 'symlink', linkname: '..' },
        { name: 'appconfig/l1/l2/sentinel-chain-pwned', type: 'file', content: 'pwned' },
      ]),
  },
  {
    id: 'startscript-link',
    refusal: /symlink points outside the package|no <dir>\/startscript/,
    make: (d) =>
      archive(d, 'startscript-link', [
        { name: 'appconfig/', type: 'dir' },
        { name: 'appconfig/startscript', type: 'symlink', linkname: '/bin/sh' },
      ]),
  },
  {
    id: 'hardlink',
    refusal: /entry type Link is not allowed|Link/,
    make: (d, c) =>
      archive(d, 'hardlink', [
        ...script(),
        { name: 'appconfig/secret', type: 'hardlink', linkname: path.join(c.sentinel, 'secret') },
      ]),
  },
  {
    id: 'device',
    refusal: /entry type CharacterDevice is not allowed/,
    make: (d) => archive(d, 'device', [...script(), { name: 'appconfig/null', type: 'chardev' }]),
  },
  {
    id: 'bomb',
    refusal: /unpacks to more than/,
    make: async (d) => {
      const file = path.join(d, 'bomb.tgz');
      await writeZeroBomb(file, PACKAGE_LIMITS.unpackedBytes + 8 * 1024 * 1024, script());
      return `file://${file}`;
    },
  },
  {
    id: 'many-files',
    refusal: /more than 10000 entries/,
    make: (d) =>
      archive(d, 'many-files', [
        ...script(),
        ...Array.from({ length: PACKAGE_LIMITS.entries + 50 }, (_, i): TarEntry => ({
          name: `appconfig/f${i}`,
          type: 'file',
        })),
      ]),
  },
  {
    id: 'no-startscript',
    refusal: /no <dir>\/startscript/,
    make: (d) =>
      archive(d, 'no-startscript', [
        { name: 'appconfig/', type: 'dir' },
        { name: 'appconfig/readme', type: 'file', content: 'hi' },
      ]),
  },
  {
    id: 'two-startscripts',
    refusal: /more than one startscript/,
    make: (d) =>
      archive(d, 'two-startscripts', [
        ...script(),
        { name: 'other/', type: 'dir' },
        { name: 'other/startscript', type: 'file', mode: 0o755, content: '#!/bin/sh\n' },
      ]),
  },
  {
    id: 'not-gzip',
    refusal: /not a gzip tar archive/,
    make: async (d) => {
      await writeFile(path.join(d, 'not-gzip.tgz'), randomBytes(4096));
      return `file://${path.join(d, 'not-gzip.tgz')}`;
    },
  },
  {
    id: 'gzip-not-tar',
    refusal: /not a gzip tar archive|no <dir>\/startscript/,
    make: async (d) => {
      await writeFile(
        path.join(d, 'gzip-not-tar.tgz'),
        gzipSync('#!/bin/sh\necho this is not a tar archive\n'.repeat(50)),
      );
      return `file://${path.join(d, 'gzip-not-tar.tgz')}`;
    },
  },
  {
    id: 'truncated',
    refusal: /not a gzip tar archive/,
    make: async (d) => {
      const whole = gzipSync(
        tarBytes([...script(), { name: 'appconfig/data', type: 'file', content: randomBytes(64 * 1024) }]),
      );
      await writeFile(path.join(d, 'truncated.tgz'), whole.subarray(0, Math.floor(whole.length / 2)));
      return `file://${path.join(d, 'truncated.tgz')}`;
    },
  },
  {
    id: 'too-big',
    refusal: /is larger than 67108864 bytes/,
    make: async (d) => {
      await writeFile(path.join(d, 'too-big.tgz'), Buffer.alloc(PACKAGE_LIMITS.archiveBytes + 1));
      return `file://${path.join(d, 'too-big.tgz')}`;
    },
  },
  { id: 'missing-file', refusal: /does not exist/, make: async (d) => `file://${path.join(d, 'no-such-package.tgz')}` },
  { id: 'http-404', refusal: /answered HTTP 404/, make: async (_d, c) => c.http404 },
];

/** Every file under a directory with its size, mode and mtime: what "nothing changed" is checked against. */
async function fingerprint(dir: string, skip: (rel: string) => boolean = () => false): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const rel of await readdir(dir, { recursive: true }).catch(() => [] as string[])) {
    if (skip(rel)) continue;
    // lstat: a link is recorded as a link; a directory by its mode only (its mtime moves when kdflow adds its own dirs).
    const info = await lstat(path.join(dir, rel)).catch(() => undefined);
    if (info)
      out.set(
        rel,
        info.isDirectory() ? `dir:${info.mode.toString(8)}` : `${info.size}:${info.mode.toString(8)}:${info.mtimeMs}`,
      );
  }
  return out;
}

function diff(before: Map<string, string>, after: Map<string, string>): string[] {
  const changes: string[] = [];
  for (const [k, v] of after) if (before.get(k) !== v) changes.push(before.has(k) ? `changed ${k}` : `new ${k}`);
  for (const k of before.keys()) if (!after.has(k)) changes.push(`gone ${k}`);
  return changes;
}

export async function hostilePackages(env: ChaosEnv): Promise<PartReport> {
  const started = Date.now();
  const dir = path.join(env.dir, 'hostile');
  const sentinel = path.join(env.dir, 'sentinel');
  await mkdir(dir, { recursive: true });
  await mkdir(sentinel, { recursive: true });
  await writeFile(path.join(sentinel, 'secret'), 'the sentinel: hostile packages must never touch this directory\n');
  const server = http.createServer((_req, res) => res.writeHead(404).end('not here'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cluster = 'pkgs';
  // From <home>/members/<ns>/<cluster>/<member>/opt/guestconfig/appconfig up to the chaos dir.
  const guest = path.join(env.home, 'members', NAMESPACE, cluster, `${cluster}-x-0`, 'opt', 'guestconfig', 'appconfig');
  const ctx: Ctx = {
    sentinel,
    climb: `${path.relative(guest, env.dir)}/`,
    http404: `http://127.0.0.1:${(server.address() as AddressInfo).port}/pkg.tgz`,
  };
  const results: TrialResult[] = [];
  // The sentinel and everything in the chaos dir except what kdflow may write: members, the package
  // caches and unpack place, the guest tools, logs, the server's file. (Made by this part when it runs alone.)
  const outside = (rel: string) =>
    /^(home\/members|home\/packages|home\/\.unpack|home\/guest-tools|hostile|ledger|temporal\.|worker-|bad-specs|.*-pkg)/.test(
      rel,
    );
  const before = { sentinel: await fingerprint(sentinel), around: await fingerprint(env.dir, outside) };

  try {
    const urls = new Map<string, string>();
    for (const h of HOSTILE) urls.set(h.id, await h.make(dir, ctx));
    // Unit level: the package check refuses each, permanently, before anything is unpacked.
    const cache = path.join(dir, 'cache');
    const unit = new Map<string, string[]>();
    for (const h of HOSTILE) {
      const problems: string[] = [];
      const error = await preparePackage(urls.get(h.id) as string, cache).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (!(error instanceof RuntimeError))
        problems.push(`preparePackage did not refuse it: ${error ? (error as Error).message : 'accepted'}`);
      else {
        if (!error.permanent) problems.push(`refused as retryable: ${error.message}`);
        if (!h.refusal.test(error.message))
          problems.push(`refusal does not say ${h.refusal}: ${error.message.slice(0, 200)}`);
      }
      unit.set(h.id, problems);
    }

    // Cluster level: one member per hostile package, one good member; all in one launch.
    const good = await writeScriptPackage(path.join(dir, 'good'), '#!/bin/sh\necho configured\n');
    const app = chaosApp(good, {
      roles: [
        { id: 'good', cardinality: '1' },
        ...HOSTILE.map((h) => ({
          id: h.id,
          cardinality: '0+',
          configPackage: { packageURL: urls.get(h.id) as string },
        })),
      ],
      retry: { maximumAttempts: 2, initialIntervalSeconds: 0.2, backoffCoefficient: 1 },
    });
    const spec = KdClusterSpec.parse({
      app: APP_NAME,
      roles: [{ id: 'good', members: 1 }, ...HOSTILE.map((h) => ({ id: h.id, members: 1 }))],
    });
    const t0 = Date.now();
    const handle = await startCluster(env, cluster, app, spec);
    const status = await waitForStatus(handle, settled(1), 300_000);
    const settleMs = Date.now() - t0;
    const member = (role: string) => status.roles.find((r) => r.id === role)?.members[0] as MemberStatus;
    const afterRun = { sentinel: await fingerprint(sentinel), around: await fingerprint(env.dir, outside) };
    const escaped = [
      ...diff(before.sentinel, afterRun.sentinel).map((c) => `sentinel: ${c}`),
      ...diff(before.around, afterRun.around),
    ];
    for (const h of HOSTILE) {
      const problems = [...(unit.get(h.id) ?? [])];
      const m = member(h.id);
      if (m?.state !== 'config error') problems.push(`member is ${m?.state}, not config error`);
      if (!h.refusal.test(m?.lastError ?? ''))
        problems.push(`member lastError does not say ${h.refusal}: ${m?.lastError?.slice(0, 200)}`);
      // Nothing of the package reached the member.
      const unpacked = await readdir(
        path.join(env.runtime.memberRoot({ namespace: NAMESPACE, cluster, name: m?.name ?? '' }), 'opt', 'guestconfig'),
      ).catch(() => ['(member dir missing)']);
      // .kdflow holds the helpers kdflow itself installs (ccli and its names, ADR 0025).
      const fromPackage = unpacked.filter((entry) => entry !== '.kdflow');
      if (fromPackage.length > 0) problems.push(`the member's /opt/guestconfig holds ${fromPackage.join(',')}`);
      problems.push(...escaped);
      results.push({
        id: h.id,
        passed: problems.length === 0,
        problems,
        details: { lastError: m?.lastError?.split('\n')[0] },
      });
    }
    const g = member('good');
    results.push({
      id: 'good member beside them',
      passed: g?.state === 'configured',
      problems: g?.state === 'configured' ? [] : [`good member is ${g?.state}: ${g?.lastError}`],
    });
    await deleteCluster(handle);
    const gone = await checkGone(env, cluster);
    const afterDelete = diff(before.sentinel, await fingerprint(sentinel));
    if (gone.length > 0 || afterDelete.length > 0)
      results.push({ id: 'teardown', passed: false, problems: [...gone, ...afterDelete] });
    for (const r of results) if (!r.passed) env.log(`[chaos] hostile-packages ${r.id}: FAIL ${r.problems.join('; ')}`);
    return partReport('hostile-packages', 'Hostile config packages', results, Date.now() - started, {
      packages: HOSTILE.length,
      clusterSettleMs: settleMs,
      notes: [
        'Each package is refused by preparePackage (permanently, naming the problem) and, in one real cluster with a role per package, its member ends in config error with the same reason while a good member beside them is configured.',
        'The archives aim at a sentinel directory (by .., absolute names, symlinks, hard links and a symlink chain); it and the tree around the members are fingerprinted (size, mode, mtime of every file) before and after: any difference fails every trial.',
      ],
    });
  } finally {
    server.close();
  }
}
