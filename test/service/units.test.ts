// Config validation, reply composition, trigger parsing and the allow-list
// from MAINTAINERS (read with git from the fixture tree and the real 6.12 tree).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { buildFixtureTree } from '../../fixtures/kernel-tree/build.js';
import {
  composeReply,
  quoteFor,
  replyRecipients,
  replyText,
  wrapParagraph,
} from '../../bot/outbound/compose.js';
import { ConfigError, loadConfig, validateConfig } from '../../workers/config.js';
import {
  AllowList,
  parseMaintainers,
  patternCovers,
  pciMaintainers,
  readMaintainers,
} from '../../bot/triggers/allowlist.js';
import { parseTrigger } from '../../bot/triggers/parse.js';
import { prepareKernelTree } from '../../bot/tree/kernel.js';
import type { Finding, Message } from '../../bot/types.js';
import { ingestJobId, rawMessageId } from '../../workers/jobs.js';
import { RateLimiter } from '../../bot/outbound/ratelimit.js';
import { replyLimits } from '../../workers/processors/send.js';
import { repoRoot } from '../../bot/util/paths.js';

describe('config', () => {
  it('has safe defaults: dry run, local Redis', () => {
    const c = validateConfig({});
    assert.equal(c.mail.send, false);
    assert.equal(c.redis.url, 'redis://127.0.0.1:6379');
    assert.equal(c.concurrency.ingest, 8);
  });
  it('verifies in auto mode by default when QEMU is installed, not at all when it is not', () => {
    const at = (input: unknown, qemu: boolean) =>
      validateConfig(input, null, tmpdir(), () => qemu).verify.enabled;
    assert.equal(at({}, true), 'auto');
    assert.equal(at({}, false), false);
    assert.equal(at({ verify: { enabled: false } }, true), false);
    assert.equal(at({ verify: { enabled: true } }, false), true);
    assert.equal(at({ verify: { enabled: 'auto' } }, false), 'auto');
    assert.throws(
      () => at({ verify: { enabled: 'sometimes' } }, true),
      (e: unknown) =>
        e instanceof ConfigError &&
        /^verify\.enabled: expected true, false or "auto"/.test(e.message),
    );
  });
  it('names the field in every error', () => {
    const bad: [unknown, RegExp][] = [
      [{ redis: { url: 'http://x' } }, /^redis\.url: /],
      [
        { lists: [{ name: 'linux-pci', address: 'not-an-address' }] },
        /^lists\[0\]\.address: not an e-mail/,
      ],
      [
        { lists: [{ name: 'a', address: 'a@b.c', rateLimit: { max: -1 } }] },
        /^lists\[0\]\.rateLimit\.max: /,
      ],
      [{ concurrency: { analyse: 0 } }, /^concurrency\.analyse: /],
      [{ concurrency: { nosuch: 1 } }, /^concurrency\.nosuch: unknown setting/],
      [{ mail: { send: true } }, /^mail\.smtp: mail\.send is true/],
      [
        { spools: [{ path: 'x', kind: 'mbox', list: 'nope' }] },
        /^spools\[0\]\.list: no list named "nope"/,
      ],
      [{ redis: { prefix: 'a:b' } }, /^redis\.prefix: /],
      [
        {
          lists: [
            { name: 'a', address: 'a@b.c' },
            { name: 'a', address: 'b@b.c' },
          ],
        },
        /^lists\[1\]\.name: duplicate/,
      ],
    ];
    for (const [input, re] of bad)
      assert.throws(
        () => validateConfig(input),
        (e: unknown) => e instanceof ConfigError && re.test(e.message),
        JSON.stringify(input),
      );
  });
  it('does not count list addresses against the per-recipient limit', () => {
    const c = validateConfig({
      lists: [
        { name: 'linux-pci', address: 'linux-pci@vger.kernel.org' },
        { name: 'kvm', address: 'kvm@vger.kernel.org' },
      ],
    });
    const limiter = new RateLimiter(null as never, 'p');
    const keys = replyLimits(c, limiter, {
      list: 'linux-pci',
      envelope: {
        from: 'pcibot@example.org',
        to: ['ann@example.com', 'Linux-PCI@vger.kernel.org', 'kvm@vger.kernel.org'],
      },
    }).map((l) => l.key);
    assert.deepEqual(keys, ['p:svc:rate:list:linux-pci', 'p:svc:rate:rcpt:ann@example.com']);
  });

  it('loads the commented sample config pcibot.example.json with the real loader', () => {
    const c = loadConfig({ path: join(repoRoot, 'pcibot.example.json'), env: {} });
    assert.equal(c.source, join(repoRoot, 'pcibot.example.json'));
    assert.equal(c.stateDir, '/var/lib/pcibot/state');
    assert.equal(c.lists[0]?.name, 'linux-pci');
    assert.equal(c.lists[0]?.reply.mode, 'series');
    assert.equal(c.lists[0]?.reply.maxAgeDays, 14);
    assert.equal(c.lists[0]?.reply.sendBackfill, false);
    assert.equal(c.triggers.maxAgeHours, 48);
    assert.equal(c.triggers.requireDkim, true);
    assert.equal(c.http.admin.readOnly, true);
    assert.equal(c.mail.send, false, 'the sample is a dry run');
    assert.equal(c.mail.resolveGraceSec, 600);
    assert.equal(c.verify.enabled, 'auto', 'boot only when the model needs it');
    // Every key of the sample is a setting or a $comment: nothing is silently ignored.
    const text = readFileSync(join(repoRoot, 'pcibot.example.json'), 'utf8');
    assert.ok((text.match(/"\$comment"/g) ?? []).length >= 8, 'the sample explains itself');
  });

  it('has the issue 11 defaults: one reply per series, age limits, read-only admin', () => {
    const c = validateConfig({ lists: [{ name: 'l', address: 'l@example.org' }] });
    assert.equal(c.lists[0]!.reply.mode, 'series');
    assert.equal(c.lists[0]!.reply.maxAgeDays, 14);
    assert.equal(c.triggers.maxAgeHours, 48);
    assert.equal(c.triggers.requireDkim, false);
    assert.deepEqual(c.http.admin, { readOnly: true, token: null, basicAuth: null });
    assert.throws(() => validateConfig({ http: { admin: { token: 'short' } } }), /too short/);
    const basic = (user: string, pass: string) =>
      validateConfig({ http: { admin: { basicAuth: { user, pass } } } });
    assert.throws(() => basic('admin', ''), /basicAuth\.pass: expected a non-empty string/);
    assert.throws(() => basic('admin', 'hunter2'), /basicAuth\.pass: too short/);
    assert.throws(() => basic('', 'a long enough secret'), /basicAuth\.user: expected a non-empty/);
    assert.deepEqual(basic('admin', 'a long enough secret').http.admin.basicAuth, {
      user: 'admin',
      pass: 'a long enough secret',
    });
    assert.throws(
      () =>
        validateConfig({ lists: [{ name: 'l', address: 'l@example.org', reply: { mode: 'x' } }] }),
      /lists\[0\]\.reply\.mode: expected "series" or "patch"/,
    );
  });

  it('reads the file named by PCIBOT_CONFIG and applies environment overrides', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pcibot-cfg-'));
    try {
      const file = join(dir, 'pcibot.json');
      await writeFile(
        file,
        JSON.stringify({
          redis: { prefix: 'p1' },
          mail: { outbox: 'out' },
          lists: [{ name: 'linux-pci', address: 'linux-pci@vger.kernel.org' }],
        }),
      );
      const c = loadConfig({
        env: {
          PCIBOT_CONFIG: file,
          PCIBOT_REDIS_URL: 'redis://10.0.0.1:6380/2',
          PCIBOT_SMTP_HOST: 'smtp.example.org',
          PCIBOT_SMTP_PORT: '2525',
        },
      });
      assert.equal(c.redis.url, 'redis://10.0.0.1:6380/2');
      assert.equal(c.redis.prefix, 'p1');
      assert.equal(
        c.mail.outbox,
        join(dir, 'out'),
        'relative paths are relative to the config file',
      );
      assert.deepEqual(c.mail.smtp, {
        host: 'smtp.example.org',
        port: 2525,
        secure: false,
        user: null,
        pass: null,
      });
      assert.equal(c.mail.send, false);
      assert.throws(
        () => loadConfig({ env: { PCIBOT_CONFIG: file, PCIBOT_SMTP_PORT: 'abc' } }),
        /PCIBOT_SMTP_PORT: expected an integer/,
      );
      await writeFile(file, '{ "redis": ');
      assert.throws(
        () => loadConfig({ path: file, env: {} }),
        (e: unknown) =>
          e instanceof ConfigError && e.message.includes(file) && /not valid JSON/.test(e.message),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const msg = (over: Partial<Message> = {}): Message => ({
  origin: { kind: 'eml', file: 'x.eml' },
  messageId: 'p1@example.com',
  inReplyTo: 'cover@example.com',
  references: ['cover@example.com'],
  subject: '[PATCH 1/2] PCI: Add a knob',
  tags: {
    prefixes: ['PATCH', '1/2'],
    isPatch: true,
    rfc: false,
    resend: false,
    version: 1,
    index: 1,
    total: 2,
    treeTags: [],
    isReply: false,
    title: 'PCI: Add a knob',
  },
  from: { name: 'Ann Author', address: 'ann@example.com' },
  to: [{ name: '', address: 'linux-pci@vger.kernel.org' }],
  cc: [
    { name: 'Bob', address: 'bob@example.org' },
    { name: 'Ann again', address: 'ANN@example.com' },
    { name: '', address: 'pcibot@example.org' },
  ],
  date: '2025-01-06T10:00:00.000Z',
  body: '',
  commitMessage:
    'Adds a knob.\n\nCc: stable@vger.kernel.org\nSigned-off-by: Ann Author <ann@example.com>\n',
  diff: [
    'diff --git a/drivers/pci/pci.c b/drivers/pci/pci.c',
    '--- a/drivers/pci/pci.c',
    '+++ b/drivers/pci/pci.c',
    '@@ -10,4 +10,7 @@ static int x;',
    ' a',
    ' b',
    '-c',
    '+c2',
    '+__setup("knob=", knob_setup);',
    '+d',
    ' e',
    '@@ -40,2 +43,3 @@ static int y;',
    ' f',
    '+g',
    ' h',
    '',
  ].join('\n'),
  diffLine: 5,
  trailers: [],
  baseCommit: null,
  changeId: null,
  prerequisites: [],
  warnings: [],
  ...over,
});

const finding = (over: Partial<Finding> = {}): Finding => ({
  rule: 'new-kernel-parameter',
  severity: 'warning',
  title: 'New kernel parameter "knob"',
  detail:
    'This adds a boot-time parameter, and this sentence is long enough that it has to be wrapped somewhere before the end.',
  patch: 1,
  file: 'drivers/pci/pci.c',
  line: 12,
  evidence: {},
  references: ['https://lore.kernel.org/linux-pci/20240101000000.GA1@bhelgaas/'],
  ...over,
});

describe('reply composition', () => {
  it('quotes the hunk lines around the finding, with new-side numbering', () => {
    const q = quoteFor(msg().diff, 'drivers/pci/pci.c', 12);
    assert.equal(q[0], '@@ -10,4 +10,7 @@ static int x;');
    assert.ok(q.includes('+__setup("knob=", knob_setup);'));
    assert.ok(!q.includes('+g'), 'not the other hunk');
    assert.deepEqual(quoteFor(msg().diff, 'drivers/pci/pci.c', 44), [
      '@@ -40,2 +43,3 @@ static int y;',
      ' f',
      '+g',
      ' h',
    ]);
    assert.deepEqual(quoteFor(msg().diff, 'drivers/pci/other.c', 3), []);
  });
  it('quotes hunks of files whose names git C-quotes, and of -p0 and dated headers', () => {
    const body = '@@ -1,2 +1,3 @@\n a\n+b\n c\n';
    const quoted =
      'diff --git "a/dir/na\\"me.c" "b/dir/na\\"me.c"\n' +
      '--- "a/dir/na\\"me.c"\n+++ "b/dir/na\\"me.c"\n' +
      body +
      'diff --git a/dir/x\\y.c b/dir/x\\y.c\n--- "a/dir/t\\303\\251st.c"\n+++ "b/dir/t\\303\\251st.c"\n' +
      body;
    assert.deepEqual(quoteFor(quoted, 'dir/na"me.c', 2), ['@@ -1,2 +1,3 @@', ' a', '+b', ' c']);
    assert.deepEqual(quoteFor(quoted, 'dir/tést.c', 2)[0], '@@ -1,2 +1,3 @@');
    const p0 = '--- dir/x.c\n+++ dir/x.c\n' + body;
    assert.deepEqual(quoteFor(p0, 'dir/x.c', 2).length, 4);
    const dated = '--- a/dir/x.c 2025-01-10 12:00:00\n+++ b/dir/x.c 2025-01-10 12:00:00\n' + body;
    assert.deepEqual(quoteFor(dated, 'dir/x.c', 2).length, 4);
  });
  it('quotes the hunk by the mail line of a finding on a patch that landed elsewhere', () => {
    // The second hunk landed 62 lines below its header: the finding is on 106 in the tree,
    // which the mail numbers 44.
    const text = (f: Finding) =>
      replyText({
        original: msg(),
        findings: [f],
        notes: [],
        list: { address: 'linux-pci@vger.kernel.org', reply: { ccList: true, ccOriginal: true } },
        from: { name: 'pcibot', address: 'pcibot@example.org' },
        replyKey: 'k',
      });
    assert.match(
      text(finding({ line: 106, mailLine: 44 })),
      /^> @@ -40,2 \+43,3 @@ static int y;$/m,
    );
    assert.doesNotMatch(text(finding({ line: 106 })), /@@ -40,2/, 'by the tree line, no hunk');
  });
  it('wraps at 72 columns and never splits words', () => {
    const lines = wrapParagraph('word '.repeat(60));
    assert.ok(lines.every((l) => l.length <= 72));
    assert.equal(lines.join(' ').split(' ').length, 60);
  });
  it('addresses the author, Cc the list and the original Cc, without duplicates or pcibot', () => {
    const r = replyRecipients({
      original: msg(),
      list: { address: 'linux-pci@vger.kernel.org', reply: { ccList: true, ccOriginal: true } },
      from: { name: 'pcibot', address: 'pcibot@example.org' },
    });
    assert.deepEqual(
      r.to.map((a) => a.address),
      ['ann@example.com'],
    );
    assert.deepEqual(
      r.cc.map((a) => a.address),
      ['linux-pci@vger.kernel.org', 'bob@example.org'],
    );
    const noCc = replyRecipients({
      original: msg(),
      list: { address: 'linux-pci@vger.kernel.org', reply: { ccList: false, ccOriginal: false } },
      from: { name: 'pcibot', address: 'pcibot@example.org' },
    });
    assert.deepEqual(noCc.cc, []);
  });
  it('composes a threaded, bottom-posted plain-text reply with a stable Message-ID', async () => {
    const input = {
      original: msg(),
      findings: [
        finding(),
        finding({
          rule: 'stable-and-fixes',
          title: 'Cc: stable on a feature',
          file: undefined,
          line: undefined,
          evidence: { trailer: 'Cc: stable@vger.kernel.org' },
        }),
      ],
      notes: ['Fixed since v1:\n- Something (drivers/pci/pci.c)'],
      list: { address: 'linux-pci@vger.kernel.org', reply: { ccList: true, ccOriginal: true } },
      from: { name: 'pcibot', address: 'pcibot@example.org' },
      replyKey: 'abc-v1-a-p1',
      date: new Date('2025-01-07T00:00:00Z'),
    };
    const a = await composeReply(input);
    const b = await composeReply(input);
    assert.equal(a.eml, b.eml, 'same input, same message');
    assert.equal(a.messageId, 'pcibot-abc-v1-a-p1@example.org');
    assert.equal(a.subject, 'Re: [PATCH 1/2] PCI: Add a knob');
    assert.deepEqual(a.references, ['cover@example.com', 'p1@example.com']);
    assert.match(a.eml, /^In-Reply-To: <p1@example\.com>$/m);
    assert.match(a.eml, /^Content-Type: text\/plain/m);
    const lines = a.text.split('\n');
    assert.ok(
      lines.findIndex((l) => l.includes('__setup')) <
        lines.findIndex((l) => l.startsWith('Warning: New kernel parameter')),
    );
    assert.ok(
      lines.includes('> Cc: stable@vger.kernel.org'),
      'message-level finding quotes its trailer',
    );
    assert.ok(lines.includes('- Something (drivers/pci/pci.c)'));
    for (const l of lines) if (!l.startsWith('> ')) assert.ok(l.length <= 72, l);
    assert.equal(lines.filter((l) => l === '-- ').length, 1);
    const again = await composeReply({
      ...input,
      original: msg({ subject: 'Re: [PATCH 1/2] PCI: Add a knob' }),
    });
    assert.equal(again.subject, 'Re: [PATCH 1/2] PCI: Add a knob', 'no "Re: Re:"');
  });
  it('writes the body as is (7bit or 8bit), not quoted-printable, when SMTP can carry it', async () => {
    const wide =
      '+\tpci_info(dev, "BAR %d: realigned from %pR to a page of its own (%#llx)\\n", bar, r, align);';
    assert.ok(wide.length > 76);
    const input = (author: string, code: string) => ({
      original: msg({
        from: { name: author, address: 'ann@example.com' },
        diff: (msg().diff ?? '').replace('+c2\n', `${code}\n`),
      }),
      findings: [finding()],
      notes: [],
      list: { address: 'linux-pci@vger.kernel.org', reply: { ccList: true, ccOriginal: true } },
      from: { name: 'pcibot', address: 'pcibot@example.org' },
      replyKey: 'wide-v1-a-p1',
      date: new Date('2025-01-07T00:00:00Z'),
    });
    const ascii = await composeReply(input('Ann', wide));
    const utf8 = await composeReply(input('Zoë Ångström', wide));
    const tooLong = await composeReply(input('Ann', '+' + 'x'.repeat(1200)));
    for (const [r, cte] of [
      [ascii, '7bit'],
      [utf8, '8bit'],
      [tooLong, 'quoted-printable'],
    ] as const) {
      assert.match(r.eml, new RegExp(`^Content-Transfer-Encoding: ${cte}\\r?$`, 'm'));
      const parsed = await simpleParser(r.eml);
      assert.equal(parsed.text, r.text, `${cte}: the text a reader gets is the text composed`);
    }
    for (const r of [ascii, utf8]) {
      assert.ok(r.text.includes(`> ${wide}`), 'the wide line is quoted');
      const body = r.eml.slice(r.eml.indexOf('\r\n\r\n') + 4);
      assert.equal(body, r.text.replace(/\n/g, '\r\n'), 'the raw body is the text, CRLF lines');
      assert.doesNotMatch(body, /=\r\n|=3D/);
    }
  });
});

describe('triggers', () => {
  it("reads the command from the first line of the sender's own text", () => {
    assert.deepEqual(parseTrigger('pcibot: review\n\nthanks')?.['command' as never], {
      kind: 'review',
      base: null,
    });
    assert.deepEqual(
      (
        parseTrigger('On Mon, X wrote:\n> patch\n\nPCIbot: review base=1234abcd5678\n') as {
          command: unknown;
        }
      ).command,
      { kind: 'review', base: '1234abcd5678' },
    );
    assert.deepEqual(
      (parseTrigger('pcibot: scenarios q35-small, arm64-virt') as { command: unknown }).command,
      { kind: 'scenarios', names: ['q35-small', 'arm64-virt'] },
    );
    assert.deepEqual((parseTrigger('pcibot: quiet') as { command: unknown }).command, {
      kind: 'quiet',
      rule: null,
    });
    assert.deepEqual(
      (parseTrigger('pcibot: quiet new-kernel-parameter') as { command: unknown }).command,
      { kind: 'quiet', rule: 'new-kernel-parameter' },
    );
  });
  it('is not fooled by quoted or later commands, and reports bad ones', () => {
    assert.equal(parseTrigger('> pcibot: review\n\nI disagree.'), null);
    assert.equal(parseTrigger('Looks good.\n\npcibot: review'), null);
    assert.match(
      (parseTrigger('pcibot: review base=main; rm -rf /') as { error: string }).error,
      /base=<commit id>/,
    );
    assert.match(
      (parseTrigger('pcibot: explode') as { error: string }).error,
      /unknown pcibot command/,
    );
  });
});

describe('allow-list from MAINTAINERS', () => {
  it('takes PCI SUBSYSTEM, VFIO DRIVER and entries covering drivers/pci/ or drivers/vfio/, nothing narrower', () => {
    const text = [
      'Descriptions of section entries and preferred order',
      '\tM: *Mail* patches to: FullName <address@domain>',
      '',
      'PCI SUBSYSTEM',
      'M:\tBjorn <bjorn@example.org>',
      'F:\tdrivers/pci/',
      '',
      'VFIO DRIVER',
      'M:\tAlex <alex@example.org>',
      'F:\tdrivers/vfio/',
      '',
      'PCI NATIVE HOST BRIDGE DRIVERS',
      'M:\tLorenzo <lorenzo@example.org>',
      'F:\tdrivers/pci/controller/',
      '',
      'THE REST',
      'M:\tLinus <linus@example.org>',
      'F:\t*',
      'F:\t*/',
      '',
      'DRIVERS CORE',
      'M:\tGreg <greg@example.org>',
      'F:\tdrivers/',
      '',
    ].join('\n');
    const got = pciMaintainers(parseMaintainers(text));
    assert.deepEqual(
      got.map((g) => g.address),
      ['bjorn@example.org', 'alex@example.org', 'greg@example.org'],
    );
    assert.equal(patternCovers('drivers/pci/*', 'drivers/pci/'), true);
    assert.equal(patternCovers('drivers/pci/controller/', 'drivers/pci/'), false);
  });
  it('reads MAINTAINERS from a tree with git and combines it with the config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pcibot-allow-'));
    try {
      const { path } = await buildFixtureTree(join(dir, 'tree'));
      const allow = new AllowList(['trusted@example.com'], path, true);
      assert.equal(await allow.allows('PCI-Maintainer@example.org'), 'MAINTAINERS: PCI SUBSYSTEM');
      assert.equal(await allow.allows('trusted@example.com'), 'config allowList');
      assert.equal(await allow.allows('someone@example.com'), null);
      assert.equal(
        await new AllowList([], path, false).allows('pci-maintainer@example.org'),
        null,
        'maintainersFromTree: false',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('finds Bjorn Helgaas and Alex Williamson in the real 6.12 MAINTAINERS', async () => {
    const text = await readMaintainers((await prepareKernelTree()).path);
    assert.ok(text);
    const got = pciMaintainers(parseMaintainers(text)).map((g) => g.address);
    assert.ok(got.includes('bhelgaas@google.com'));
    assert.ok(got.includes('alex.williamson@redhat.com'));
    assert.ok(
      got.length < 15,
      `only the subsystem-wide maintainers, got ${got.length}: ${got.join(', ')}`,
    );
  });
});

describe('job ids', () => {
  it('are deterministic, colon-free, and the same for a re-delivered message', () => {
    const raw = 'Received: x\nMessage-ID:\n <abc@example.com>\nSubject: s\n\nbody\n';
    assert.equal(rawMessageId(raw), 'abc@example.com');
    assert.equal(ingestJobId(raw), ingestJobId('Message-Id: <abc@example.com>\n\nother copy\n'));
    assert.doesNotMatch(ingestJobId(raw), /:/);
    assert.notEqual(ingestJobId('Subject: a\n\nx'), ingestJobId('Subject: b\n\nx'));
  });
});
