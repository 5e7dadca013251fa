import { mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnDetached } from '../../runtimes/spawner.ts';

describe('the spawner process', () => {
  it('starts detached processes with their argv0, cwd and environment, and says when they exit', async () => {
    const cwd = os.tmpdir();
    const sleeper = await spawnDetached({ command: 'sleep', args: ['30'], argv0: 'kdflow-spawner-test', cwd });
    expect((await readFile(`/proc/${sleeper.pid}/cmdline`, 'utf8')).split('\0')[0]).toBe('kdflow-spawner-test');
    expect(await readlink(`/proc/${sleeper.pid}/cwd`)).toBe(cwd);
    // Its own session: removal kills it by process group.
    const stat = await readFile(`/proc/${sleeper.pid}/stat`, 'utf8');
    expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3])).toBe(sleeper.pid);
    process.kill(-sleeper.pid, 'SIGKILL');
    await sleeper.exited;

    const out = path.join(await mkdtemp(path.join(cwd, 'kdflow-spawner-')), 'env');
    const quick = await spawnDetached({
      command: 'sh',
      args: ['-c', 'echo "$ONLY:$HOME" > "$1"', 'sh', out],
      cwd,
      env: { ONLY: 'yes', PATH: process.env.PATH },
    });
    await quick.exited;
    expect(await readFile(out, 'utf8')).toBe('yes:\n');
    await rm(path.dirname(out), { recursive: true, force: true });
    await expect(spawnDetached({ command: '/nonexistent/kdflow', args: [], cwd })).rejects.toThrow(/ENOENT/);
  });
});
