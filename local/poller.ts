/**
 * Lambda's SQS event source mapping, locally: receive a batch, invoke the handler with an SQS event,
 * delete what succeeded, and leave `batchItemFailures` to reappear after the visibility timeout
 * until the queue's redrive policy moves them to the dead-letter queue.
 */
import { randomUUID } from "node:crypto";
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Logger } from "pino";
import type { BatchResponse } from "../runtime/handler";

type Handler = (event: unknown, context: { awsRequestId: string }) => Promise<BatchResponse>;

export class QueuePoller {
  private running = false;
  private loop: Promise<void> | undefined;
  private inFlight = 0;
  private readonly abort = new AbortController();

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly handler: Handler,
    private readonly options: { batchSize: number; log: Logger; waitSeconds?: number },
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await this.loop;
  }

  /** Messages visible, in flight at SQS, or being handled here. */
  async pendingCount(): Promise<number> {
    const attrs = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.queueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
      }),
    );
    const a = attrs.Attributes ?? {};
    return (
      this.inFlight +
      Number(a.ApproximateNumberOfMessages ?? 0) +
      Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) +
      Number(a.ApproximateNumberOfMessagesDelayed ?? 0)
    );
  }

  private async run(): Promise<void> {
    const queueArn = `arn:aws:sqs:local:000000000000:${this.queueUrl.split("/").pop()}`;
    while (this.running) {
      let messages;
      try {
        const received = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.queueUrl,
            MaxNumberOfMessages: this.options.batchSize,
            WaitTimeSeconds: this.options.waitSeconds ?? 1,
            MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
          }),
          { abortSignal: this.abort.signal },
        );
        messages = received.Messages ?? [];
      } catch (err) {
        if (!this.running) return;
        this.options.log.error({ err }, "receive failed");
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (!messages.length) continue;
      this.inFlight += messages.length;
      try {
        const event = {
          Records: messages.map((m) => ({
            messageId: m.MessageId!,
            receiptHandle: m.ReceiptHandle!,
            body: m.Body ?? "",
            attributes: { ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? "1", SentTimestamp: m.Attributes?.SentTimestamp ?? "" },
            messageAttributes: {},
            md5OfBody: m.MD5OfBody ?? "",
            eventSource: "aws:sqs",
            eventSourceARN: queueArn,
            awsRegion: "us-east-1",
          })),
        };
        let failed: Set<string>;
        try {
          const response = await this.handler(event, { awsRequestId: randomUUID() });
          failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
        } catch (err) {
          // Lambda treats a thrown batch as all-failed.
          this.options.log.error({ err }, "handler threw; the whole batch returns to the queue");
          failed = new Set(messages.map((m) => m.MessageId!));
        }
        const done = messages.filter((m) => !failed.has(m.MessageId!));
        if (done.length) {
          await this.sqs.send(
            new DeleteMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
          );
        }
      } finally {
        this.inFlight -= messages.length;
      }
    }
  }
}
