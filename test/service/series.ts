// Fixture mails for the service tests: a 3-patch PCI series (plus cover
// letter) whose patches are made with real git edits on the fixture kernel
// tree, so they apply to it, and whose patches 1 and 3 raise findings of the
// rules in rules/ (a new boot parameter; Cc: stable on an "Add ..." patch)
// while patch 2 raises none. Plus list noise: an out-of-scope net patch, a
// reply to it, a question.
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildFixtureTree } from '../../fixtures/kernel-tree/build.js';
import { mail } from './helpers.js';

const exec = promisify(execFile);
const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Ann Author',
  GIT_AUTHOR_EMAIL: 'ann@example.com',
  GIT_COMMITTER_NAME: 'Ann Author',
  GIT_COMMITTER_EMAIL: 'ann@example.com',
  GIT_AUTHOR_DATE: '2025-01-06T10:00:00Z',
  GIT_COMMITTER_DATE: '2025-01-06T10:00:00Z',
};

async function git(dir: string, ...args: string[]): Promise<string> {
  return (await exec('git', ['-C', dir, ...args], { env: gitEnv, maxBuffer: 64 << 20 })).stdout;
}

interface Edit {
  file: string;
  change: (text: string) => string;
}

async function diffOf(work: string, edit: Edit, msg: string): Promise<string> {
  const path = join(work, edit.file);
  const before = await readFile(path, 'utf8');
  const after = edit.change(before);
  if (after === before)
    throw new Error(`fixture edit of ${edit.file} changed nothing (fixture tree changed?)`);
  await writeFile(path, after);
  await git(work, 'commit', '-q', '-a', '-m', msg);
  return git(work, 'diff', '--stat=72', '-p', 'HEAD~1', 'HEAD');
}

const replaceOnce = (from: string, to: string) => (t: string) => {
  if (!t.includes(from)) throw new Error(`fixture anchor not found: ${JSON.stringify(from)}`);
  return t.replace(from, to);
};

export interface FixtureSeries {
  tree: string;
  commit: string;
  /** cover, patch 1..3 (as raw mails, in posting order). */
  series: string[];
  ids: { cover: string; patches: string[] };
  noise: string[];
  /** A reply of `from` to patch `index` whose first line is `command`. */
  reply(from: string, index: number, command: string, messageId: string): string;
  /** A v2 of the series in which patch 1 no longer adds the parameter (its finding is fixed). */
  v2(): Promise<{ series: string[]; ids: { cover: string; patches: string[] } }>;
}

const TAG = 'pcibot-e2e';

/** An RFC 5322 date, `offsetSec` after `base`. */
export const mailDate = (base: number, offsetSec = 0): string =>
  new Date(base + offsetSec * 1000).toUTCString().replace(/GMT$/, '+0000');

/**
 * `opts.sentAt` (ms): when the series was posted (default: three hours ago,
 * so that it is recent for the service's age limits, and its replies and v2
 * come later but not in the future).
 */
