/**
 * The bare-process baseline: what a plain Node loop does for N members without kdflow. The same
 * directory set-up as the local runtime (opt/guestconfig, etc/guestconfig 0700 with a configmeta
 * naming every member, the startscript copied in) and the same script run with the output in files,
 * `parallel` at a time. No keep-alive process, no durable state, no retries: that is kdflow's overhead.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, open, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function bareRun(
  dir: string,
  members: number,
  parallel: number,
  startscript: string,
  argv: string[] = ['--configure'],
): Promise<number> {
  const names = Array.from({ length: members }, (_, i) => `bare-${i}`);
  const configmeta = `${JSON.stringify({ members: names.map((n) => `${n}.bare.default.svc.cluster.local`) }, null, 2)}\n`;
  const queue = [...names];
  const t0 = performance.now();
  const lanes = Array.from({ length: Math.min(parallel, members) }, async () => {
    for (let name = queue.shift(); name; name = queue.shift()) {
      const root = path.join(dir, name);
      const guest = path.join(root, 'opt', 'guestconfig');
      await mkdir(path.join(guest, 'appconfig'), { recursive: true });
      await mkdir(path.join(root, 'etc', 'guestconfig'), { recursive: true, mode: 0o700 });
      await writeFile(path.join(root, 'etc', 'guestconfig', 'configmeta.json'), configmeta, { mode: 0o600 });
      const script = path.join(guest, 'appconfig', 'startscript');
      await copyFile(startscript, script);
      const code = await run(script, argv, root, path.join(guest, 'configure'));
      await writeFile(path.join(guest, 'configure.status'), `${name}=${code}\n`);
      if (code !== 0) throw new Error(`bare run of ${name} exited with ${code}`);
    }
  });
  // Every lane stops before the directory goes, even when one failed.
  const failure = (await Promise.allSettled(lanes)).find((r) => r.status === 'rejected');
  const ms = performance.now() - t0;
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  if (failure) throw failure.reason;
  return ms;
}

async function run(script: string, argv: string[], cwd: string, outputPrefix: string): Promise<number | null> {
  const out = await open(`${outputPrefix}.stdout`, 'w');
  const err = await open(`${outputPrefix}.stderr`, 'w');
  try {
    // A lane's fork can briefly hold another lane's freshly copied script open for writing (the
    // write fd lives in the child until it execs): that exec fails with ETXTBSY, and a retry after
    // a moment succeeds. The time it costs stays in the measurement.
    for (let attempt = 1; ; attempt++) {
      try {
        const child = spawn(script, argv, { cwd, stdio: ['ignore', out.fd, err.fd] });
        return await new Promise((resolve, reject) => {
          child.once('error', reject);
          child.once('exit', (code) => resolve(code));
        });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ETXTBSY' || attempt >= 5) throw error;
        await new Promise((r) => setTimeout(r, 5 * attempt));
      }
    }
  } finally {
    await out.close();
    await err.close();
  }
}
