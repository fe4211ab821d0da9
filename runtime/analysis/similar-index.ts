/**
 * Near-duplicates without a scan: an index of perceptual hashes in the tenant's own table, read by
 * key, whose cost does not grow with the tenant's object count.
 *
 * The 64-bit hash is cut into 4 bands of 16 bits. Each band value is a bucket item
 * (`_platform/similar/<band>/<4 hex digits>`) holding a string set of `<phash>|<object key>`. Two
 * hashes within 7 bits agree within 1 bit in at least one band (pigeonhole: 4 bands x 2 bits > 7),
 * so a lookup reads, per band, the bucket of its own value and of the 16 values one bit from it:
 * 4 x 17 = 68 keys, one BatchGetItem request, whatever the table holds. Beyond 7 bits a pair is
 * found unless every band differs in 2 bits or more (docs/metadata.md has the measured share). A
 * radius of 2 bits would find every pair up to 11, for 548 keys: 8 times the read units (each key
 * read costs half a unit, found or not), about twice a 1 GB Lambda second per upload, for pairs the
 * measured edits rarely make.
 *
 * Buckets hold 65,536 values a band: at 100,000 objects about 1.5 members each. A bucket is capped
 * at MEMBER_CAP members (an item stays far below DynamoDB's 400 KB): objects beyond it (thousands
 * of near-identical images in one band) are not added to that band, and are found through the others.
 *
 * The index may lag its items (a crash between the two writes, a newer upload racing): every
 * candidate is confirmed against its item before it is listed, and one that does not confirm is
 * removed from the index then.
 */
import { UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { PARTITION_KEY } from "../../contract/table";
import { isConditionalCheckFailed } from "../errors";
import { PLATFORM_PREFIX } from "../../contract/naming";
import { batchGetAll } from "../batch-get";
import { hammingDistance } from "./phash";

const BANDS = 4;
const BAND_BITS = 16;
/** Bits a probed band value may differ in from the hash's own. */
const PROBE_RADIUS = 1;
const MEMBER_CAP = 200;
/** Every pair within this distance is found (see above). */
export const GUARANTEED_DISTANCE = BANDS * (PROBE_RADIUS + 1) - 1;

export interface SimilarObject {
  key: string;
  distance: number;
}

interface Candidate extends SimilarObject {
  phash: string;
}

const bucketKey = (band: number, value: number) => `${PLATFORM_PREFIX}similar/${band}/${value.toString(16).padStart(4, "0")}`;
const bandValue = (phash: string, band: number) => parseInt(phash.slice(band * 4, band * 4 + 4), 16);

/** The bucket keys of a hash's own band values. */
function ownBuckets(phash: string): string[] {
  return Array.from({ length: BANDS }, (_, band) => bucketKey(band, bandValue(phash, band)));
}

/** Every bucket a lookup reads: per band, the values within PROBE_RADIUS bits of the hash's own. */
export function probedBuckets(phash: string): string[] {
  const keys: string[] = [];
  for (let band = 0; band < BANDS; band++) {
    const value = bandValue(phash, band);
    for (const flips of PROBES) keys.push(bucketKey(band, value ^ flips));
  }
  return keys;
}

function popcount(value: number): number {
  let bits = 0;
  for (let v = value; v; v &= v - 1) bits++;
  return bits;
}

/** The bits a probed band value flips, fewest first (the band's own value, then one bit at a time). */
const PROBES = Array.from({ length: 2 ** BAND_BITS }, (_, flips) => flips)
  .filter((flips) => popcount(flips) <= PROBE_RADIUS)
  .sort((a, b) => popcount(a) - popcount(b) || a - b);

/** Whether a lookup by hash `a` reads a bucket that hash `b` is in: the index can find the pair. */
export function indexFinds(a: string, b: string): boolean {
  return Array.from({ length: BANDS }, (_, band) => popcount(bandValue(a, band) ^ bandValue(b, band))).some((bits) => bits <= PROBE_RADIUS);
}

const member = (objectKey: string, phash: string) => `${phash}|${objectKey}`;

export class SimilarIndex {
  /** Requests of the last lookup, for the bench and tests. */
  lastLookup = { requests: 0, buckets: 0, members: 0 };

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Objects of the index within `maxDistance` of a hash, nearest first (then by key), from the index alone. */
  async candidates(phash: string, maxDistance: number): Promise<Candidate[]> {
    const read = await batchGetAll(this.doc, this.table, probedBuckets(phash), { attributes: ["members"], consistent: false });
    const found = new Map<string, Candidate>();
    let members = 0;
    for (const bucket of read.items.values()) {
      for (const entry of (bucket.members as Set<string> | undefined) ?? []) {
        members++;
        const [hash, key] = [entry.slice(0, 16), entry.slice(17)];
        const distance = hammingDistance(phash, hash);
        if (distance <= maxDistance && !found.has(`${hash}|${key}`)) found.set(`${hash}|${key}`, { key, phash: hash, distance });
      }
    }
    this.lastLookup = { requests: read.requests, buckets: read.items.size, members };
    return [...found.values()].sort((a, b) => a.distance - b.distance || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Makes an object findable by its hash (idempotent); a full bucket leaves it out of that band. */
  async add(objectKey: string, phash: string): Promise<void> {
    await Promise.all(
      ownBuckets(phash).map(async (bucket) => {
        try {
          await this.doc.send(
            new UpdateCommand({
              TableName: this.table,
              Key: { [PARTITION_KEY]: bucket },
              UpdateExpression: "ADD #members :member",
              ConditionExpression: "attribute_not_exists(#members) OR size(#members) < :cap OR contains(#members, :entry)",
              ExpressionAttributeNames: { "#members": "members" },
              ExpressionAttributeValues: { ":member": new Set([member(objectKey, phash)]), ":entry": member(objectKey, phash), ":cap": MEMBER_CAP },
            }),
          );
        } catch (err) {
          if (!isConditionalCheckFailed(err)) throw err;
        }
      }),
    );
  }

  /** Takes an object's hash out of the index (idempotent). */
  async remove(objectKey: string, phash: string): Promise<void> {
    await Promise.all(
      ownBuckets(phash).map((bucket) =>
        this.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { [PARTITION_KEY]: bucket },
            UpdateExpression: "DELETE #members :member",
            ExpressionAttributeNames: { "#members": "members" },
            ExpressionAttributeValues: { ":member": new Set([member(objectKey, phash)]) },
          }),
        ),
      ),
    );
  }
}
