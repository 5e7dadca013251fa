// Plain JavaScript on purpose: it runs on a Node too old to strip types (Node 20), to hand the command
// to the project's own Node (the `node` devDependency). See docs/adr/0031.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PROJECT_NODE = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'node_modules',
  'node',
  'bin',
  'node',
);

/** Runs `args` (a script and its arguments) under the project's Node and exits as it does. */
export async function reexec(args) {
  if (!existsSync(PROJECT_NODE)) {
    process.stderr.write(
      `kdflow: Node ${process.versions.node} cannot run kdflow's TypeScript and ${PROJECT_NODE} is missing; run npm install (it brings Node 24), or use Node >= 22.18\n`,
    );
    process.exit(3);
  }
  const child = spawn(PROJECT_NODE, args, { stdio: 'inherit' });
  // Ctrl-C reaches the child from the terminal itself; a signal sent to this process alone is passed on.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  const [code, signal] = await new Promise((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  process.exit(code ?? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
}
