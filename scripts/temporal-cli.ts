/** `npm run temporal:build` builds the pinned Temporal CLI; `npm run temporal:dev` runs its dev server alone. */
import path from 'node:path';
import { kdflowHome, temporalAddress } from '../lib/config.ts';
import { ensureTemporalCli, startDevServer } from '../lib/temporal-server.ts';

const [command] = process.argv.slice(2);
try {
  if (command === 'build') {
    process.stdout.write(`${ensureTemporalCli((line) => process.stdout.write(`${line}\n`))}\n`);
  } else if (command === 'start') {
    const home = kdflowHome();
    const server = await startDevServer({
      port: Number(temporalAddress().split(':').at(-1)),
      dbFile: path.join(home, 'temporal.db'),
      logFile: path.join(home, 'temporal.log'),
    });
    process.stdout.write(
      `Temporal dev server on ${server.address}, Web UI ${server.uiUrl}${server.reused ? ' (already running)' : ''}\n`,
    );
    if (!server.reused) {
      await new Promise((resolve) => process.once('SIGINT', resolve));
      await server.stop();
    }
  } else {
    throw new Error('usage: temporal-cli.ts build|start');
  }
} catch (error) {
  process.stderr.write(`kdflow: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
