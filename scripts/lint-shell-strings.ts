/**
 * `npm run lint`'s shell-string check: every process kdflow starts is an argv, never a command line
 * built from strings (the rules: testing/source-scan.ts). Exits 1 naming each finding.
 */
import path from 'node:path';
import { scanSource } from '../testing/source-scan.ts';

const { files, findings } = scanSource(path.resolve(import.meta.dirname, '..'));
for (const finding of findings) process.stderr.write(`${finding.file}:${finding.line}: ${finding.what}\n`);
if (findings.length > 0) {
  process.stderr.write(`lint: ${findings.length} shell string(s); pass an argv, and values as positional parameters\n`);
  process.exit(1);
}
process.stdout.write(`lint: ${files} source files start processes from an argv, never a shell string\n`);
