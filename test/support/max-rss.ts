/**
 * Preloaded into a process under test (`node --import ./test/support/max-rss.ts …`): at exit, writes
 * the process's peak resident set size in KiB to KDFLOW_TEST_MAX_RSS_FILE. Measures a real CLI run
 * without changing what it prints.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.KDFLOW_TEST_MAX_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
