/**
 * DynamoDB expressions built from the schema's attribute names, in one place. Every attribute is
 * referred to by a `#name` placeholder (`status` is a reserved word, and others may become one), and
 * an expression's names and values hold exactly the placeholders it uses, as DynamoDB requires.
 */
import { ATTR } from './schema.js';

export type Attribute = (typeof ATTR)[keyof typeof ATTR];

/** Builds one expression's text from attribute references; values are `:name` placeholders. */
export type Condition = (ref: (attribute: Attribute) => string) => string;

/** The conditions of the broker's writes, named for why they hold. Values they need are noted. */
export const WHEN = {
  /** A mint may create the item. */
  itemIsNew: (ref) => `attribute_not_exists(${ref(ATTR.pk)})`,
  itemExists: (ref) => `attribute_exists(${ref(ATTR.pk)})`,
  /** Nobody holds the key, or its holder's lease ran out (a crashed holder). Needs `:now`. */
  leaseIsAvailable: (ref) =>
    `(attribute_not_exists(${ref(ATTR.leaseOwner)}) OR ${ref(ATTR.leaseExpiresAt)} < :now)`,
  /** The key's refresh time has come (a late or duplicate refresh message fails this). Needs `:dueBy`. */
  isStillDue: (ref) => `${ref(ATTR.dueAt)} <= :dueBy`,
  /**
   * Fencing: the lease is still ours and nobody wrote since we took it, so a late ("zombie") writer
   * never overwrites a newer token. Needs `:owner` and `:version`.
   */
  leaseIsOursAndUnchanged: (ref) => `${ref(ATTR.leaseOwner)} = :owner AND ${ref(ATTR.version)} = :version`,
  /**
   * Fencing without a lease (a read claim): nobody wrote since the writer read the item (`:version`
   * and `:dueAt` as read; every token write increments the version, every other write moves or removes
   * the refresh time) and nobody took the lease since `:readAt` (a lease taken later runs out later).
   */
  unchangedSinceRead: (ref) =>
    `${ref(ATTR.version)} = :version AND ${ref(ATTR.dueAt)} = :dueAt AND ` +
    `(attribute_not_exists(${ref(ATTR.leaseOwner)}) OR ${ref(ATTR.leaseExpiresAt)} < :readAt)`,
  /** The item is the one that was read (every token write and revocation changes it). Needs `:version`. */
  versionIs: (ref) => `${ref(ATTR.version)} = :version`,
  /** No use recorded since `:staleBefore` (a token's check point), so a key in use costs one use write per token. */
  useIsStale: (ref) =>
    `(attribute_not_exists(${ref(ATTR.lastRequestedAt)}) OR ${ref(ATTR.lastRequestedAt)} <= :staleBefore)`,
  /**
   * Nobody recorded a use since the holder read the item (`:usedAt`, the use it saw, 0 for none):
   * a use recorded meanwhile is not fenced by the lease or the read, so retiring checks it itself.
   */
  noUseSince: (ref) =>
    `(attribute_not_exists(${ref(ATTR.lastRequestedAt)}) OR ${ref(ATTR.lastRequestedAt)} <= :usedAt)`,
  /** The due index's key condition for one shard. Needs `:shard` and `:now`. */
  dueInShard: (ref) => `${ref(ATTR.dueShard)} = :shard AND ${ref(ATTR.dueAt)} <= :now`,
} as const satisfies Record<string, Condition>;

export const anyOf =
  (...conditions: readonly Condition[]): Condition =>
  (ref) =>
    conditions.map((condition) => condition(ref)).join(' OR ');

export const allOf =
  (...conditions: readonly Condition[]): Condition =>
  (ref) =>
    conditions.map((condition) => condition(ref)).join(' AND ');

/** The parts of an expression command: names and values for exactly what is used. */
export interface ExpressionInput {
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, unknown>;
}

/** The placeholders one expression uses, and what they stand for. */
class Placeholders {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};

  readonly ref = (attribute: Attribute): string => {
    const placeholder = `#${attribute}`;
    this.names[placeholder] = attribute;
    return placeholder;
  };

  value(name: string, value: unknown): string {
    const placeholder = `:${name}`;
    this.values[placeholder] = value;
    return placeholder;
  }

  bind(values: Readonly<Record<string, unknown>>): void {
    for (const [name, value] of Object.entries(values)) this.value(name, value);
  }

  input(): ExpressionInput {
    return { ExpressionAttributeNames: this.names, ExpressionAttributeValues: this.values };
  }
}

/** One UpdateItem: SET and REMOVE clauses, and the condition it is written under. */
export class ItemUpdate {
  readonly #placeholders = new Placeholders();
  readonly #sets: string[] = [];
  readonly #removes: string[] = [];
  #condition: string | undefined;

  set(attribute: Attribute, value: unknown): this {
    const p = this.#placeholders;
    this.#sets.push(`${p.ref(attribute)} = ${p.value(`set_${attribute}`, value)}`);
    return this;
  }

  /** Sets the attribute only where the item has none yet (a mint creating the item, a use re-filing a key). */
  setIfAbsent(attribute: Attribute, value: unknown): this {
    const p = this.#placeholders;
    const name = p.ref(attribute);
    this.#sets.push(`${name} = if_not_exists(${name}, ${p.value(`set_${attribute}`, value)})`);
    return this;
  }

  /** Adds one, counting a missing attribute as zero. */
  increment(attribute: Attribute): this {
    const p = this.#placeholders;
    const name = p.ref(attribute);
    this.#sets.push(`${name} = if_not_exists(${name}, ${p.value('zero', 0)}) + ${p.value('one', 1)}`);
    return this;
  }

  remove(...attributes: readonly Attribute[]): this {
    this.#removes.push(...attributes.map(this.#placeholders.ref));
    return this;
  }

  /** The write's condition, with the values its placeholders need. */
  when(condition: Condition, values: Readonly<Record<string, unknown>>): this {
    this.#condition = condition(this.#placeholders.ref);
    this.#placeholders.bind(values);
    return this;
  }

  build(): ExpressionInput & { readonly UpdateExpression: string; readonly ConditionExpression?: string } {
    const clauses = [
      ...(this.#sets.length === 0 ? [] : [`SET ${this.#sets.join(', ')}`]),
      ...(this.#removes.length === 0 ? [] : [`REMOVE ${this.#removes.join(', ')}`]),
    ];
    return {
      UpdateExpression: clauses.join(' '),
      ...(this.#condition === undefined ? {} : { ConditionExpression: this.#condition }),
      ...this.#placeholders.input(),
    };
  }
}

/** A Query's key condition. */
export function keyCondition(
  condition: Condition,
  values: Readonly<Record<string, unknown>>,
): ExpressionInput & { readonly KeyConditionExpression: string } {
  const placeholders = new Placeholders();
  const KeyConditionExpression = condition(placeholders.ref);
  placeholders.bind(values);
  return { KeyConditionExpression, ...placeholders.input() };
}
