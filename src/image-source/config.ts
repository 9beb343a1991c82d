/**
 * The source image's config (image-spec config.md; Docker's image JSON is
 * the same shape) validated into a SourceConfig: the fields elfdeps reads are
 * checked for their types, everything else is dropped. A field of the wrong
 * type is an error rather than ignored: it says the document is not what it
 * claims.
 */
import { checkDigest, isObject } from './documents.js';
import { imageError } from './fail.js';
import type { SourceConfig } from './types.js';

type Run = NonNullable<SourceConfig['config']>;

function strings(image: string, v: unknown, field: string): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw imageError(image, `config: ${field} is not a list of strings`);
  return v as string[];
}

function stringMap(image: string, v: unknown, field: string): Record<string, string> {
  if (!isObject(v) || !Object.values(v).every((s) => typeof s === 'string')) throw imageError(image, `config: ${field} is not a map of strings`);
  return { ...(v as Record<string, string>) };
}

function objectMap(image: string, v: unknown, field: string): Record<string, object> {
  if (!isObject(v) || !Object.values(v).every((s) => isObject(s))) throw imageError(image, `config: ${field} is not a map of objects`);
  return { ...(v as Record<string, object>) };
}

function runConfig(image: string, v: unknown): Run {
  if (!isObject(v)) throw imageError(image, 'config: config is not an object');
  const run: Run = {};
  for (const key of ['User', 'WorkingDir', 'StopSignal'] as const) {
    const s = v[key];
    if (s === undefined || s === null) continue;
    if (typeof s !== 'string') throw imageError(image, `config: ${key} is not a string`);
    run[key] = s;
  }
  if (v.Env != null) run.Env = strings(image, v.Env, 'Env');
  for (const key of ['Entrypoint', 'Cmd'] as const) {
    // null is how Docker writes "reset"; kept as null.
    if (v[key] === null) run[key] = null;
    else if (v[key] !== undefined) run[key] = strings(image, v[key], key);
  }
  if (v.ExposedPorts != null) run.ExposedPorts = objectMap(image, v.ExposedPorts, 'ExposedPorts');
  if (v.Volumes != null) run.Volumes = objectMap(image, v.Volumes, 'Volumes');
  if (v.Labels != null) run.Labels = stringMap(image, v.Labels, 'Labels');
  return run;
}

export function checkConfig(image: string, v: unknown): SourceConfig {
  if (!isObject(v)) throw imageError(image, 'config is not an object');
  if (typeof v.architecture !== 'string' || typeof v.os !== 'string') throw imageError(image, 'config has no architecture or os');
  const rootfs = v.rootfs;
  if (!isObject(rootfs) || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids)) throw imageError(image, 'config: rootfs is not {type: "layers", diff_ids: [...]}');
  const diffIds = rootfs.diff_ids.map((d, i) => checkDigest(image, d, `config: rootfs.diff_ids[${i}]`));
  const config: SourceConfig = { architecture: v.architecture, os: v.os, rootfs: { type: 'layers', diff_ids: diffIds } };
  if (typeof v.variant === 'string' && v.variant !== '') config.variant = v.variant;
  if (v.config != null) config.config = runConfig(image, v.config);
  if (v.history != null) {
    if (!Array.isArray(v.history)) throw imageError(image, 'config: history is not a list');
    config.history = v.history.map((h, i) => {
      if (!isObject(h)) throw imageError(image, `config: history[${i}] is not an object`);
      const out: NonNullable<SourceConfig['history']>[number] = {};
      for (const key of ['created', 'created_by', 'comment', 'author'] as const) {
        if (h[key] === undefined) continue;
        if (typeof h[key] !== 'string') throw imageError(image, `config: history[${i}].${key} is not a string`);
        out[key] = h[key] as string;
      }
      if (h.empty_layer !== undefined) {
        if (typeof h.empty_layer !== 'boolean') throw imageError(image, `config: history[${i}].empty_layer is not a boolean`);
        out.empty_layer = h.empty_layer;
      }
      return out;
    });
  }
  return config;
}
