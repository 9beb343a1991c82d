/**
 * One-line tasks real users run, for the runtime-file rules' end-to-end test
 * (test/rules-tasks.test.ts): each runs in its own fresh root made by plain
 * `elfdeps copy PROGRAMS NEWROOT` and `elfdeps run --dev --proc`, and must
 * print what it prints on the host, with the same exit status. `programs`
 * are what the user names (found in PATH); /bin/sh is always added since the
 * task line is a shell command. Tasks that write do so in the working
 * directory (the root's / inside it, a fresh temporary directory on the
 * host), and remove what they wrote.
 */
export interface RealTask {
  /** What it exercises (for the report). */
  area: string;
  programs: string[];
  command: string;
}

export const REAL_TASKS: RealTask[] = [
  { area: 'users', programs: ['whoami'], command: 'whoami' },
  { area: 'users', programs: ['id'], command: 'id' },
  { area: 'users', programs: ['id'], command: 'id -un; id -gn' },
  { area: 'users', programs: ['groups'], command: 'groups' },
  { area: 'users', programs: ['getent'], command: 'getent passwd root' },
  { area: 'users', programs: ['getent'], command: 'getent group root' },
  { area: 'users', programs: ['stat'], command: "stat -c '%U:%G' /" },
  { area: 'users', programs: ['bash'], command: "bash -c 'echo ~root'" },
  { area: 'users', programs: ['python3'], command: "python3 -c 'import pwd, grp; print(pwd.getpwuid(0).pw_name, grp.getgrgid(0).gr_name)'" },
  { area: 'hosts', programs: ['getent'], command: 'getent hosts localhost' },
  { area: 'hosts', programs: ['getent', 'head'], command: 'getent ahostsv4 127.0.0.1 | head -n 1' },
  { area: 'hosts', programs: ['python3'], command: "python3 -c 'import socket; print(socket.gethostbyname(\"localhost\"))'" },
  { area: 'services', programs: ['getent'], command: 'getent services ssh' },
  { area: 'charsets', programs: ['iconv', 'od'], command: "printf '\\351t\\351\\n' | iconv -f LATIN1 -t UTF-8 | od -An -tx1" },
  { area: 'charsets', programs: ['iconv', 'od'], command: 'printf hi | iconv -f UTF-8 -t UTF-16LE | od -An -tx1' },
  { area: 'charsets', programs: ['iconv', 'wc'], command: 'iconv -l | wc -l' },
  { area: 'charsets', programs: ['python3'], command: "python3 -c 'print(\"\\u00e9\".encode(\"cp1252\"))'" },
  { area: 'time zones', programs: ['date'], command: "TZ=Europe/Paris date -d @0 '+%F %T %Z'" },
  { area: 'time zones', programs: ['date'], command: "TZ=America/New_York date -d @1700000000 '+%F %T %Z'" },
  { area: 'time zones', programs: ['zdump', 'wc'], command: 'zdump -c 2000,2001 Europe/Paris | wc -l' },
  { area: 'time zones', programs: ['python3'], command: "python3 -c 'import time, os; os.environ[\"TZ\"] = \"Asia/Tokyo\"; time.tzset(); print(time.strftime(\"%Z %H\", time.localtime(0)))'" },
  { area: 'terminals', programs: ['tput'], command: 'tput -T xterm-256color colors' },
  { area: 'terminals', programs: ['tput', 'od'], command: 'tput -T vt100 cup 5 10 | od -An -c' },
  { area: 'terminals', programs: ['infocmp', 'wc'], command: 'infocmp xterm | wc -l' },
  { area: 'terminals', programs: ['clear', 'od'], command: 'TERM=linux clear | od -An -c' },
  { area: 'file types', programs: ['file'], command: "printf '%%PDF-1.4\\n' | file -b -" },
  { area: 'file types', programs: ['file'], command: 'printf "\\037\\213\\010\\000\\000\\000\\000\\000" | file -b --mime-type -' },
  { area: 'tls', programs: ['openssl'], command: 'openssl version' },
  { area: 'tls', programs: ['openssl'], command: 'printf a | openssl dgst -sha256 -r' },
  { area: 'tls', programs: ['openssl', 'head'], command: 'openssl list -providers | head -n 3' },
  { area: 'tls', programs: ['curl', 'head'], command: 'curl --version | head -n 1' },
  { area: 'python', programs: ['python3'], command: "python3 -c 'print(1)'" },
  { area: 'python', programs: ['python3'], command: "python3 -c 'import ssl; print(ssl.OPENSSL_VERSION)'" },
  { area: 'python', programs: ['python3'], command: "python3 -c 'import sqlite3; print(sqlite3.connect(\":memory:\").execute(\"select 6*7\").fetchone())'" },
  { area: 'python', programs: ['python3'], command: "python3 -c 'import hashlib, zlib, lzma, bz2, json; print(hashlib.sha256(b\"x\").hexdigest()[:12], zlib.crc32(b\"a\"), len(lzma.compress(b\"\")) > 0)'" },
  { area: 'python', programs: ['python3'], command: "python3 -c 'import ctypes, decimal, datetime; print(decimal.Decimal(1) / 8, datetime.date(2020, 2, 29).isoformat())'" },
  { area: 'python', programs: ['python3'], command: "python3 -c 'import tempfile, os; d = tempfile.mkdtemp(); print(len(d) > 0); os.rmdir(d)'" },
  { area: 'perl', programs: ['perl'], command: "perl -e 'print qq(hi\\n)'" },
  { area: 'perl', programs: ['perl'], command: "perl -MPOSIX -e 'print floor(2.5), qq(\\n)'" },
  { area: 'perl', programs: ['perl'], command: "perl -MDigest::MD5=md5_hex -e 'print md5_hex(q(a)), qq(\\n)'" },
  { area: 'perl', programs: ['perl'], command: "perl -MList::Util=sum -e 'print sum(1..10), qq(\\n)'" },
  { area: 'perl', programs: ['perl'], command: "perl -MData::Dumper -e '$Data::Dumper::Terse = 1; print Dumper([1, 2])'" },
  { area: 'git', programs: ['git'], command: 'git --version' },
  { area: 'git', programs: ['git'], command: 'echo hi | git hash-object --stdin' },
  { area: 'git', programs: ['git', 'rm'], command: 'git -c init.defaultBranch=main init -q repo$$ && git -C repo$$ symbolic-ref HEAD; rm -rf repo$$' },
  { area: 'ssh', programs: ['ssh-keygen', 'wc', 'rm'], command: "ssh-keygen -q -t ed25519 -N '' -C me -f key$$ && wc -w < key$$.pub; rm -f key$$ key$$.pub" },
  { area: 'ssh', programs: ['ssh-keygen', 'cut', 'rm'], command: "ssh-keygen -q -t rsa -b 1024 -N '' -C me -f key$$ && ssh-keygen -l -f key$$.pub | cut -d ' ' -f 1,3; rm -f key$$ key$$.pub" },
  { area: 'databases', programs: ['sqlite3'], command: "sqlite3 :memory: 'select 1 + 1'" },
  { area: 'databases', programs: ['sqlite3'], command: "sqlite3 :memory: \"select strftime('%Y', '2020-06-01')\"" },
  { area: 'compression', programs: ['gzip'], command: 'echo hi | gzip -n | gzip -d' },
  { area: 'compression', programs: ['xz'], command: 'echo hi | xz | xz -d' },
  { area: 'archives', programs: ['tar', 'head'], command: 'tar --version | head -n 1' },
  { area: 'locales', programs: ['locale'], command: 'LANG=C.UTF-8 locale charmap' },
  { area: 'locales', programs: ['sort'], command: "printf 'b\\nA\\na\\n' | LC_ALL=C.UTF-8 sort" },
  { area: 'crypto', programs: ['gpg', 'head'], command: 'gpg --version | head -n 1' },
  { area: 'text', programs: ['awk'], command: "awk 'BEGIN { printf \"%.2f\\n\", 1 / 3 }'" },
];

