// Module specifiers of a source file, read by TypeScript's own scanner: shared by the layer check
// (test/architecture) and by the test runner, which decides from them what a test file needs.
import ts from 'typescript'

/**
 * Every module a TypeScript or JavaScript source names, in order: static imports and re-exports (`import type` and
 * `export type` too), side-effect imports, and `import()` / `require()` of a string literal. Comments and other
 * strings are not imports.
 */
export function moduleSpecifiers(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName)
}
