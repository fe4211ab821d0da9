/** What the commands print for an error: one line a user can act on. */

/**
 * The error's message; a refused connection to loopback says what it means: the local platform is
 * not running (the commands' default target), and how to start it or target a deployed stack.
 */
export function errorMessage(err: unknown): string {
  const e = err as (NodeJS.ErrnoException & { address?: string; port?: number }) | undefined;
  if (e?.code === "ECONNREFUSED" && (e.address === "127.0.0.1" || e.address === "::1" || e.address === "localhost")) {
    return `nothing answers at ${e.address}:${e.port}: the local platform is not running. Start it with \`npm start\` in another terminal (or name a deployed stack with --stack <name>)`;
  }
  return err instanceof Error ? err.message : String(err);
}
