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
