/**
 * Issue 21, items 4 and 9: the verbs as people type them (help, version,
 * -V anywhere), image's one-line usage errors and its progress line on a
 * terminal; the manual page and the shell completions generated from the
 * commands' own help texts and option tables, checked by the tools that
 * consume them (man/groff, bash's completion machinery, zsh -n, fish -n).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, hasTool, run } from './helpers/build.js';
import { elfdepsCommand, REPO } from './helpers/cli.js';
import { skipOrFail } from './helpers/skip.js';
import { VERB_DOCS } from '../src/cli/verbs.js';
import { VERB_NAMES } from '../src/cli/verb-names.js';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function elfdeps(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const [node, bin] = elfdepsCommand();
  const r = spawnSync(node, [bin, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...options.env }, cwd: options.cwd, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const quote = (x: string): string => `'${x.replace(/'/g, "'\\''")}'`;
const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

/** Every long option of a command's table, as typed. */
const longOptions = (options: object): string[] => Object.keys(options).map((o) => `--${o}`);

let work = '';
before(() => {
  work = mkdtempSync(join(tmpdir(), 'elfdeps-help-'));
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('issue 21 item 4: help and verbs as people type them', function () {
  this.timeout(120_000);

  it('the top --help names every command that dispatches, and each one answers its own --help', () => {
    const top = elfdeps(['--help']);
    expect(top.status).to.equal(0);
    // The commands docs/cli.md lists at its top (a reader's list, written by hand) ...
    const doc = readFileSync(join(REPO, 'docs', 'cli.md'), 'utf8');
    const documented = [...(/```\n([\s\S]*?)```/.exec(doc)?.[1] ?? '').matchAll(/^elfdeps ([a-z]+)/gm)].map((m) => m[1] as string);
    expect(documented).to.include.members(['manifest', 'copy', 'image', 'run', 'check', 'help', 'version', 'completion']);
    for (const verb of documented) {
      // ... each in the top help's usage, and each really a command: its own usage, exit 0.
      expect(top.stdout, verb).to.match(new RegExp(`^(Usage:|      ) elfdeps ${verb}\\b`, 'm'));
      const own = elfdeps([verb, '--help']);
      expect(own.status, verb).to.equal(0);
      expect(own.stdout, verb).to.match(new RegExp(`^Usage: elfdeps ${verb}\\b`));
    }
  });

  it('elfdeps help [VERB] prints what VERB --help prints; a file named help does not stand in the way', () => {
    expect(elfdeps(['help'])).to.deep.equal(elfdeps(['--help']));
    for (const verb of VERB_NAMES.filter((v) => v !== 'help')) {
      const viaHelp = elfdeps(['help', verb]);
      expect(viaHelp.status, verb).to.equal(0);
      expect(viaHelp.stdout, verb).to.equal(elfdeps([verb, '--help']).stdout);
    }
    expect(elfdeps(['help', 'help']).stdout).to.match(/^Usage: elfdeps help \[COMMAND\]/);
    const bad = elfdeps(['help', 'mainfest']);
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.match(/^elfdeps: help: no such command 'mainfest'; did you mean 'manifest'\? .*\n$/);
    // A verb is a verb even beside a file of its name (as `manifest` always was); ./help is the file.
    writeFileSync(join(work, 'help'), 'not ELF\n');
    expect(elfdeps(['help'], { cwd: work }).stdout).to.equal(elfdeps(['--help']).stdout);
    expect(elfdeps(['./help'], { cwd: work }).stderr).to.equal('elfdeps: ./help: not an ELF file (bad magic)\n');
    // Options before a verb: the verb must come first, whichever it is.
    expect(elfdeps(['--root', '/', 'image', 'x'], { cwd: work }).stderr).to.equal("elfdeps: 'image' must come first: elfdeps image [options] ...\n");
  });

  it('elfdeps version, and -V/--version after other options or after a verb, print package.json\'s version', () => {
    for (const args of [['version'], ['--root', '/', '-V'], ['/bin/true', '--tree', '--version'], ['copy', '--version'], ['image', '-q', '-V'], ['check', '--json', '-V'], ['run', '--dev', '-V'], ['manifest', '--bogus', '--version']]) {
      const r = elfdeps(args);
      expect(r.status, args.join(' ')).to.equal(0);
      expect(r.stdout, args.join(' ')).to.equal(`elfdeps ${version}\n`);
      expect(r.stderr, args.join(' ')).to.equal('');
    }
    // --help wins beside it; after NEWROOT, -V belongs to the command run; after --, it is a FILE.
    expect(elfdeps(['copy', '-V', '--help']).stdout).to.match(/^Usage: elfdeps copy/);
    const inRoot = elfdeps(['run', join(work, 'none'), '/bin/x', '-V']);
    expect(inRoot.status).to.equal(125);
    expect(inRoot.stdout).to.equal('');
    expect(elfdeps(['--', '-V']).stderr).to.match(/^elfdeps: -V: /);
    expect(elfdeps(['version', 'x']).status).to.equal(2);
  });

  it('image says a usage error in one line, as every command does', () => {
    const out = join(work, 'never.tar');
    for (const [args, message] of [
      [['image'], /need a manifest or FILE\.\.\./],
      [['image', '/bin/true'], /give -o IMAGE\.tar/],
      [['image', '/bin/true', '-o', out, '--compress', 'xz'], /--compress xz: expected gzip or none/],
      [['image', '/bin/true', '-o', '-', '--json'], /--json prints to standard output/],
      [['image', '--frob', '/bin/true', '-o', out], /unknown option '--frob'/],
    ] as const) {
      const r = elfdeps([...args]);
      expect(r.status, args.join(' ')).to.equal(2);
      expect(r.stdout).to.equal('');
      expect(r.stderr, args.join(' ')).to.match(/^elfdeps: [^\n]* \(try 'elfdeps image --help'\)\n$/);
      expect(r.stderr).to.match(message);
    }
  });

  it('image shows a progress line on a terminal (resolving, then entries), cleared at the end; none without one', function () {
    if (!hasTool('script')) skipOrFail(this, 'needs script(1) (util-linux) for a terminal');
    const [node, bin] = elfdepsCommand();
    const tar = join(work, 'sh.tar');
    const out = join(work, 'stdout');
    // bash with its runtime files (terminfo...): over a thousand entries, a few seconds.
    const program = ['/bin/bash', '/usr/bin/perl'].find((p) => run('test', ['-x', p]).status === 0);
    if (!program) skipOrFail(this, 'no bash or perl on this host');
    const r = run('script', ['-qec', `${[node, bin, 'image', program, '--compress', 'none', '-o', tar].map(quote).join(' ')} > ${quote(out)}`, '/dev/null'], { env: cleanEnv({ TERM: 'xterm' }) });
    const terminal = r.stdout;
    expect(r.status, terminal.slice(-300)).to.equal(0);
    expect(terminal.startsWith(`\r\x1b[Kresolving ${program}`), JSON.stringify(terminal.slice(0, 200))).to.equal(true);
    const entries = [...terminal.matchAll(/\r\x1b\[K(\d+)\/(\d+) entries: \//g)];
    expect(entries.length, JSON.stringify(terminal.slice(0, 300))).to.be.at.least(1);
    const last = entries[entries.length - 1] as RegExpMatchArray;
    expect(last[1], 'the last progress line has every entry done').to.equal(last[2]);
    expect(terminal.endsWith('\r\x1b[K'), JSON.stringify(terminal.slice(-100))).to.equal(true);
    // The total is the layer's entries, as tar(1) lists them (directories and all).
    const summary = readFileSync(out, 'utf8');
    expect(summary).to.match(new RegExp(`, 1 layer\\(s\\) \\([^)]*\\), ${last[2]} entries, `));
    // Without a terminal: nothing on stderr.
    const plain = elfdeps(['image', '/bin/true', '-o', join(work, 'true.tar')]);
    expect(plain.status).to.equal(0);
    expect(plain.stderr).to.equal('');
  });
});

describe('issue 21 item 9: the manual page and shell completions, from the commands\' own tables', function () {
  this.timeout(120_000);

  it('the tables the generators read are the ones the CLI uses: each verb\'s help is what --help prints', () => {
    expect(VERB_DOCS.map((d) => d.verb)).to.deep.equal([null, ...VERB_NAMES]);
    for (const d of VERB_DOCS) expect(elfdeps([...(d.verb ? [d.verb] : []), '--help']).stdout, String(d.verb)).to.equal(d.help);
  });

  it('npm run build writes dist/man/elfdeps.1, listed in package.json; man renders it without a warning; every option of every verb is in its section', function () {
    elfdepsCommand(); // builds dist/ when stale
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { man: string[]; files: string[] };
    expect(pkg.man).to.deep.equal(['dist/man/elfdeps.1']);
    expect(pkg.files).to.include('dist/man');
    // What npm would publish (and so what `npm install -g` links into share/man/man1) has the page.
    const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, encoding: 'utf8' });
    expect(pack.status, pack.stderr).to.equal(0);
    const packed = (JSON.parse(pack.stdout) as Array<{ files: Array<{ path: string }> }>)[0]?.files.map((f) => f.path);
    expect(packed).to.include('dist/man/elfdeps.1');
    if (!hasTool('man') || !hasTool('groff')) skipOrFail(this, 'needs man-db and groff to render the page');
    const page = join(REPO, 'dist/man/elfdeps.1');
    const r = run('man', ['--warnings', '-l', page], { env: cleanEnv({ MANWIDTH: '80', MAN_KEEP_FORMATTING: '', PAGER: 'cat' }) });
    expect(r.stderr, r.stderr).to.equal('');
    expect(r.status).to.equal(0);
    const text = r.stdout.replace(/.\x08/g, '').replace(/\u2010\n\s*/g, '');
    expect(text).to.match(/^NAME\n\s+elfdeps\s+-\s+resolve\s+what\s+an\s+ELF\s+program\s+needs/m);
    // The subsections in the verbs' order, each with every option of the verb's table.
    // Filled and justified: words are apart by any spaces, across lines.
    const sections = text.split(/^ {3}(?=elfdeps)/m).slice(1).map((s) => s.replace(/\s+/g, ' '));
    expect(sections.map((s) => /^elfdeps( [a-z]+)?/.exec(s)?.[0])).to.deep.equal(['elfdeps', ...VERB_NAMES.map((v) => `elfdeps ${v}`)]);
    const manifestSection = sections[1] as string;
    VERB_DOCS.forEach((d, i) => {
      const section = sections[i] as string;
      for (const option of longOptions(d.options)) {
        // copy and image describe the options they share with manifest by reference to it.
        const own = section.includes(option);
        const shared = (d.verb === 'copy' || d.verb === 'image') && /the options of 'elfdeps manifest'/.test(section) && manifestSection.includes(option);
        expect(own || shared, `${d.verb ?? 'elfdeps'}: ${option}`).to.equal(true);
      }
    });
  });

  it('each completion script names every option of every verb; zsh and fish parse theirs', function () {
    const scripts = Object.fromEntries(['bash', 'zsh', 'fish'].map((s) => [s, elfdeps(['completion', s])]));
    for (const [shell, r] of Object.entries(scripts)) {
      expect(r.status, shell).to.equal(0);
      for (const d of VERB_DOCS) {
        // Each verb's part of the script: bash's case arm, zsh's, fish's lines with its condition.
        const part =
          shell === 'bash'
            ? (r.stdout.split(`\n    ${d.verb ?? "''"})\n`)[1] ?? '').split('; operands=')[0] ?? ''
            : shell === 'zsh'
              ? d.verb === null
                ? (r.stdout.split('\n    (*)\n')[1] ?? '')
                : (r.stdout.split(`\n    (${d.verb})\n`)[1] ?? '').split('\n      ;;')[0]  ?? ''
              : r.stdout
                  .split('\n')
                  .filter((l) => l.includes(`-n '__elfdeps_verb ${d.verb ?? '""'}'`))
                  .join('\n');
        expect(part, `${shell} ${d.verb}`).to.not.equal('');
        for (const option of longOptions(d.options)) {
          const present = shell === 'fish' ? part.includes(` -l ${option.slice(2)} `) || part.endsWith(` -l ${option.slice(2)}`) : new RegExp(`(^|[\\s'*|])${option}([\\s'\\[|]|$)`).test(part);
          expect(present, `${shell}: ${d.verb ?? 'elfdeps'} ${option}`).to.equal(true);
        }
      }
    }
    for (const shell of ['zsh', 'fish']) {
      if (!hasTool(shell)) skipOrFail(this, `needs ${shell} to parse its completion script (.ci/run installs it)`);
      const file = join(work, `completion.${shell}`);
      writeFileSync(file, scripts[shell]?.stdout ?? '');
      const parsed = run(shell, ['-n', file]);
      expect(parsed.status, `${shell} -n: ${parsed.stderr}`).to.equal(0);
      expect(parsed.stderr).to.equal('');
    }
    // fish completes a command line on request (complete -C): the script works, not only parses.
    const fish = (line: string): string[] => {
      const r = run('fish', ['-c', `source ${quote(join(work, 'completion.fish'))}; complete -C ${quote(line)}`]);
      expect(r.stderr, r.stderr).to.equal('');
      return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t')[0] as string).sort();
    };
    expect(fish('elfdeps copy --fo')).to.deep.equal(['--force']);
    expect(fish('elfdeps check --tr')).to.deep.equal([]);
    expect(fish('elfdeps --tr')).to.deep.equal(['--tree']);
    expect(fish('elfdeps image --compress ')).to.deep.equal(['gzip', 'none']);
    expect(fish('elfdeps help co')).to.deep.equal(['completion', 'copy']);
  });

  it('bash completes verbs, options, option values, directories and files', function () {
    if (!hasTool('bash')) skipOrFail(this, 'needs bash');
    const dir = join(work, 'complete');
    mkdirSync(join(dir, 'subdir'), { recursive: true });
    writeFileSync(join(dir, 'sfile'), '');
    writeFileSync(join(dir, 'app.json'), '{}');
    const script = join(work, 'completion.bash');
    writeFileSync(script, elfdeps(['completion', 'bash']).stdout);
    const complete = (...words: string[]): string[] => {
      const line = `source ${quote(script)}; COMP_WORDS=("$@"); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _elfdeps; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const r = run('bash', ['-c', line, 'bash', ...words], { cwd: dir });
      expect(r.stderr, r.stderr).to.equal('');
      return r.stdout.split('\n').filter((l) => l !== '').sort();
    };
    // The first word: the verbs (and files); the verbs come from the dispatcher's list.
    expect(complete('elfdeps', 'c')).to.deep.equal(['check', 'completion', 'copy']);
    expect(complete('elfdeps', 'ima')).to.deep.equal(['image']);
    expect(complete('elfdeps', 's')).to.deep.equal(['sfile', 'subdir']);
    // A verb's options, and only its own.
    expect(complete('elfdeps', 'copy', '--f')).to.deep.equal(['--force', '--from']);
    expect(complete('elfdeps', 'image', '--c')).to.deep.equal(['--cmd', '--compress']);
    expect(complete('elfdeps', 'check', '--tr')).to.deep.equal([]);
    expect(complete('elfdeps', '--tr')).to.deep.equal(['--tree']);
    expect(complete('elfdeps', 'run', '--')).to.deep.equal(['--dev', '--env', '--help', '--proc', '--version']);
    // Values: a fixed set, a directory, a file, nothing to offer.
    expect(complete('elfdeps', 'manifest', '--dlopen', 're')).to.deep.equal(['recommended', 'required']);
    expect(complete('elfdeps', 'image', '--compress', '')).to.deep.equal(['gzip', 'none']);
    expect(complete('elfdeps', '--root', 's')).to.deep.equal(['subdir']);
    expect(complete('elfdeps', 'manifest', '-o', 'a')).to.deep.equal(['app.json']);
    expect(complete('elfdeps', 'image', '--tag', 's')).to.deep.equal([]);
    // Operands: files, commands for help, shells for completion.
    expect(complete('elfdeps', 'copy', 'app.json', 's')).to.deep.equal(['sfile', 'subdir']);
    expect(complete('elfdeps', 'help', 'c')).to.deep.equal(['check', 'completion', 'copy']);
    expect(complete('elfdeps', 'completion', '')).to.deep.equal(['bash', 'fish', 'zsh']);
  });
});
