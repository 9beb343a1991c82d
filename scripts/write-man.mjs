// Writes the manual page dist/man/elfdeps.1 (package.json's `man`) from the
// compiled CLI's help texts (src/cli/manpage.ts), so that `man elfdeps`
// works after `npm install -g` and says what --help says.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { manPage } from '../dist/src/cli/manpage.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
mkdirSync('dist/man', { recursive: true });
writeFileSync('dist/man/elfdeps.1.tmp', manPage(pkg.version, pkg.description));
renameSync('dist/man/elfdeps.1.tmp', 'dist/man/elfdeps.1');
