import { createServer, connect } from "node:net";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { errorMessage } from "../../local/user-errors";

/** A real refused connection: a loopback port that was just closed. */
async function refusedConnection(): Promise<Error> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return new Promise((resolve) => connect(port, "127.0.0.1").on("error", resolve));
}

describe("a command's error line", () => {
  it("says the local platform is not running when loopback refuses, and how to start it", async () => {
    const err = await refusedConnection();
    const line = errorMessage(err);
    expect(line).toMatch(/^nothing answers at 127\.0\.0\.1:\d+: the local platform is not running\. Start it with `npm start` in another terminal/);
    expect(line).toContain("--stack <name>");
    // upload has no --stack: it is not offered.
    expect(errorMessage(err, { stacks: false })).not.toContain("--stack");
    expect(line).not.toContain("\n");
  });

  it("is the error's own message otherwise", () => {
    expect(errorMessage(new Error("no tenant acme in Pulumi.dev.yaml"))).toBe("no tenant acme in Pulumi.dev.yaml");
    expect(errorMessage("plain")).toBe("plain");
  });
});
