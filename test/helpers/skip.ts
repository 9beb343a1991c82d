/**
 * One rule for tests whose oracle or fixture may be missing (ldd, readelf,
 * qemu-user, musl-gcc, a foreign or older Debian root): outside CI they skip
 * with the reason printed; under CI (`CI` set, as .ci/run's callers set it)
 * the missing piece fails the run, since a green CI without its oracles
 * proves nothing.
 */

/** Skips the current test or hook with `reason` printed; under CI throws instead. `fix` says how CI provides it. */
export function skipOrFail(ctx: Mocha.Context, reason: string, fix = '.ci/run installs the tools and builds the roots the tests need'): never {
  if (process.env.CI) throw new Error(`${reason} (under CI this test must run: ${fix})`);
  console.log(`      skipped: ${reason}`);
  ctx.skip();
}
