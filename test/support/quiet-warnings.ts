/**
 * vitest's setup file: Node's "SQLite is an experimental feature" warning, printed once by every
 * test process that starts fauxqs (it keeps state in node:sqlite), says nothing about the code
 * under test. That one warning is dropped; every other warning is printed as Node prints it.
 */
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const text = typeof warning === "string" ? warning : warning?.message;
  if (/^SQLite is an experimental feature/.test(text ?? "")) return;
  emitWarning(warning, ...rest);
}) as typeof process.emitWarning;
