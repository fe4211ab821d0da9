/**
 * Debian packages for a target architecture, fetched with `apt-get download` against a private apt
 * state (its own sources list, lists and cache under layer/.build), so the host's apt and dpkg
 * configuration is never touched and no foreign architecture has to be registered.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export type DebianArch = "amd64" | "arm64";

const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";
const MIRROR = "http://deb.debian.org/debian";

export class DebianPackages {
  private readonly root: string;
  private updated = false;

  constructor(
    readonly arch: DebianArch,
    workDir: string,
    private readonly suites: readonly string[] = ["bookworm", "bullseye"],
  ) {
    this.root = path.join(workDir, `apt-${arch}`);
  }

  private options(): string[] {
    return [
      "-o",
      `Dir::Etc::SourceList=${path.join(this.root, "sources.list")}`,
      "-o",
      "Dir::Etc::SourceParts=/dev/null",
      "-o",
      `Dir::State::Lists=${path.join(this.root, "lists")}`,
      "-o",
      `Dir::Cache=${path.join(this.root, "cache")}`,
      "-o",
      `APT::Architecture=${this.arch}`,
      "-o",
      `APT::Architectures::=${this.arch}`,
      "-o",
      "APT::Sandbox::User=root",
      "-o",
      "Debug::NoLocking=1",
      "-q",
    ];
  }

  private update(): void {
    if (this.updated) return;
    for (const dir of ["lists/partial", "cache/archives/partial", "debs"]) mkdirSync(path.join(this.root, dir), { recursive: true });
    if (!existsSync(KEYRING)) throw new Error(`${KEYRING} is missing: install debian-archive-keyring (apt-get install debian-archive-keyring)`);
    writeFileSync(
      path.join(this.root, "sources.list"),
      this.suites.map((suite) => `deb [arch=${this.arch} signed-by=${KEYRING}] ${MIRROR} ${suite} main\n`).join(""),
    );
    try {
      execFileSync("apt-get", [...this.options(), "update"], { stdio: "pipe" });
    } catch (err) {
      throw new Error(`apt-get update for ${this.arch} failed (is ${MIRROR} reachable?): ${(err as { stderr?: Buffer }).stderr?.toString() ?? err}`, {
        cause: err,
      });
    }
    this.updated = true;
  }

  /** Downloads `name=version` (or the candidate for a bare name) once; returns the .deb path. */
  download(spec: string): string {
    const [name, version] = spec.split("=");
    const dir = path.join(this.root, "debs");
    const debVersion = version?.replace(/:/g, "%3a");
    const match = (f: string) => f.startsWith(`${name}_`) && (!debVersion || f.startsWith(`${name}_${debVersion}_`)) && f.endsWith(".deb");
    const cached = existsSync(dir) ? readdirSync(dir).find(match) : undefined;
    if (cached && version) return path.join(dir, cached);
    this.update();
    try {
      execFileSync("apt-get", [...this.options(), "download", spec], { cwd: dir, stdio: "pipe" });
    } catch (err) {
      throw new Error(
        `apt-get download ${spec} (${this.arch}) failed: ${(err as { stderr?: Buffer }).stderr?.toString().trim() ?? err}\n` +
          "If Debian no longer serves this version, bump it in layer/packages.json.",
        { cause: err },
      );
    }
    const file = readdirSync(dir).filter(match).sort().pop();
    if (!file) throw new Error(`apt-get download ${spec} produced no .deb`);
    return path.join(dir, file);
  }

  /** Extracts a .deb's files into `into` (dpkg -x: no scripts, no installation). */
  static extract(deb: string, into: string): void {
    mkdirSync(into, { recursive: true });
    execFileSync("dpkg", ["-x", deb, into]);
  }
}
