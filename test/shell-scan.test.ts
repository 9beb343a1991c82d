/**
 * The scan of a shell script's command words (src/rules/shell-scan.ts) and
 * the helper chain it starts, on hostile input: deep nesting, unclosed
 * quotes and here-documents, huge and random scripts, scripts that run each
 * other in a ring or a long chain. Each must end quickly with a bounded
 * answer, never a throw or a hang. What the scan finds in real scripts is
 * judged end to end against strace in helper-programs.test.ts.
 */
import { expect } from 'chai';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManifest } from '../src/manifest/create.js';
import { MAX_HELPER_DEPTH } from '../src/rules/engine.js';
import { scanShellScript } from '../src/rules/shell-scan.js';
import { mulberry32 } from './helpers/seed.js';

describe('shell script scan', function () {
  this.timeout(60_000);

  it('finds commands after operators, keywords, $( ), backquotes and launchers; not builtins, assignments, functions, here-documents or expansions', () => {
    const scan = scanShellScript(
      [
        '#!/bin/sh',
        'f() { cmd_in_function; }',
        'X=1 Y=$(first a) second "$X" 2>/dev/null | third && fourth || fifth; sixth &',
        'if test -f x; then seventh; elif eighth; then :; else ninth; fi',
        'while read l; do tenth "$l"; done < input',
        'case "$1" in a|b) eleventh ;; *) twelfth ;; esac',
        'for w in notcmd1 notcmd2; do thirteenth; done',
        'v=`fourteenth | fifteenth`',
        'env -u HOME LC_ALL=C sixteenth; xargs -n 1 echo; find . -name x -exec seventeenth {} \\;',
        'nice -n 5 timeout 10 eighteenth; sh -c "nineteenth arg"; command -v notcmd3; exec twentieth',
        '"$CC" -o x; $(output_is_the_command) arg; f; /usr/bin/absolute; ./relative',
        'cat <<EOF',
        'notcmd5 in a here-document',
        'EOF',
        '. ./lib.sh; . "$(dirname "$0")/beside.sh"; source plain.sh',
      ].join('\n'),
    );
    expect(scan.commands).to.have.members([
      'cmd_in_function', 'first', 'second', 'third', 'fourth', 'fifth', 'sixth', 'seventh', 'eighth', 'ninth', 'tenth', 'eleventh', 'twelfth', 'thirteenth',
      'fourteenth', 'fifteenth', 'env', 'sixteenth', 'xargs', 'echo', 'find', 'seventeenth', 'nice', 'timeout', 'eighteenth', 'sh', 'nineteenth', 'twentieth',
      'output_is_the_command', '/usr/bin/absolute', 'cat', 'dirname',
    ]);
    expect(scan.functions).to.deep.equal(['f']);
    expect(scan.sourced).to.have.members(['./lib.sh', 'plain.sh']);
    expect(scan.sourcedBeside).to.deep.equal(['beside.sh']);
  });

  it('hostile scripts end quickly with a bounded answer', () => {
    const big = 4 << 20;
    const cases: Record<string, string> = {
      'deep $( nesting': '$('.repeat(big / 2),
      'deep backquotes': '`a '.repeat(big / 3),
      'unclosed quote': `cmd "${'x'.repeat(big)}`,
      'unclosed here-document': `cat <<EOF\n${'line\n'.repeat(big / 5)}`,
      'many here-documents': 'cat <<A <<B <<C\n'.repeat(big / 16),
      'unclosed ${': '${'.repeat(big / 2),
      'trailing backslash': 'a \\',
      'many distinct commands': Array.from({ length: 200_000 }, (_, i) => `c${i}`).join('\n'),
      'sh -c nesting': 'sh -c "sh -c \\"sh -c x\\""; '.repeat(big / 32),
      'operators only': ';|&()<>'.repeat(big / 7),
    };
    const random = mulberry32(19);
    for (let n = 0; n < 20; n++) {
      const chars = '$(){}`"\'\\;|&<>\n #abc=*?[]-';
      cases[`random ${n}`] = Array.from({ length: 20_000 }, () => chars[Math.floor(random() * chars.length)]).join('');
    }
    for (const [name, text] of Object.entries(cases)) {
      const started = Date.now();
      const scan = scanShellScript(text);
      const took = Date.now() - started;
      expect(scan.commands.length, name).to.be.at.most(4096);
      expect(took, `${name}: ${took} ms`).to.be.below(20_000);
    }
  });

  it('scripts that run each other in a ring or a long chain: each entered once, the chain cut at the depth limit with a warning', function () {
    const root = mkdtempSync(join(tmpdir(), 'elfdeps-scan-'));
    try {
      mkdirSync(join(root, 'bin'));
      const script = (name: string, body: string): void => {
        writeFileSync(join(root, 'bin', name), `#!/bin/sh\n${body}\n`);
        chmodSync(join(root, 'bin', name), 0o755);
      };
      // /bin/sh is itself a script here: its own interpreter (a ring of one).
      script('sh', 'ring1');
      script('ring1', 'ring2 | ring3');
      script('ring2', 'ring1');
      script('ring3', 'ring1; ring2');
      const chain = 3 * MAX_HELPER_DEPTH;
      for (let i = 0; i < chain; i++) script(`chain${i}`, `chain${i + 1}`);
      script('app', 'ring1; chain0');
      const m = createManifest(['/bin/app'], { root, scriptPath: '/bin' });
      const files = m.entries.filter((e) => e.kind === 'file').map((e) => e.path);
      for (const name of ['sh', 'ring1', 'ring2', 'ring3', 'chain0', `chain${MAX_HELPER_DEPTH - 1}`]) expect(files, name).to.include(`/bin/${name}`);
      expect(files).not.to.include(`/bin/chain${chain}`);
      expect(m.warnings.some((w) => w.includes(`more than ${MAX_HELPER_DEPTH} levels`)), m.warnings.join('\n')).to.equal(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
