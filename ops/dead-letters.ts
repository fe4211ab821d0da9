/**
 * The dead-letter queue, read and emptied back into the event queue. A redriven message is the
 * same S3 notification, so it is processed (and ordered by its sequencer) exactly like the
 * original; what its last attempt recorded stays on the item until then.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { decodeS3Key } from "../runtime/events";

export interface DeadLetter {
  messageId: string;
  /** Source keys the message's S3 notification names. */
  keys: string[];
  receiveCount: number;
  sentAt?: string;
  body: string;
}

/** The object keys an S3 notification body names (URL-decoded as S3 encodes them). */
export function notificationKeys(body: string): string[] {
  try {
    const records = (JSON.parse(body) as { Records?: { s3?: { object?: { key?: string } } }[] }).Records ?? [];
    return records.flatMap((r) => (r.s3?.object?.key !== undefined ? [decodeS3Key(r.s3.object.key)] : []));
  } catch {
    return [];
  }
}

/** Moves every message of `from` to `to`, ten at a time; returns how many moved. */
export async function redriveDeadLetters(sqs: SQSClient, from: string, to: string): Promise<number> {
  let moved = 0;
  for (;;) {
    const batch = await sqs.send(new ReceiveMessageCommand({ QueueUrl: from, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 60 }));
    const messages = batch.Messages ?? [];
    if (messages.length === 0) return moved;
    const sent = await sqs.send(new SendMessageBatchCommand({ QueueUrl: to, Entries: messages.map((m, i) => ({ Id: String(i), MessageBody: m.Body ?? "" })) }));
    const ok = new Set((sent.Successful ?? []).map((e) => Number(e.Id)));
    // Only what was sent is deleted: a failed send leaves its message in the dead-letter queue.
    const done = messages.filter((_, i) => ok.has(i));
    if (done.length)
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: from, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
    moved += done.length;
    if (done.length < messages.length)
      throw new Error(`could not send ${messages.length - done.length} messages back to the queue: ${sent.Failed?.[0]?.Message}`);
  }
}
