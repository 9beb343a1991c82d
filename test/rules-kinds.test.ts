/**
 * The rule kinds runtimes need (docs/rules.md), on a plugin host in
 * miniature that gcc builds, judged by the real loader: a program that does
 * what the Java launcher does (reads lib/vm.cfg, dlopen()s the first KNOWN
 * VM's lib/VM/libvm.so with RTLD_GLOBAL, then a module lib/libmod.so that
 * needs libvm.so by name, which no search finds) must run in the root that
 * `elfdeps copy --rules` builds, as on the host. The rules file uses a
 * needs pattern with a capture, {origin}, a `read` item with `first`, and a
 * glob with `exclude`.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManifest } from '../src/manifest/create.js';
import { hasTool, mkexe, mklib } from './helpers/build.js';
import { elfdepsCommand } from './helpers/cli.js';
import { skipOrFail } from './helpers/skip.js';

const HOST = `#include <dlfcn.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
  char exe[4096], cfg[4200], path[4300], line[256], vm[64] = "";
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n < 0) return 2;
  exe[n] = 0;
  char *home = dirname(dirname(exe));
  snprintf(cfg, sizeof cfg, "%s/lib/vm.cfg", home);
  FILE *f = fopen(cfg, "r");
  while (f && fgets(line, sizeof line, f)) {
    char name[64], flag[64];
    if (sscanf(line, "-%63s %63s", name, flag) == 2 && !strcmp(flag, "KNOWN") && strcmp(name, "..")) { strcpy(vm, name); break; }
  }
  snprintf(path, sizeof path, "%s/lib/%s/libvm.so", home, vm);
  if (!dlopen(path, RTLD_NOW | RTLD_GLOBAL)) { printf("vm: %s\\n", dlerror()); return 1; }
  snprintf(path, sizeof path, "%s/lib/libmod.so", home);
  void *m = dlopen(path, RTLD_NOW);
  if (!m) { printf("mod: %s\\n", dlerror()); return 1; }
  int (*mod)(void) = (int (*)(void))dlsym(m, "mod");
  printf("%s %d\\n", vm, mod());
  return 0;
}
`;

describe('rule kinds for runtimes: a plugin host in miniature', function () {
  this.timeout(300_000);
  let work: string;
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'elfdeps-rule-kinds-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('read + first, needs captures, {origin}, glob exclude, and modules resolved as dlopen() loads them: the program runs in the root as on the host', function () {
    if (!hasTool('gcc')) skipOrFail(this, 'gcc is not installed');
    const home = join(work, 'app');
    const lib = join(home, 'lib');
    const fast = mklib(join(lib, 'fast/libvm.so'), { source: 'int vm_answer(void) { return 42; }\n' });
    mklib(join(lib, 'slow/libvm.so'), { source: 'int vm_answer(void) { return 7; }\n' });
    const mod = mklib(join(lib, 'libmod.so'), { needs: [fast], runpath: '$ORIGIN', source: 'int vm_answer(void);\nint mod(void) { return vm_answer(); }\n' });
    const loader = mklib(join(lib, 'libvmloader.so'));
    // A library of lib/ that needs what the root lacks: left out by the glob's exclude.
    const nothere = mklib(join(work, 'elsewhere/libnothere.so'));
    const skip = mklib(join(lib, 'libskip.so'), { needs: [nothere] });
    rmSync(join(work, 'elsewhere'), { recursive: true });
    // '..' is never a capture (it would leave the directory); a comment is no line of the form.
    writeFileSync(join(lib, 'vm.cfg'), '# -slow KNOWN\n-.. KNOWN\n-fast KNOWN\n-slow KNOWN\n');
    mkdirSync(join(home, 'bin'));
    const prog = mkexe(join(home, 'bin/host'), { needs: [loader], runpath: '$ORIGIN/../lib', libs: ['-ldl'], source: HOST });
    const host = spawnSync(prog, [], { encoding: 'utf8' });
    expect([host.status, host.stdout]).to.deep.equal([0, 'fast 42\n']);

    const rules = join(work, 'rules.json');
    writeFileSync(
      rules,
      JSON.stringify({
        elfdepsRules: 1,
        rules: [
          {
            name: 'mini-vm',
            why: 'the launcher loads the VM vm.cfg names first, then the modules of lib/',
            when: { needs: ['libvm{kind}.so'] },
            add: [
              { read: '{origin}/vm.cfg', match: '-{vm} KNOWN', first: true, then: [{ path: '{origin}/{vm}/libvm.so' }] },
              { glob: '{origin}/lib*.so', exclude: ['libskip.so'] },
            ],
          },
        ],
      }),
    );
    const m = createManifest([prog], { rulesFiles: [rules] });
    const paths = m.entries.map((e) => e.path);
    expect(paths).to.include.members([fast, mod, join(lib, 'vm.cfg')]);
    expect(paths).to.not.include.members([join(lib, 'slow/libvm.so'), skip]);
    expect(m.missing).to.deep.equal([]);
    expect(m.rules?.find((r) => r.rule === 'mini-vm')?.trigger).to.equal(`libvmloader.so loaded (${home}/bin/../lib/libvmloader.so)`);
    // Resolved alone, libmod.so cannot find libvm.so: the program's loaded VM is what satisfies it.
    expect(createManifest([mod], { loaderOnly: true }).missing.map((x) => x.name)).to.deep.equal(['libvm.so']);

    const [node, bin] = elfdepsCommand();
    const root = join(work, 'root');
    const copy = spawnSync(node, [bin, 'copy', '--rules', rules, prog, root], { encoding: 'utf8' });
    expect(copy.status, copy.stderr).to.equal(0);
    const run = spawnSync(node, [bin, 'run', '--dev', '--proc', root, prog], { encoding: 'utf8' });
    if (run.status !== 0 && /cannot|permission|operation not permitted/i.test(run.stderr) && !existsSync(join(root, prog))) skipOrFail(this, `elfdeps run cannot run here: ${run.stderr}`);
    expect([run.status, run.stdout], run.stderr).to.deep.equal([host.status, host.stdout]);
  });

  it('a read item on what is no small file gives a warning, never a failure', () => {
    const dir = join(work, 'hostile');
    mkdirSync(join(dir, 'cfgdir'), { recursive: true });
    writeFileSync(join(dir, 'big.cfg'), Buffer.alloc((1 << 20) + 1, 0x41));
    const rules = join(dir, 'rules.json');
    const read = (file: string) => ({ read: file, match: '-{vm} KNOWN', then: [{ path: '/{vm}' }] });
    writeFileSync(rules, JSON.stringify({ elfdepsRules: 1, rules: [{ name: 'odd', why: 'test', when: { imports: ['puts', 'printf', '__libc_start_main'] }, add: [read(join(dir, 'cfgdir')), read(join(dir, 'big.cfg')), read(join(dir, 'absent.cfg'))] }] }));
    const m = createManifest(['/usr/bin/true'], { rulesFiles: [rules] });
    const warnings = m.warnings.filter((w) => w.startsWith('rule odd:'));
    expect(warnings).to.have.length(3);
    expect(warnings.join('\n')).to.match(/cfgdir: not a regular file/).and.match(/big\.cfg: larger than 1048576 bytes/).and.match(/absent\.cfg is not in the root/);
  });
});
