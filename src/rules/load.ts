/**
 * The rule sets: the built-in one (rules.json beside this module) and the
 * user's --rules files, each checked against rules.schema.json before use.
 * A rules file is input like a manifest: size-capped, schema-checked, and
 * refused with one line naming the file and the problem.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ValidateFunction } from 'ajv';
import { ElfdepsError, errnoOf } from '../errors.js';
import type { Rule, RuleSet } from './types.js';

/** Beside this module in src/ and dist/; through ../rules/ so the path also holds from the bundled CLI in dist/src/cli/. */
const builtinUrl = new URL('../rules/rules.json', import.meta.url);
const schemaUrl = new URL('../rules/rules.schema.json', import.meta.url);

const MAX_RULES_BYTES = 4 << 20;

let validator: ValidateFunction | undefined;

export function rulesSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(schemaUrl, 'utf8')) as Record<string, unknown>;
}

function check(data: unknown, label: string): RuleSet {
  if (!validator) {
    const require = createRequire(import.meta.url);
    const { Ajv2020 } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
    validator = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: false, $data: false }).compile(rulesSchema());
  }
  if (!validator(data)) {
    const e = validator.errors?.[0];
    const where = !e || e.instancePath === '' ? 'the file' : e.instancePath;
    throw new ElfdepsError('USAGE', `${label}: not a valid elfdeps rules file: ${where} ${e?.message ?? 'is invalid'}`, { path: label });
  }
  const set = data as RuleSet;
  const names = new Set<string>();
  for (const r of set.rules) {
    if (names.has(r.name)) throw new ElfdepsError('USAGE', `${label}: rule ${r.name} is defined twice`, { path: label });
    names.add(r.name);
  }
  return set;
}

let builtin: RuleSet | undefined;

/** The built-in rules (src/rules/rules.json). */
export function builtinRules(): RuleSet {
  builtin ??= check(JSON.parse(readFileSync(builtinUrl, 'utf8')), 'built-in rules');
  return builtin;
}

/** Reads and checks one --rules file. */
export function readRulesFile(path: string): RuleSet {
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch (err) {
    throw new ElfdepsError('USAGE', `${path}: cannot read rules file (${errnoOf(err) ?? 'error'})`, { path, cause: err });
  }
  if (text.length > MAX_RULES_BYTES) throw new ElfdepsError('USAGE', `${path}: rules file larger than ${MAX_RULES_BYTES} bytes`, { path });
  let data: unknown;
  try {
    data = JSON.parse(text.toString('utf8'));
  } catch (err) {
    throw new ElfdepsError('USAGE', `${path}: rules file is not JSON (${err instanceof Error ? err.message.split('\n')[0] : 'parse error'})`, { path, cause: err });
  }
  return check(data, path);
}

/** The built-in rules, then each file's (a rule named like an earlier one replaces it, in place). */
export function loadRules(files: string[] = []): Rule[] {
  const rules: Rule[] = [...builtinRules().rules];
  for (const f of files) {
    for (const r of readRulesFile(f).rules) {
      const at = rules.findIndex((x) => x.name === r.name);
      if (at >= 0) rules[at] = r;
      else rules.push(r);
    }
  }
  return rules;
}
