/**
 * How a startscript is started, on every runtime (KubeDirector's images run it through a shell that
 * is bash): one without a shebang runs with bash (sh where there is no bash), and one that lost its
 * exec bit gets it back (KubeDirector does `chmod u+x`). The Kubernetes runtime does the same in its
 * in-pod program (runtimes/kubernetes/in-pod.ts, runStart).
 */
import { access, chmod, open, stat } from 'node:fs/promises';
import { constants } from 'node:fs';

/** The argv that runs `script`: [script], or [bash, script] when it has no `#!` line. */
export async function startscriptCommand(script: string): Promise<string[]> {
  const info = await stat(script);
  if ((info.mode & 0o100) === 0) await chmod(script, info.mode | 0o100);
  const handle = await open(script, 'r');
  try {
    const head = Buffer.alloc(2);
    await handle.read(head, 0, 2, 0);
    if (head.toString('latin1') === '#!') return [script];
  } finally {
    await handle.close();
  }
  return [(await isExecutable('/bin/bash')) ? '/bin/bash' : '/bin/sh', script];
}

async function isExecutable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}
