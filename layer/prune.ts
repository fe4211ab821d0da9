/**
 * What exiftool and the range helper never load, removed from the layer: documentation, POSIX (its
 * XS needs GLIBC_2.35; exiftool only tries it inside eval, for date formatting we do not use), DBM
 * bindings, threads, build and test tooling, Encode's CJK tables and Unicode::Collate (exiftool
 * converts character sets with its own Charset tables), exiftool's translations (-lang) and its
 * geolocation database (-api geolocation), neither of which the runtime asks for.
 */
import { readdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";

const REMOVE_NAMES = new Set([
  "POSIX.pm",
  "POSIX.pod",
  "POSIX",
  "DB_File.pm",
  "DB_File",
  "GDBM_File.pm",
  "GDBM_File",
  "NDBM_File.pm",
  "NDBM_File",
  "ODBM_File.pm",
  "ODBM_File",
  "SDBM_File.pm",
  "SDBM_File",
  "threads.pm",
  "threads",
  "CPAN",
  "CPAN.pm",
  "ExtUtils",
  "TAP",
  "Test2",
  "Test",
  "Pod",
  "pod",
  "perl5db.pl",
  "Module",
  "App",
  "DBM_Filter",
  "DBM_Filter.pm",
  "Devel",
  "perlfaq.pm",
]);
const REMOVE_SUFFIXES = [".pod", ".h", ".e2x", ".packlist"];
/** Paths relative to the layer root. */
const REMOVE_PATHS = [
  ...["arch/Encode", "arch/auto/Encode"].flatMap((dir) => ["JP", "JP.pm", "KR", "KR.pm", "CN", "CN.pm", "TW", "TW.pm"].map((n) => `lib/perl5/${dir}/${n}`)),
  "lib/perl5/share/Unicode/Collate",
  "lib/perl5/share/Unicode/Collate.pm",
  "lib/perl5/arch/Unicode/Collate",
  "lib/perl5/arch/Unicode/Collate.pm",
  "lib/perl5/arch/auto/Unicode/Collate",
  "bin/lib/Image/ExifTool/Lang",
  "bin/lib/Image/ExifTool/Geolocation.dat",
];

export function pruneTree(root: string): void {
  for (const rel of REMOVE_PATHS) rmSync(path.join(root, rel), { recursive: true, force: true });
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      // Keep exiftool's own tree whole apart from documentation.
      const inExiftool = full.includes(`${path.sep}bin${path.sep}lib${path.sep}`);
      if ((!inExiftool && REMOVE_NAMES.has(name)) || REMOVE_SUFFIXES.some((s) => name.endsWith(s))) {
        rmSync(full, { recursive: true, force: true });
        continue;
      }
      if (statSync(full).isDirectory()) walk(full);
    }
  };
  walk(path.join(root, "lib", "perl5"));
  walk(path.join(root, "bin", "lib"));
}
