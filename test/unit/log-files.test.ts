import { chmod, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileLogger, openPrivateLog } from '../../lib/logger.ts';

describe('log files', () => {
  it('worker.log (npm start) is 0600, also when an earlier run left it 0644, and is still redacted', async () => {
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'kdflow-log-')), 'worker.log');
    await writeFile(file, 'earlier run\n');
    await chmod(file, 0o644);
    const logger = fileLogger(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    logger.info({ password: 'hunter2', member: 'm-0' }, 'script finished');
    await new Promise<void>((resolve, reject) => logger.flush((error) => (error ? reject(error) : resolve())));
    const text = await readFile(file, 'utf8');
    expect(text).toMatch(/^earlier run\n/);
    expect(text).toContain('script finished');
    expect(text).not.toContain('hunter2');
  });

  it('a new log file (temporal.log) is created 0600', async () => {
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'kdflow-log-')), 'temporal.log');
    openPrivateLog(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });
});
