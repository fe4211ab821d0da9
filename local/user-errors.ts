/** What the commands print for an error: one line a user can act on. */

/**
 * The error's message; a refused connection to loopback says what it means: the local platform is
 * not running (the commands' default target), and how to start it, or, for a command that takes
 * `--stack` (`options.stacks`), target a deployed stack.
 */
export function errorMessage(err: unknown, options: { stacks?: boolean } = { stacks: true }): string {
  const e = err as (NodeJS.ErrnoException & { address?: string; port?: number }) | undefined;
  if (e?.code === "ECONNREFUSED" && (e.address === "127.0.0.1" || e.address === "::1" || e.address === "localhost")) {
    const orStack = options.stacks ? " (or name a deployed stack with --stack <name>)" : "";
    return `nothing answers at ${e.address}:${e.port}: the local platform is not running. Start it with \`npm start\` in another terminal${orStack}`;
  }
  return err instanceof Error ? err.message : String(err);
}
