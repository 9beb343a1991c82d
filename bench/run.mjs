// `npm run bench`: every performance figure of the project, measured in one
// run, printed as a table and written to bench/results.json. Targets (from the
// issues) are checked and reported here, never in timed unit tests.
import { writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const results = { date: new Date().toISOString(), node: process.version };

async function section(name, modulePath, fnName, ...args) {
  const full = join(here, modulePath);
  if (!existsSync(full)) {
    results[name] = { skipped: `${modulePath} not present` };
    return;
  }
  try {
    const mod = await import(full);
    results[name] = await mod[fnName](...args);
  } catch (err) {
    results[name] = { error: String(err?.message ?? err) };
  }
}

await section('elfRead', 'elf-bytes.mjs', 'measureElfBytes');
await section('resolve', 'resolve.mjs', 'benchResolve');
await section('batch', 'resolve.mjs', 'benchHostBatch');
await section('startup', 'startup.mjs', 'benchStartup');
await section('verdict', 'verdict.mjs', 'benchVerdict');
await section('materialise', 'materialise.mjs', 'benchMaterialise');
await section('image', 'image.mjs', 'benchImage');
await section('rules', 'rules.mjs', 'benchRules');
await section('check', 'check.mjs', 'benchCheck');
await section('jobs', 'jobs.mjs', 'benchJobs');
await section('packages', 'packages.mjs', 'benchPackages');
await section('fromImage', 'from-image.mjs', 'benchFromImage');

const targets = [];
const r = results.resolve ?? {};
const s = results.startup ?? {};
const v = results.verdict ?? {};
const img = results.image ?? {};
const b = results.batch ?? {};
if (r.speedupVsLdd != null) targets.push(['whole set >= 10x faster than an ldd loop', `${r.speedupVsLdd}x`, r.speedupVsLdd >= 10]);
if (r.speedupVsLibtree != null) targets.push(['whole set faster than a libtree loop', `${r.speedupVsLibtree}x`, r.speedupVsLibtree > 1]);
if (r.peakRssMiB != null) targets.push(['peak memory for the whole set < 200 MB', `${r.peakRssMiB} MiB`, r.peakRssMiB < 200]);
if (b.resolverVsLibtreeBatch != null) {
  targets.push([`resolver over the whole set at least as fast as libtree -p -vv's batch (${b.resolverBatchMs} vs ${b.libtreeBatchMs} ms)`, `${b.resolverVsLibtreeBatch}x`, b.resolverVsLibtreeBatch >= 1]);
  targets.push([`elfdeps --ldd over the whole set (verdict included) vs libtree's batch (${b.cliLddBatchMs} vs ${b.libtreeBatchMs} ms)`, `${b.cliLddVsLibtreeBatch}x`, b.cliLddVsLibtreeBatch >= 1]);
}
if (b.resolverPeakRssMiB != null) targets.push(['resolver peak memory for the whole set <= 128 MiB', `${b.resolverPeakRssMiB} MiB`, b.resolverPeakRssMiB <= 128]);
if (v.speedupVsLddRelocs != null) targets.push(['elfdeps -r over the whole set >= 10x faster than an ldd -r loop', `${v.speedupVsLddRelocs}x`, v.speedupVsLddRelocs >= 10]);
if (s.lddModeOverNodeMs != null) targets.push([`elfdeps --ldd /bin/ls within 15 ms of node -e 0 (medians ${s.medianMs['elfdeps --ldd /bin/ls']} vs ${s.medianMs['node -e 0']} ms; ldd /bin/ls ${s.medianMs['ldd /bin/ls']} ms)`, `+${s.lddModeOverNodeMs} ms`, s.lddModeOverNodeMs <= 15]);
for (const [which, label] of [['bashLs', 'bash+ls'], ['fiftyPrograms', '50-program']]) {
  const ratio = img[which]?.ratios?.imageVsCopyTarGzip;
  if (ratio != null) targets.push([`image of the ${label} root at most as slow as elfdeps copy + tar | gzip`, `${ratio}x`, ratio <= 1]);
}
for (const [which, label] of [['python', 'Python'], ['fiftyPrograms', '50-program']]) {
  const p = results.packages?.[which];
  if (p?.ratio != null) targets.push([`package data for the ${label} root, in one process (${p.withMs} vs ${p.withoutMs} ms, ${p.packages} packages)`, `${p.ratio}x`, p.ratio <= 1.2]);
  if (p?.command?.ratio != null) targets.push([`package data for the ${label} root, whole command (${p.command.withMs} vs ${p.command.withoutMs} ms)`, `${p.command.ratio}x`, p.command.ratio <= 1.2]);
}
const c = results.check ?? {};
if (c.checkDirVsLddLoop != null) targets.push([`elfdeps check /usr (${c.checkDirMs} ms) faster than an ldd loop over its ${c.dynamicFiles} dynamically linked files (${c.lddLoopMs} ms)`, `${c.checkDirVsLddLoop}x`, c.checkDirVsLddLoop > 1]);
if (c.checkFilesVsLibtreeBatch != null) targets.push([`elfdeps check F1 ... FN vs libtree -p -vv's batch over the same files (${c.checkFilesMs} vs ${c.libtreeBatchMs} ms; no target: libtree reads no version or symbol table)`, `${c.checkFilesVsLibtreeBatch}x`, null]);
const j = results.jobs ?? {};
if (j.checkUsrWarm?.speedup != null) targets.push([`check /usr with the default --jobs (${j.cpus} CPUs) >= 1.6x faster than --jobs 1, same output (${j.checkUsrWarm.jobsDefault.ms} vs ${j.checkUsrWarm.jobs1.ms} ms)`, `${j.checkUsrWarm.speedup}x`, j.checkUsrWarm.speedup >= 1.6 && j.checkUsrWarm.sameOutput]);
if (j.checkUsrCold?.speedup != null) targets.push([`check /usr, cold cache, with the default --jobs against --jobs 1 (${j.checkUsrCold.jobsDefault.ms} vs ${j.checkUsrCold.jobs1.ms} ms; no target of its own)`, `${j.checkUsrCold.speedup}x`, null]);
if (j.hostSetCold?.vsLibtreeBatch != null) targets.push([`cold cache, whole host set: elfdeps (default mode) >= 1.2x faster than libtree -p -vv's batch (${j.hostSetCold.elfdeps.ms} vs ${j.hostSetCold.libtreeBatch.ms} ms)`, `${j.hostSetCold.vsLibtreeBatch}x`, j.hostSetCold.vsLibtreeBatch >= 1.2]);
const f = results.fromImage ?? {};
if (f.ratio != null) {
  targets.push([`image --from the Python base image (${f.fromMs} ms) at most as slow as umoci unpack + image --root (${f.umociPlusImageMs} ms); base ${f.base.compressedBytes} bytes gzip, slim ${f.slim.compressedBytes}`, `${f.ratio}x`, f.ratio <= 1]);
}
// A comparison without a target has met === null: printed as 'info', never as met.
results.targets = targets.map(([what, value, met]) => ({ what, value, met }));

console.log(JSON.stringify(results, null, 2));
console.log('\nTargets:');
for (const [what, value, met] of targets) console.log(`  ${met === null ? 'info  ' : met ? 'met   ' : 'MISSED'}  ${what}: ${value}`);
writeFileSync(join(here, 'results.json'), JSON.stringify(results, null, 2) + '\n');
