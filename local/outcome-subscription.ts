/**
 * A tenant's outcome events read as a subscriber reads them (docs/events.md): a queue of its own,
 * subscribed to the tenant's topic with raw delivery and an optional filter policy. The upload CLI
 * follows its objects this way, the console's live list is fed this way, and the tests check the
 * topic's contract through one.
 */
import { randomUUID } from "node:crypto";
import { ListSubscriptionsByTopicCommand, SubscribeCommand, UnsubscribeCommand, type SNSClient, type Subscription } from "@aws-sdk/client-sns";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueueTagsCommand,
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

/** The tag every queue made here carries, so that one left behind can be told from a tenant application's own. */
const OWN_QUEUE_TAG = { key: "tip:outcome-subscription", value: "local" };

export async function subscribeOutcomes(
  clients: { sns: SNSClient; sqs: SQSClient },
  topicArn: string,
  options: { filter?: FilterPolicy; name?: string } = {},
): Promise<OutcomeSubscription> {
  const queueName = `${options.name ?? "outcomes"}-${randomUUID().slice(0, 8)}`;
  const queueUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: queueName, tags: { [OWN_QUEUE_TAG.key]: OWN_QUEUE_TAG.value } }))).QueueUrl!;
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

/**
 * Removes the subscriptions (and their queues) that subscribeOutcomes made before `createdBefore`
 * and nobody closed: a console or an upload CLI killed without its Ctrl-C (a closed terminal, kill
 * -9). Kept in `.local/`, each would otherwise receive a copy of every outcome for good. Queues
 * without the tag (a tenant application's) and those created since are left alone. Returns how many
 * were removed.
 */
export async function removeLeftSubscriptions(clients: { sns: SNSClient; sqs: SQSClient }, topicArns: string[], createdBefore: Date): Promise<number> {
  let removed = 0;
  for (const topicArn of topicArns) {
    for (const subscription of await subscriptionsOf(clients.sns, topicArn)) {
      if (subscription.Protocol !== "sqs" || !subscription.Endpoint || !subscription.SubscriptionArn) continue;
      const queueUrl = await queueUrlOf(clients.sqs, subscription.Endpoint);
      if (!queueUrl || !(await leftBehind(clients.sqs, queueUrl, createdBefore))) continue;
      await clients.sns.send(new UnsubscribeCommand({ SubscriptionArn: subscription.SubscriptionArn }));
      await clients.sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
      removed++;
    }
  }
  return removed;
}

async function subscriptionsOf(sns: SNSClient, topicArn: string): Promise<Subscription[]> {
  const all: Subscription[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: nextToken }));
    all.push(...(page.Subscriptions ?? []));
    nextToken = page.NextToken;
  } while (nextToken);
  return all;
}

/** The URL of the queue an SQS subscription delivers to (its endpoint is the queue's ARN), or undefined when it is gone. */
async function queueUrlOf(sqs: SQSClient, queueArn: string): Promise<string | undefined> {
  const [, , , , account, name] = queueArn.split(":");
  try {
    return (await sqs.send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }))).QueueUrl;
  } catch {
    return undefined;
  }
}

async function leftBehind(sqs: SQSClient, queueUrl: string, createdBefore: Date): Promise<boolean> {
  const tags = (await sqs.send(new ListQueueTagsCommand({ QueueUrl: queueUrl }))).Tags ?? {};
  if (tags[OWN_QUEUE_TAG.key] !== OWN_QUEUE_TAG.value) return false;
  const attributes = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["CreatedTimestamp"] }))).Attributes ?? {};
  // Seconds since the epoch (SQS's unit): a queue of the same second as `createdBefore` is kept.
  return Number(attributes.CreatedTimestamp) < Math.floor(createdBefore.getTime() / 1000);
}
