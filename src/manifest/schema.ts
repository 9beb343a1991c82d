/**
 * The manifest's JSON Schema and its validator.
 *
 * The schema is a plain JSON file (shipped as `elfdeps/manifest.schema.json`
 * for other tools). ajv is loaded and the schema compiled on first use only:
 * `elfdeps /bin/ls` never pays for it. The validator is compiled once, without
 * `$data` and without `allErrors`, so hostile manifests cost bounded work
 * (ajv security notes; CVE-2025-69873).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ElfdepsError } from '../errors.js';

/**
 * Where the schema file lives, next to this module in src/ and in dist/. The
 * path goes through ../manifest/ so that it also holds from the bundled CLI
 * in dist/src/cli/ (scripts/bundle-cli.mjs).
 */
export const manifestSchemaUrl = new URL('../manifest/manifest.schema.json', import.meta.url);

/** The manifest JSON Schema (draft 2020-12), as an object. */
export const manifestSchema: Readonly<Record<string, unknown>> = JSON.parse(readFileSync(manifestSchemaUrl, 'utf8'));

let validator: ValidateFunction | undefined;

function compile(): ValidateFunction {
  // createRequire keeps the load synchronous and lazy; ajv is CommonJS.
  const require = createRequire(import.meta.url);
  const { Ajv2020 } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, discriminator: true, allErrors: false, $data: false });
  return ajv.compile(manifestSchema);
}

function describe(error: ErrorObject): string {
  const where = error.instancePath === '' ? 'the manifest' : error.instancePath;
  const extra = error.keyword === 'additionalProperties' ? ` (${String(error.params['additionalProperty'])})` : '';
  return `${where} ${error.message ?? 'is invalid'}${extra}`;
}

/** Throws MANIFEST_INVALID with the first schema violation unless `data` matches the schema. */
export function checkManifestSchema(data: unknown, label: string): void {
  validator ??= compile();
  if (!validator(data)) {
    const first = validator.errors?.[0];
    throw new ElfdepsError('MANIFEST_INVALID', `${label}: not a valid elfdeps manifest: ${first ? describe(first) : 'schema mismatch'}`, {
      path: label,
    });
  }
}