/**
 * Tasks of runtimes and plugin hosts (test/rules-runtimes.test.ts): the JDK
 * (a class run from source needs jdk.compiler in lib/modules; time zones
 * from lib/tzdb.dat; the CA certificates of lib/security/cacerts), Node.js
 * (its built-in OpenSSL reads the system's certificates when told to), Tcl
 * (init.tcl, clock, encodings) and ImageMagick (coder modules, XML
 * configuration). convert is named by its path: /usr/local/bin may hold
 * another program of that name.
 */
export const RUNTIME_TASKS: RealTask[] = [
  {
    area: 'java',
    programs: ['java', 'rm'],
    command:
      'printf \'class T { public static void main(String[] a) { System.out.println(java.time.ZonedDateTime.ofInstant(java.time.Instant.ofEpochSecond(1700000000L), java.time.ZoneId.of("America/New_York"))); System.out.println(String.format(java.util.Locale.GERMANY, "%%,.2f", 1234567.891)); } }\' > t$$.java && java t$$.java; s=$?; rm -f t$$.java; exit $s',
  },
  {
    area: 'java',
    programs: ['java', 'rm'],
    command:
      'printf \'class S { public static void main(String[] a) throws Exception { var f = javax.net.ssl.TrustManagerFactory.getInstance("PKIX"); f.init((java.security.KeyStore) null); System.out.println(((javax.net.ssl.X509TrustManager) f.getTrustManagers()[0]).getAcceptedIssuers().length); System.out.println(java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest("a".getBytes()))); System.out.println(javax.crypto.Cipher.getMaxAllowedKeyLength("AES")); } }\' > s$$.java && java s$$.java; s=$?; rm -f s$$.java; exit $s',
  },
  {
    area: 'node',
    programs: ['node'],
    command:
      'node -e \'const c = require("crypto"); console.log(c.createHash("sha256").update("a").digest("hex"), c.randomBytes(4).length, new Intl.DateTimeFormat("de-DE", { timeZone: "Europe/Paris", dateStyle: "full", timeStyle: "long" }).format(new Date(0)), (1234567.891).toLocaleString("fr-FR"))\'',
  },
  { area: 'node', programs: ['node'], command: 'NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt node -e \'console.log(require("tls").rootCertificates.length)\' 2>&1' },
  {
    area: 'tcl',
    programs: ['tclsh'],
    command:
      'echo \'puts [clock format 1700000000 -timezone :Europe/Paris -format "%Y-%m-%d %H:%M %Z"]; puts [clock format 0 -gmt 1 -locale fr -format "%A %d %B %Y"]; puts [string toupper [string reverse abc]]; puts [binary encode hex [encoding convertto iso8859-2 "\\u0141"]]\' | tclsh',
  },
  {
    area: 'imagemagick',
    programs: ['/usr/bin/convert', '/usr/bin/identify'],
    command: "/usr/bin/convert -size 16x16 gradient:red-blue png:- | /usr/bin/convert - -resize 8x8 gif:- | /usr/bin/identify -format '%m %w %h %k\\n' -",
  },
  {
    area: 'imagemagick',
    programs: ['/usr/bin/convert', '/usr/bin/identify', 'wc'],
    command: "/usr/bin/convert rose: -quality 80 jpg:- | /usr/bin/identify -format '%m %w %h %Q\\n' -; /usr/bin/convert -list format | wc -l; /usr/bin/convert -list policy | wc -l",
  },
];
