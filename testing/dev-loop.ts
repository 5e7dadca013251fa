/**
 * `kdflow dev` driven as an app author drives it, for its test and its bench point: in a terminal (a
 * pseudo-terminal made by util-linux's `script`, so that keys reach it one at a time), with its
 * output kept, waited on by pattern, and the time each pattern first appeared.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));

export class DevTerminal {
  /** Everything the terminal showed, with \r\n as \n. */
  text = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcessWithoutNullStreams;
  private waiters: (() => void)[] = [];

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.child = child;
    const take = (d: Buffer) => {
      this.text += d.toString().replaceAll('\r\n', '\n');
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    this.exited = new Promise((resolve) => child.on('close', resolve));
  }

  /** `kdflow dev ARGS` in a terminal of its own, with this environment. */
  static start(args: string[], env: NodeJS.ProcessEnv): DevTerminal {
    const command = ['exec', process.execPath, 'cli/bin.js', 'dev', ...args].map(shellWord).join(' ');
    const child = spawn('script', ['-q', '-f', '-e', '-c', command, '/dev/null'], {
      cwd: REPO,
      env: { ...process.env, NO_COLOR: '1', ...env },
    });
    return new DevTerminal(child);
  }

  /** Resolves, once every pattern has matched the text after `from`, with the end of the last match. */
  async waitFor(from: number, ...patterns: RegExp[]): Promise<number> {
    for (;;) {
      const tail = this.text.slice(from);
      const ends = patterns.map((p) => {
        const m = p.exec(tail);
        return m ? m.index + m[0].length : -1;
      });
      if (ends.every((e) => e >= 0)) return from + Math.max(...ends);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Keys, as typed. */
  type(keys: string): void {
    this.child.stdin.write(keys);
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

function shellWord(word: string): string {
  return /^[\w./=:-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** An app and a cluster of `members` members whose startscript prints `mark`, in `dir`; returns the paths. */
export async function writeDevLoopApp(
  dir: string,
  members: number,
  mark: string,
): Promise<{ app: string; cluster: string; startscript: string }> {
  await mkdir(path.join(dir, 'pkg'), { recursive: true });
  const startscript = path.join(dir, 'pkg', 'startscript');
  await writeStartscript(startscript, mark);
  const app = path.join(dir, 'app.yaml');
  const cluster = path.join(dir, 'cluster.yaml');
  await writeFile(
    app,
    [
      'apiVersion: kdflow.dev/v1beta1',
      'kind: KdApp',
      'metadata: { name: devloop }',
      'spec:',
      '  label: { name: Dev loop }',
      '  distroID: kdflow/devloop',
      '  version: "1"',
      '  defaultImageRepoTag: none',
      '  defaultConfigPackage: { packageURL: file://./pkg }',
      '  roles:',
      '    - id: node',
      '      cardinality: "1+"',
      '  actions:',
      '    - name: compact',
      '      params: [{ name: level, type: enum, values: [low, high], default: low }]',
      '    - name: backup',
      '',
    ].join('\n'),
  );
  await writeFile(cluster, devLoopCluster(members));
  return { app, cluster, startscript };
}

export function devLoopCluster(members: number): string {
  return [
    'apiVersion: kdflow.dev/v1beta1',
    'kind: KdCluster',
    'metadata: { name: loop }',
    'spec:',
    '  app: devloop',
    '  roles:',
    '    - id: node',
    `      members: ${members}`,
    '',
  ].join('\n');
}

/** An instant startscript that prints `mark`, its options and where it runs. */
export async function writeStartscript(file: string, mark: string): Promise<void> {
  await writeFile(file, `#!/bin/sh\necho "${mark} $* on $(hostname)"\n`);
  await chmod(file, 0o755);
}
