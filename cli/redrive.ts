/**
 * `npm run redrive -- <tenant> [--stack <name> [--outputs file.json]]`: moves the tenant's
 * dead-lettered events back to its queue, where they are processed like any other event. On AWS
 * with SQS's message move task (it keeps each message's attributes and runs server-side); on the
 * local platform, whose emulator has none, by receiving, sending and deleting in batches.
 */
import { ListMessageMoveTasksCommand, StartMessageMoveTaskCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { redriveDeadLetters } from "../ops/dead-letters";
import { fail, resolveTarget, parseCommandLine } from "./targets";
import { errorMessage } from "../local/user-errors";
import { count } from "../local/outcome-line";

const USAGE = "usage: npm run redrive -- <tenant> [--stack <name>]";

/** `https://sqs.<region>.amazonaws.com/<account>/<name>` as its ARN. */
export function queueArn(queueUrl: string): string {
  const url = new URL(queueUrl);
  const [, account, name] = url.pathname.split("/");
  const region = /^sqs\.([a-z0-9-]+)\./.exec(url.hostname)?.[1];
  if (!region || !account || !name) throw new Error(`not an SQS queue URL: ${queueUrl}`);
  return `arn:aws:sqs:${region}:${account}:${name}`;
}

async function moveTask(sqs: SQSClient, deadLetterQueueUrl: string, queueUrl: string): Promise<number> {
  const sourceArn = queueArn(deadLetterQueueUrl);
  const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: queueArn(queueUrl) }));
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const task = (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 10 }))).Results?.find((t) => t.TaskHandle === TaskHandle);
    if (!task) throw new Error("the message move task disappeared");
    process.stdout.write(`\r${task.ApproximateNumberOfMessagesMoved ?? 0} of ${task.ApproximateNumberOfMessagesToMove ?? "?"} moved`);
    if (task.Status === "COMPLETED") return task.ApproximateNumberOfMessagesMoved ?? 0;
    if (task.Status === "FAILED" || task.Status === "CANCELLED") throw new Error(`the message move task ended ${task.Status}: ${task.FailureReason ?? ""}`);
  }
}

async function main(): Promise<void> {
  const { values } = parseCommandLine("redrive", USAGE, {
    options: { tenant: { type: "string" }, stack: { type: "string" }, outputs: { type: "string" }, "data-dir": { type: "string" } },
  });
  if (!values.tenant) fail("redrive", USAGE);
  const target = resolveTarget(values.tenant, { stack: values.stack, outputs: values.outputs, dataDir: values["data-dir"] });
  const { queueUrl, deadLetterQueueUrl } = target.tenant;
  const moved =
    target.kind === "stack"
      ? await moveTask(target.clients.sqs, deadLetterQueueUrl, queueUrl)
      : await redriveDeadLetters(target.clients.sqs, deadLetterQueueUrl, queueUrl);
  console.log(`moved ${count(moved, "message")} from the dead-letter queue back to tenant ${values.tenant}'s queue`);
}

if (require.main === module) main().catch((err) => fail("redrive", errorMessage(err)));
