/** Running the kdflow CLI as a user does (its own process), or its entry point in this process (fast). */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { main } from '../../cli/main.ts';
import { REPO } from './env.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export type CliRunner = (args: string[]) => Promise<CliResult>;

const CLI = path.join(REPO, 'cli', 'main.ts');

/** `npx node cli/main.ts …` against the chaos environment's server and home. */
export function processCli(env: { home: string; address: string }): CliRunner {
  return (args) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        cwd: REPO,
        env: { ...process.env, KDFLOW_HOME: env.home, TEMPORAL_ADDRESS: env.address, KDFLOW_DEBUG: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
}

/** The CLI's own main() in this process: the same code path without a Node start per call. */
export function inProcessCli(env: { home: string; address: string }): CliRunner {
  return async (args) => {
    const saved = { home: process.env.KDFLOW_HOME, address: process.env.TEMPORAL_ADDRESS };
    process.env.KDFLOW_HOME = env.home;
    process.env.TEMPORAL_ADDRESS = env.address;
    const out: string[] = [];
    const err: string[] = [];
    try {
      const code = await main(
        args,
        (l) => out.push(l),
        (l) => err.push(l),
      );
      return { code, stdout: out.map((l) => `${l}\n`).join(''), stderr: err.map((l) => `${l}\n`).join('') };
    } finally {
      restore('KDFLOW_HOME', saved.home);
      restore('TEMPORAL_ADDRESS', saved.address);
    }
  };
}

function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
