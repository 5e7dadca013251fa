/** `npm run crds` writes crds/*.yaml from api/; a unit test fails when they drift. */
import { writeFileSync } from 'node:fs';
import { crdFiles } from '../lib/crd-files.ts';

for (const [file, text] of crdFiles()) {
  writeFileSync(file, text);
  process.stdout.write(`wrote ${file}\n`);
}
