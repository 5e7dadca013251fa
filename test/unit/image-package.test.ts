/**
 * A package that is a file of the member's image (KubeDirector's file:// rule on Kubernetes, ADR 0045):
 * the in-pod program unpacks it into /opt/guestconfig, and says "not in the image" (exit 3) apart from
 * any other failure. Run here with sh under a root prefix, as the kwok harness runs in-pod programs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inPodCommand } from '../../runtimes/kubernetes/in-pod.ts';

describe('installImagePackage', () => {
  it('unpacks a .tgz from the image into /opt/guestconfig, and exits 3 when the image has none', async () => {
    const prefix = await mkdtemp(path.join(os.tmpdir(), 'kdflow-image-'));
    const root = path.join(prefix, 'ns', 'pod');
    const src = path.join(prefix, 'src', 'appconfig');
    await mkdir(src, { recursive: true });
    await writeFile(path.join(src, 'startscript'), 'echo hi\n', { mode: 0o4755 });
    await mkdir(path.join(root, 'opt/configscripts'), { recursive: true });
    execFileSync('tar', ['-czf', path.join(root, 'opt/configscripts/app.tgz'), '-C', path.dirname(src), 'appconfig']);
    const run = (guestPath: string) => {
      const [cmd, ...args] = inPodCommand('installImagePackage', 'ns/pod', [guestPath]);
      return spawnSync(cmd as string, args, { env: { ...process.env, KDFLOW_ROOT_PREFIX: prefix }, encoding: 'utf8' });
    };
    const ok = run('/opt/configscripts/app.tgz');
    expect({ status: ok.status, stderr: ok.stderr }).toEqual({ status: 0, stderr: '' });
    expect(await readFile(path.join(root, 'opt/guestconfig/appconfig/startscript'), 'utf8')).toBe('echo hi\n');
    // No setuid bit survives, as for a package the worker sends.
    const mode = Number(
      execFileSync('stat', ['-c', '%a', path.join(root, 'opt/guestconfig/appconfig/startscript')])
        .toString()
        .trim(),
    );
    expect(mode).toBe(755);
    expect(run('/opt/configscripts/missing.tgz').status).toBe(3);
  });
});
