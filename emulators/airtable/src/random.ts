/**
 * A small seeded PRNG (mulberry32): the emulator must replay the same ids, faults and latencies for
 * the same `randomSeed`, which `Math.random` cannot do.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  /** `count` characters of [A-Za-z0-9], the alphabet of Airtable ids. */
  chars(count: number): string {
    let out = '';
    for (let i = 0; i < count; i++) out += ID_ALPHABET[Math.floor(this.next() * ID_ALPHABET.length)];
    return out;
  }
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Airtable ids are a 3-letter prefix and 14 characters: `app…`, `tbl…`, `fld…`, `rec…`, `viw…`, `sel…`, `att…`, `usr…`, `itr…`, `com…`, `ach…` (webhooks). */
export type IdPrefix = 'app' | 'tbl' | 'fld' | 'rec' | 'viw' | 'sel' | 'att' | 'usr' | 'itr' | 'com' | 'ach';

export const ID_BODY_LENGTH = 14;

export function isAirtableId(value: unknown, prefix: IdPrefix): value is string {
  return (
    typeof value === 'string' &&
    value.length === 3 + ID_BODY_LENGTH &&
    value.startsWith(prefix) &&
    /^[A-Za-z0-9]+$/.test(value)
  );
}

/** Hands out ids that never repeat within one emulator, drawn from a seeded stream. */
export class IdFactory {
  private readonly taken = new Set<string>();

  constructor(private readonly random: SeededRandom) {}

  next(prefix: IdPrefix): string {
    for (;;) {
      const id = prefix + this.random.chars(ID_BODY_LENGTH);
      if (!this.taken.has(id)) {
        this.taken.add(id);
        return id;
      }
    }
  }

  /** Ids that came from a seed or a saved state must never be handed out again. */
  reserve(id: string): void {
    this.taken.add(id);
  }
}