export async function buildFixtureSeries(
  dir: string,
  opts: { tag?: string; sentAt?: number } = {},
): Promise<FixtureSeries> {
  const tag = opts.tag ?? TAG;
  const t0 = opts.sentAt ?? Date.now() - 3 * 3600_000;
  const tree = join(dir, 'tree');
  const work = join(dir, 'work');
  const { commit } = await buildFixtureTree(tree);
  await mkdir(work, { recursive: true });
  await exec('git', ['clone', '-q', tree, work]);

  const subjects = [
    'PCI: Add pci_foo_align= to align small BARs',
    'PCI: Terminate the root bridge scan error message with a newline',
    // A feature with Cc: stable (a quirk would be stable material: stable-kernel-rules).
    'PCI: Add an ACS isolation hook for the Example 1234 switch',
  ];
  const bodies = [
    'Small BARs share pages with their neighbours, which keeps them from being\npassed through safely. Let the user ask for a larger alignment.\n\nSigned-off-by: Ann Author <ann@example.com>\n',
    'dev_err() wants a trailing newline; without it the next message is\nappended to this one in the log.\n\nSigned-off-by: Ann Author <ann@example.com>\n',
    'The Example 1234 downstream ports isolate their functions although they\ndo not advertise ACS. Add a hook that tells the ACS code so.\n\nCc: stable@vger.kernel.org\nSigned-off-by: Ann Author <ann@example.com>\n',
  ];
  const edits: Edit[] = [
    {
      file: 'drivers/pci/pci.c',
      change: replaceOnce(
        'early_param("pci", pci_setup);\n',
        'early_param("pci", pci_setup);\n\nstatic unsigned long pci_foo_align;\n\nstatic int __init pci_foo_align_setup(char *str)\n{\n\tpci_foo_align = simple_strtoul(str, NULL, 0);\n\treturn 1;\n}\n__setup("pci_foo_align=", pci_foo_align_setup);\n',
      ),
    },
    {
      file: 'drivers/pci/probe.c',
      change: replaceOnce('"Scanning root bridge failed")', '"Scanning root bridge failed\\n")'),
    },
    {
      file: 'drivers/pci/quirks.c',
      change: (t) =>
        t.replace(/\n*$/, '\n') +
        '\nstatic int pci_quirk_example_acs(struct pci_dev *dev, u16 acs_flags)\n{\n\treturn pci_acs_ctrl_enabled(acs_flags, PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF);\n}\n',
    },
  ];
  const diffs: string[] = [];
  for (const [i, e] of edits.entries()) diffs.push(await diffOf(work, e, subjects[i]!));

  const ids = {
    cover: `cover.1736157600.${tag}@example.com`,
    patches: [1, 2, 3].map((i) => `${i}-v1.${tag}@example.com`),
  };
  const cc = ['PCI Maintainer <pci-maintainer@example.org>', 'Rev Iewer <reviewer@example.net>'];
  const from = 'Ann Author <ann@example.com>';
  const series = [
    mail({
      from,
      cc,
      subject: '[PATCH 0/3] PCI: Small BAR alignment and an ACS quirk',
      messageId: ids.cover,
      date: mailDate(t0),
      body:
        'Three small PCI changes.\n\nAnn Author (3):\n  ' +
        subjects.join('\n  ') +
        '\n\n--\n2.39.5\n',
    }),
    ...diffs.map((d, i) =>
      mail({
        from,
        cc,
        subject: `[PATCH ${i + 1}/3] ${subjects[i]}`,
        messageId: ids.patches[i]!,
        inReplyTo: ids.cover,
        references: [ids.cover],
        date: mailDate(t0, i + 1),
        body: `${bodies[i]}---\n${d.replace(/^ /, ' ')}--\n2.39.5\n`,
      }),
    ),
  ];

  // Noise: an out-of-scope patch, a reply to it, a question.
  const netWork = join(dir, 'net');
  await exec('git', ['clone', '-q', tree, netWork]);
  const netDiff = await diffOf(
    netWork,
    {
      file: 'net/core/dev.c',
      change: replaceOnce('isspace(*name))', "isspace(*name) || *name == '\\t')"),
    },
    'net: reject tabs',
  );
  const noise = [
    mail({
      from: 'Ned Net <ned@example.com>',
      to: ['netdev@vger.kernel.org', 'linux-pci@vger.kernel.org'],
      subject: '[PATCH net-next] net: core: Reject interface names with a tab',
      messageId: `net-1.${tag}@example.com`,
      body: `Tabs in interface names confuse tools.\n\nSigned-off-by: Ned Net <ned@example.com>\n---\n${netDiff}--\n2.39.5\n`,
    }),
    mail({
      from: 'Rev Iewer <reviewer@example.net>',
      subject: 'Re: [PATCH net-next] net: core: Reject interface names with a tab',
      messageId: `net-1-re.${tag}@example.net`,
      inReplyTo: `net-1.${tag}@example.com`,
      references: [`net-1.${tag}@example.com`],
      body: 'On Mon, Ned Net wrote:\n> Tabs in interface names confuse tools.\n\nLooks fine to me.\n',
    }),
    mail({
      from: 'Curious User <user@example.org>',
      subject: 'ASPM question on a laptop',
      messageId: `q-1.${tag}@example.org`,
      body: 'Hi,\n\nwhy does my laptop disable ASPM on the NVMe port?\n\nThanks\n',
    }),
  ];

  const reply = (fromAddr: string, index: number, command: string, messageId: string) => {
    const target = index === 0 ? ids.cover : ids.patches[index - 1]!;
    return mail({
      from: fromAddr,
      subject: `Re: [PATCH ${index}/3] ${index === 0 ? 'PCI: Small BAR alignment and an ACS quirk' : subjects[index - 1]}`,
      messageId,
      inReplyTo: target,
      references: [ids.cover, ...(index === 0 ? [] : [target])],
      date: mailDate(Math.min(Date.now(), t0 + 3600_000)),
      body: `${command}\n\nOn Mon, 6 Jan 2025, Ann Author wrote:\n> ${subjects[Math.max(0, index - 1)]}\n`,
    });
  };

  let v2Made: ReturnType<FixtureSeries['v2']> | null = null;
  const makeV2 = async () => {
    // v2 drops the parameter from patch 1 (align automatically instead) and keeps the rest.
    const w2 = join(dir, 'work-v2');
    await exec('git', ['clone', '-q', tree, w2]);
    const d1 = await diffOf(
      w2,
      {
        file: 'drivers/pci/pci.c',
        change: replaceOnce(
          'early_param("pci", pci_setup);\n',
          'early_param("pci", pci_setup);\n\n/* Small BARs are aligned to a page by default. */\n',
        ),
      },
      'PCI: Align small BARs to a page',
    );
    const d2 = await diffOf(w2, edits[1]!, subjects[1]!);
    const d3 = await diffOf(w2, edits[2]!, subjects[2]!);
    const ids2 = {
      cover: `cover-v2.${tag}@example.com`,
      patches: [1, 2, 3].map((i) => `${i}-v2.${tag}@example.com`),
    };
    const subj2 = ['PCI: Align small BARs to a page', subjects[1]!, subjects[2]!];
    const bodies2 = [
      'Align small BARs to a page so they can be passed through.\n\nSigned-off-by: Ann Author <ann@example.com>\n',
      bodies[1]!,
      bodies[2]!,
    ];
    return {
      ids: ids2,
      series: [
        mail({
          from,
          cc,
          subject: '[PATCH v2 0/3] PCI: Small BAR alignment and an ACS quirk',
          messageId: ids2.cover,
          date: mailDate(t0, 1800),
          body: 'v2: no new parameter.\n',
        }),
        ...[d1, d2, d3].map((d, i) =>
          mail({
            from,
            cc,
            subject: `[PATCH v2 ${i + 1}/3] ${subj2[i]}`,
            messageId: ids2.patches[i]!,
            inReplyTo: ids2.cover,
            references: [ids2.cover],
            date: mailDate(t0, 1800 + i + 1),
            body: `${bodies2[i]}---\n${d}--\n2.39.5\n`,
          }),
        ),
      ],
    };
  };

  const v2 = () => (v2Made ??= makeV2());
  return { tree, commit, series, ids, noise, reply, v2 };
}
