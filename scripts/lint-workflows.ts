/**
 * Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, and activities only as
 * types. tsc cannot say that, so this check reads every import in workflows/ and api/ (which the
 * workflow bundle includes) and fails on a violation.
 */
import { builtinModules } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const SANDBOXED = ['workflows', 'api'];
// Node-side code the sandbox may know only as types.
const NODE_SIDE = ['activities', 'runtimes', 'lib', 'cli', 'shim', 'worker', 'scripts', 'testing'];
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

export function importViolations(file: string, source: string): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const problems: string[] = [];
  const check = (spec: string, typeOnly: boolean, node: ts.Node) => {
    const where = `${file}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
    if (builtins.has(spec) || spec.startsWith('node:')) problems.push(`${where}: imports the Node built-in "${spec}"`);
    const resolved = spec.startsWith('.') ? path.relative('.', path.resolve(path.dirname(file), spec)) : '';
    const top = resolved.split(path.sep)[0] ?? '';
    if (NODE_SIDE.includes(top) && !typeOnly) problems.push(`${where}: imports ${spec} as a value; use "import type"`);
    // The workflow bundle gets the contract and nothing else of api/: edge code stays out (docs/adr/0013).
    if (
      file.startsWith(`workflows${path.sep}`) &&
      top === 'api' &&
      resolved !== path.join('api', 'contract.ts') &&
      !typeOnly
    )
      problems.push(`${where}: imports ${spec} as a value; workflows/ imports api/contract.ts`);
  };
  for (const stmt of sf.statements) {
    if (ts.isImportDeclaration(stmt) && ts.isStringLiteral(stmt.moduleSpecifier)) {
      const clause = stmt.importClause;
      const named =
        clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const typeOnly = Boolean(
        clause?.isTypeOnly || (clause && !clause.name && named && named.length > 0 && named.every((e) => e.isTypeOnly)),
      );
      check(stmt.moduleSpecifier.text, typeOnly, stmt);
    }
    if (ts.isExportDeclaration(stmt) && stmt.moduleSpecifier && ts.isStringLiteral(stmt.moduleSpecifier))
      check(stmt.moduleSpecifier.text, stmt.isTypeOnly, stmt);
  }
  return problems;
}

if (import.meta.main) {
  const problems = SANDBOXED.flatMap((dir) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => importViolations(path.join(dir, f), readFileSync(path.join(dir, f), 'utf8'))),
  );
  for (const p of problems) process.stderr.write(`lint: ${p}\n`);
  if (problems.length > 0) process.exit(1);
  process.stdout.write(`lint: ${SANDBOXED.join(', ')} import no Node built-ins and no activity values\n`);
}
