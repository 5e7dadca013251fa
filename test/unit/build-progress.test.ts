import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { elapsed } from '../../lib/build-progress.ts';

/** runWithProgress in a process of its own, as a build script runs it; returns its stderr. */
async function build(dir: string, exitCode: number): Promise<{ code: number | null; stderr: string; log: string }> {
  const script = path.join(dir, 'go-like.sh');
  // Five hundred package names, as `go install -v` prints them, then the exit code asked for.
  await writeFile(
    script,
    `#!/bin/sh\ni=0; while [ $i -lt 500 ]; do echo "example.com/pkg$i"; i=$((i+1)); done\necho "the last line" >&2\nexit ${exitCode}\n`,
  );
  await chmod(script, 0o755);
  const logFile = path.join(dir, 'build.log');
  const driver = `import { runWithProgress } from ${JSON.stringify(path.resolve('lib/build-progress.ts'))};
process.exitCode = runWithProgress({ label: 'the thing', command: ${JSON.stringify(script)}, args: [], logFile: ${JSON.stringify(logFile)}, unit: 'packages' }) ?? 1;`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', driver], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('close', (code) => void readFile(logFile, 'utf8').then((log) => resolve({ code, stderr, log })));
  });
}

describe('a long build as one progress line', () => {
  it('keeps the output in the log and shows what is built, how far and since when', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-progress-'));
    const { code, stderr, log } = await build(dir, 0);
    expect(code).toBe(0);
    expect(log.split('\n').filter(Boolean)).toHaveLength(501);
    // Not a terminal: one line at the start (and one a minute), none of the package names.
    expect(stderr).toBe(`building the thing: 0 packages, 0s (log: ${path.join(dir, 'build.log')})\n`);
  });

  it('on failure shows the log’s last lines and names the file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-progress-'));
    const { code, stderr } = await build(dir, 3);
    expect(code).toBe(3);
    const lines = stderr.trimEnd().split('\n');
    expect(lines[1]).toMatch(
      new RegExp(
        `^building the thing failed \\(exit 3\\) after \\d+s; the last lines of ${path.join(dir, 'build.log')}:$`,
      ),
    );
    expect(lines.slice(2)).toHaveLength(20);
    expect(lines.at(-1)).toBe('  the last line');
  });

  it('says elapsed time as people do', () => {
    expect(elapsed(45_900)).toBe('45s');
    expect(elapsed(125_000)).toBe('2m05s');
  });
});
