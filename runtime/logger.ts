import pino, { type Logger } from "pino";

/** One JSON logger per container; Lambda ships stdout lines to the function's log group. */
export function createLogger(env: NodeJS.ProcessEnv = process.env, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level: env.LOG_LEVEL ?? "info",
      base: { service: "tenant-image-platform" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
