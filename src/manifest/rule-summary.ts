/**
 * What each runtime-file rule brought, counted from the entries themselves:
 * a manifest may be edited after it was written (entries removed with jq,
 * say), and a summary must describe the entries that are there, not those
 * `manifest.rules` counted when it was made.
 */
import type { ManifestEntry, RuleSummary } from './types.js';

/** One summary per rule of `applied` (rule, first trigger), in that order: its entries and their bytes among `entries`. */
export function summariseRules(entries: Iterable<ManifestEntry>, applied: Iterable<readonly [rule: string, trigger: string]>): RuleSummary[] {
  const counts = new Map<string, { entries: number; bytes: number }>();
  for (const e of entries) {
    const w = e.why;
    // A rule's entries: what it added, and what the loader opened for a program or module it brought.
    const rule = w && (w.by === 'rule' || w.by === 'loader') ? w.rule : undefined;
    if (rule === undefined) continue;
    const c = counts.get(rule) ?? { entries: 0, bytes: 0 };
    c.entries++;
    if (e.kind === 'file' || e.kind === 'generated') c.bytes += e.size;
    counts.set(rule, c);
  }
  return [...applied].map(([rule, trigger]) => ({ rule, trigger, entries: counts.get(rule)?.entries ?? 0, bytes: counts.get(rule)?.bytes ?? 0 }));
}
