/**
 * vitest's global setup: the run's own temporary folder. Tests, and the processes they start, make
 * folders under os.tmpdir() (spools, fake exiftools, archives, layers, HEIC fixtures); one that fails
 * before its clean-up, or never had one, left them in the machine's /tmp run after run (about 30
 * folders and 20 MB a run, found when /tmp held thousands). TMPDIR points every worker and every
 * child that inherits the environment at one folder of this run, removed when the run ends.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export default function setup(): () => void {
  const root = mkdtempSync(path.join(os.tmpdir(), "tip-test-run-"));
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
