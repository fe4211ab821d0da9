/**
 * A tenant's outcome events read as a subscriber reads them (docs/events.md): a queue of its own,
 * subscribed to the tenant's topic with raw delivery and an optional filter policy. The upload CLI
 * follows its objects this way, the console's live list is fed this way, and the tests check the
 * topic's contract through one.
 */
import { randomUUID } from "node:crypto";
import { SubscribeCommand, UnsubscribeCommand, type SNSClient } from "@aws-sdk/client-sns";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { OutcomeDocument } from "../runtime/outcome-events";

export interface OutcomeSubscription {
  /** The documents received in one long poll (up to `waitSeconds`), deleted from the queue. */
  receive(waitSeconds?: number): Promise<OutcomeDocument[]>;
  close(): Promise<void>;
}

/** An SNS filter policy on the message attributes: status, eventType, tenant (https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html). */
export type FilterPolicy = Partial<Record<"status" | "eventType" | "tenant", string[]>>;

export async function subscribeOutcomes(
  clients: { sns: SNSClient; sqs: SQSClient },
  topicArn: string,
  options: { filter?: FilterPolicy; name?: string } = {},
): Promise<OutcomeSubscription> {
  const queueName = `${options.name ?? "outcomes"}-${randomUUID().slice(0, 8)}`;
  const queueUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: queueName }))).QueueUrl!;
  const queueArn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
  const subscription = await clients.sns.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: "sqs",
      Endpoint: queueArn,
      ReturnSubscriptionArn: true,
      Attributes: { RawMessageDelivery: "true", ...(options.filter ? { FilterPolicy: JSON.stringify(options.filter) } : {}) },
    }),
  );
  return {
    async receive(waitSeconds = 1) {
      const received = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds }));
      const messages = received.Messages ?? [];
      if (messages.length) {
        await clients.sqs.send(
          new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
        );
      }
      return messages.map((m) => JSON.parse(m.Body!) as OutcomeDocument);
    },
    async close() {
      await clients.sns.send(new UnsubscribeCommand({ SubscriptionArn: subscription.SubscriptionArn! })).catch(() => undefined);
      await clients.sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl })).catch(() => undefined);
    },
  };
}
