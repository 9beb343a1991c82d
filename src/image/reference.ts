/**
 * Image names (`--tag NAME[:TAG]`), checked against the reference grammar
 * docker and podman parse (distribution/reference): a name they would
 * refuse is refused here, before any work, rather than after loading.
 */
import { posix } from 'node:path';
import { ElfdepsError } from '../errors.js';

export interface ImageReference {
  /** "bash", "localhost/tools/bash", "registry.example:5000/bash" */
  name: string;
  /** "latest" */
  tag: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const MAX_NAME = 255;

export function formatReference(r: ImageReference): string {
  return `${r.name}:${r.tag}`;
}

/** Parses NAME[:TAG] (tag "latest" when absent); throws USAGE for what docker would refuse. */
export function parseReference(text: string): ImageReference {
  const bad = (why: string) => new ElfdepsError('USAGE', `--tag ${JSON.stringify(text)}: ${why}`);
  const slash = text.lastIndexOf('/');
  const colon = text.lastIndexOf(':');
  const hasTag = colon > slash;
  const name = hasTag ? text.slice(0, colon) : text;
  const tag = hasTag ? text.slice(colon + 1) : 'latest';
  if (!TAG.test(tag)) throw bad(`tag ${JSON.stringify(tag)} is not [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  if (name.length === 0 || name.length > MAX_NAME) throw bad(`the name must have 1 to ${MAX_NAME} characters`);
  const parts = name.split('/');
  const first = parts[0] as string;
  // As docker: a first component with a dot, a port or "localhost" is a registry's domain.
  const domain = parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (domain && !DOMAIN.test(first)) throw bad(`${JSON.stringify(first)} is not a registry host name`);
  for (const part of domain ? parts.slice(1) : parts) {
    if (!COMPONENT.test(part)) throw bad(`${JSON.stringify(part)} is not a valid name component (lower-case letters and digits, separated by . _ __ or -)`);
  }
  return { name, tag };
}

/** The default name: the first program's file name, made a valid component ("python3.11", "x-ray"), tag "latest". */
export function defaultReference(programPath: string | undefined): ImageReference {
  const base = posix.basename(programPath ?? '').toLowerCase();
  if (COMPONENT.test(base)) return { name: base, tag: 'latest' };
  const tidy = base.replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return { name: tidy.length > 0 && tidy.length <= MAX_NAME ? tidy : 'image', tag: 'latest' };
}
