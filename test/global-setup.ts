import { ensureTemporalCli } from '../lib/temporal-server.ts';

/** Build (or find) the Temporal CLI once, before any test file starts a dev server with it. */
export default function setup(): void {
  process.env.KDFLOW_TEMPORAL_BIN = ensureTemporalCli();
}
