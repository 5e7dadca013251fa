#!/bin/sh
//bin/sh -c :; d=$(dirname "$(readlink -f "$0")"); n="$d/../node_modules/node/bin/node"; [ -x "$n" ] || n=node; exec "$n" "$0" "$@"
//
// The kdflow command: `npx kdflow`, or `kdflow` on the PATH after `npm link`. Run as a program, the shell
// line above (a comment to JavaScript) execs this file under the project's Node 24 (the `node`
// devDependency), whatever the system Node is: one exec, no npm and no second Node in between. Run as
// `node cli/bin.js` with a Node that cannot strip types, it runs itself again under the project's Node.
// The compile cache keeps V8's compiled code (TypeScript already stripped) between runs: docs/adr/0031.
import module from 'node:module';

if (process.features.typescript) {
  module.enableCompileCache?.();
  const { main } = await import('./main.ts');
  process.exitCode = await main(process.argv.slice(2));
} else {
  const { reexec } = await import('./reexec.js');
  await reexec(process.argv.slice(1));
}
