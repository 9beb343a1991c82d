// Copies non-TypeScript assets (JSON schemas) next to the compiled modules,
// so that dist/ is self-contained and the package exports can point at them.
import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

function copyJson(fromDir, toDir) {
  if (!existsSync(fromDir)) return;
  for (const entry of readdirSync(fromDir, { withFileTypes: true })) {
    const from = join(fromDir, entry.name);
    const to = join(toDir, entry.name);
    if (entry.isDirectory()) copyJson(from, to);
    else if (entry.name.endsWith('.json')) {
      mkdirSync(dirname(to), { recursive: true });
      cpSync(from, to);
    }
  }
}
copyJson('src', join('dist', 'src'));
