/**
 * SipHash (Aumasson and Bernstein), as CPython's _Py_KeyedHash computes the
 * source hash of a hash-based pyc (Python/pyhash.c): key (k0 = the raw magic
 * number, k1 = 0), the source bytes; SipHash-1-3 from 3.11 (siphash13),
 * SipHash-2-4 before (siphash24). _imp.source_hash
 * returns the 64-bit result in the machine's byte order. Only checked
 * hash-based pycs need it, which Debian does not ship: BigInt is fast enough.
 */
const MASK = (1n << 64n) - 1n;

const rotl = (x: bigint, b: bigint): bigint => ((x << b) | (x >> (64n - b))) & MASK;

export function sipHash(k0: bigint, k1: bigint, data: Buffer, cRounds: number, dRounds: number): bigint {
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = (): void => {
    v0 = (v0 + v1) & MASK;
    v1 = rotl(v1, 13n) ^ v0;
    v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK;
    v3 = rotl(v3, 16n) ^ v2;
    v0 = (v0 + v3) & MASK;
    v3 = rotl(v3, 21n) ^ v0;
    v2 = (v2 + v1) & MASK;
    v1 = rotl(v1, 17n) ^ v2;
    v2 = rotl(v2, 32n);
  };
  const whole = data.length - (data.length % 8);
  const compress = (m: bigint): void => {
    v3 ^= m;
    for (let i = 0; i < cRounds; i++) round();
    v0 ^= m;
  };
  for (let off = 0; off < whole; off += 8) compress(data.readBigUInt64LE(off));
  let last = BigInt(data.length & 0xff) << 56n;
  for (let i = data.length - 1; i >= whole; i--) last |= BigInt(data[i] as number) << BigInt(8 * (i - whole));
  compress(last);
  v2 ^= 0xffn;
  for (let i = 0; i < dRounds; i++) round();
  return (v0 ^ v1 ^ v2 ^ v3) & MASK;
}

/** _imp.source_hash(key, source) as the 8 bytes a pyc holds. */
export function sourceHash(key: bigint, source: Buffer, cRounds: number, bigEndian: boolean): Buffer {
  const out = Buffer.alloc(8);
  const h = sipHash(key, 0n, source, cRounds, cRounds === 1 ? 3 : 4);
  if (bigEndian) out.writeBigUInt64BE(h);
  else out.writeBigUInt64LE(h);
  return out;
}
