/**
 * The seed of the mutation tests: ELFDEPS_MUTATION_SEED when given; under CI
 * (`CI` set) a fixed one, so a red run can be replayed and a green one means
 * the same mutants every time; otherwise a random one (the tests print it).
 */
import { randomBytes } from 'node:crypto';

/** The seed CI uses. */
export const CI_MUTATION_SEED = 0x7ab1e5;

export function mutationSeed(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.ELFDEPS_MUTATION_SEED;
  if (text !== undefined && text !== '') {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`ELFDEPS_MUTATION_SEED must be an integer in 0..2^32-1, not ${text}`);
    return n;
  }
  return env.CI ? CI_MUTATION_SEED : randomBytes(4).readUInt32LE(0);
}

/** mulberry32: a tiny, good-enough 32-bit PRNG with a one-number state. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The mutation tests' seeded random choices. */
export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** Integer in [lo, hi). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length)] as T;
  }
  u64(): bigint {
    return (BigInt(this.int(0, 2 ** 32)) << 32n) | BigInt(this.int(0, 2 ** 32));
  }
}
