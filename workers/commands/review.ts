// `pcibot review`: the whole pipeline in one process, no server.
import { existsSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { runReview, type Progress } from '../pipeline.js';
import { diffsOf, reviewSite } from '../report/html.js';
import { renderJson, resultJson } from '../report/json.js';
import { renderMarkdown, renderTerminal } from '../report/text.js';
import { findThreadInMirror } from '../../bot/lore/find.js';
import { coverMessageId, fetchPr, parsePrRef, prLabel, prMails } from '../../bot/github/pr.js';
import { RequestError, tokenClient } from '../../bot/github/client.js';
import { resolveTree } from '../../bot/tree/kernel.js';
import type { RawMail } from '../../bot/types.js';
import { UsageError, parseCommandArgs, type Command, type CommandIO } from './command.js';
import { EXIT_FINDINGS, EXIT_OK, EXIT_USAGE } from '../../bot/util/exit.js';

const usage = `usage: pcibot review <file.eml | file.mbox | Maildir/ | dir/ | -> ... [options]
       pcibot review --message-id <id> [--mirror DIR] [options]
       pcibot review --github owner/repo#N [--github-api URL] [options]

Reviews the patch series found in the input: assembles series, applies them to a
kernel tree and runs the review rules. Runs in one process; needs no server.

options:
  --tree PATH     kernel git tree to apply to; "auto" prepares Debian's
                  linux-source-6.12 checkout (cached in ~/.cache/pcibot).
                  Default: $PCIBOT_TREE, else the current directory when it is
                  a kernel git tree, else none (mails are reviewed unapplied).
  --branch NAME   branch to apply to when a series has no base-commit the tree
                  knows (repeatable, tried in order; default HEAD)
  --json          print the report as JSON (schema pcibot/review@1, docs/review-json.md)
  --markdown      print the report as Markdown
  --no-color      no colours in the terminal report
  --verbose       the model's before/after in full (every scenario run, the
                  findings' details), not only its table
  --html DIR      also write the report as static pages: DIR/index.html and a
                  page per series with its findings, the model's table and the
                  BAR address maps before and after (no JavaScript, nothing
                  loaded from elsewhere)
  --archive URL   link the pages to the thread in this list archive, e.g.
                  https://lore.kernel.org/linux-pci (default $PCIBOT_ARCHIVE)
  --progress      show the progress line even when stderr is not a terminal
  --verify        also build the kernel of each applied series that changes a
                  file the kernel policy is read from, and boot the bootable
                  scenarios of the library in QEMU (minutes; see pcibot verify):
                  BARs the patched kernel really loses are errors, and the
                  model's findings say whether the boot confirmed them
  --verify auto   boot only when the model needs it: a policy change it did
                  not understand, or an error it predicts the series introduces
                  (otherwise its findings say "model only")
  --scenarios A,B with --verify: only these scenarios (by name)
  --message-id ID review the thread of this message from a local lore mirror
                  (a public-inbox inbox or a pcibot mirror: --mirror DIR, or
                  $PCIBOT_MIRROR); the cover letter and all patches come along
  --github owner/repo#N
                  review a GitHub pull request: its commits, in order, as a
                  series on the first commit's parent (read-only: nothing is
                  posted). The token is $GITHUB_TOKEN (or $GH_TOKEN); public
                  repositories need none
  --github-api URL  the REST API (default $PCIBOT_GITHUB_API_URL, else
                  https://api.github.com; GitHub Enterprise: https://HOST/api/v3)

exit status: 0 no error findings, 1 error findings, 2 bad usage or unreadable input`;

function looksLikeKernelTree(dir: string): boolean {
  return ['MAINTAINERS', 'drivers/pci', '.git'].every((p) => existsSync(join(dir, p)));
}

function progressPrinter(
  io: CommandIO,
  force: boolean,
): { update: (p: Progress) => void; clear: () => void } {
  if (!io.isTTY && !force) return { update: () => {}, clear: () => {} };
  const started = Date.now();
  let drawn = false;
  return {
    update(p) {
      // Only long runs get a progress line; a quick review prints nothing extra.
      if (Date.now() - started < 1000 || p.stage === 'done') return;
      const what = p.what ? `: ${p.what.slice(0, 50)}` : '';
      const line = `pcibot: ${p.stage} ${p.done}${p.total ? `/${p.total}` : ''}${what}`;
      io.stderr(io.isTTY ? `\r\x1b[K${line}` : `${line}\n`);
      drawn = true;
    },
    clear() {
      if (drawn && io.isTTY) io.stderr('\r\x1b[K');
    },
  };
}

const VERIFY_MODES = ['on', 'auto'] as const;

/** `--verify` alone means `on`; `--verify auto` and `--verify=auto` name the mode. */
function verifyArgs(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (a !== '--verify') out.push(a);
    else if ((VERIFY_MODES as readonly string[]).includes(argv[i + 1] ?? '')) {
      out.push(`--verify=${argv[i + 1]}`);
      i++;
    } else out.push('--verify=on');
  }
  return out;
}

async function run(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommandArgs(verifyArgs(argv), {
    tree: { type: 'string' },
    branch: { type: 'string', multiple: true },
    json: { type: 'boolean', default: false },
    markdown: { type: 'boolean', default: false },
    'no-color': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    html: { type: 'string' },
    archive: { type: 'string' },
    progress: { type: 'boolean', default: false },
    'message-id': { type: 'string' },
    verify: { type: 'string' },
    scenarios: { type: 'string' },
    mirror: { type: 'string' },
    github: { type: 'string' },
    'github-api': { type: 'string' },
  });
  const { values, positionals } = parsed;
  if (positionals.length === 0 && !values['message-id'] && !values.github)
    throw new UsageError(
      'no input given (a mail, mbox, Maildir, directory, -, --message-id or --github)',
    );
  if (values.json && values.markdown)
    throw new UsageError('--json and --markdown exclude each other');
  const inputs = positionals.map((p) => (p === '-' ? p : resolve(io.cwd, p)));
  for (const input of inputs) {
    if (input !== '-' && !existsSync(input)) {
      io.stderr(`pcibot review: ${input}: no such file or directory\n`);
      return EXIT_USAGE;
    }
  }

  let mails: RawMail[] = [];
  if (values['message-id']) {
    const mirror = values.mirror ?? io.env.PCIBOT_MIRROR;
    if (!mirror)
      throw new UsageError('--message-id needs a lore mirror: --mirror DIR or $PCIBOT_MIRROR');
    const dir = resolve(io.cwd, mirror);
    if (!existsSync(dir)) {
      io.stderr(`pcibot review: mirror ${dir}: no such directory\n`);
      return EXIT_USAGE;
    }
    mails = await findThreadInMirror(dir, values['message-id'], {
      onProblem: (text) => io.stderr(`pcibot review: mirror ${dir}: ${text}\n`),
    });
    if (mails.length === 0) {
      io.stderr(
        `pcibot review: <${values['message-id'].replace(/^<|>$/g, '')}> is not in the mirror ${dir}\n`,
      );
      return EXIT_USAGE;
    }
  }

  /** A PR's cover letter -> the PR's page, linked from its report page. */
  const pullRequests = new Map<string, string>();
  if (values.github !== undefined) {
    const ref = parsePrRef(values.github);
    if (!ref) throw new UsageError('--github: expected owner/repo#N (or the pull request URL)');
    const api = values['github-api'] ?? io.env.PCIBOT_GITHUB_API_URL ?? 'https://api.github.com';
    if (!/^https?:\/\/\S+$/.test(api))
      throw new UsageError('--github-api: expected an http(s) URL');
    const octokit = tokenClient(io.env.GITHUB_TOKEN || io.env.GH_TOKEN || null, {
      baseUrl: api,
      log: (line) => io.stderr(`pcibot review: ${line}\n`),
    });
    try {
      const fetched = await fetchPr(octokit, ref);
      mails = [...mails, ...prMails(fetched)];
      pullRequests.set(coverMessageId(fetched.pr, fetched.pr.headSha), fetched.pr.htmlUrl);
    } catch (err) {
      const why =
        err instanceof RequestError ? `${err.status} ${err.message}` : (err as Error).message;
      io.stderr(`pcibot review: ${prLabel(ref)}: ${why}\n`);
      return EXIT_USAGE;
    }
  }

  let tree: string | null = null;
  const spec = values.tree ?? io.env.PCIBOT_TREE;
  if (spec) {
    try {
      tree = await resolveTree(spec, io.env, { log: (line) => io.stderr(`${line}\n`) });
    } catch (err) {
      io.stderr(`pcibot review: ${(err as Error).message}\n`);
      return EXIT_USAGE;
    }
  } else if (looksLikeKernelTree(io.cwd) && statSync(io.cwd).isDirectory()) {
    tree = io.cwd;
  }

  const htmlDir = values.html !== undefined ? resolve(io.cwd, values.html) : null;
  const archive = values.archive ?? io.env.PCIBOT_ARCHIVE ?? null;
  if (archive !== null && !/^https?:\/\//.test(archive))
    throw new UsageError('--archive: expected an http(s) URL');
  const pages: Parameters<typeof reviewSite>[0] = [];
  const progress = progressPrinter(io, values.progress);
  if (values.scenarios && !values.verify) throw new UsageError('--scenarios goes with --verify');
  const mode = values.verify;
  if (mode !== undefined && !(VERIFY_MODES as readonly string[]).includes(mode))
    throw new UsageError(
      `--verify takes no value or one of ${VERIFY_MODES.join(', ')}, not "${mode}"`,
    );
  const verify = mode
    ? {
        mode: mode === 'auto' ? ('auto' as const) : ('on' as const),
        ...(values.scenarios ? { only: values.scenarios.split(',').map((x) => x.trim()) } : {}),
        ...(values.progress ? { log: (line: string) => io.stderr(`${line}\n`) } : {}),
      }
    : undefined;
  const report = await runReview({
    inputs,
    mails,
    verify,
    tree,
    branches: values.branch,
    stdin: io.stdin,
    onProgress: progress.update,
    ...(htmlDir
      ? {
          onResult: (series, result) => {
            const messages = [...series.patches, ...(series.cover ? [series.cover] : [])];
            pages.push({ result, diffs: diffsOf(result, messages), json: resultJson(result) });
          },
        }
      : {}),
  });
  progress.clear();

  if (htmlDir) {
    // Skipped series have no review to show, but are listed.
    for (const s of report.series)
      if (!pages.some((p) => p.result === s)) pages.push({ result: s, json: resultJson(s) });
    await mkdir(htmlDir, { recursive: true });
    for (const [file, text] of reviewSite(pages, { archiveBase: archive, pullRequests })) {
      await mkdir(dirname(join(htmlDir, file)), { recursive: true });
      await writeFile(join(htmlDir, file), text);
    }
    io.stderr(`pcibot review: pages written to ${join(htmlDir, 'index.html')}\n`);
  }

  if (values.json) io.stdout(renderJson(report));
  else if (values.markdown) io.stdout(renderMarkdown(report));
  else
    io.stdout(
      renderTerminal(report, {
        color: io.stdoutIsTTY && !values['no-color'] && !io.env.NO_COLOR,
        verbose: values.verbose,
      }),
    );

  if (report.summary.messages === 0 || report.summary.failed === report.summary.messages)
    return EXIT_USAGE;
  return report.summary.findings.error > 0 ? EXIT_FINDINGS : EXIT_OK;
}

const review: Command = {
  name: 'review',
  summary: 'review patch mails against a kernel tree, in one process',
  usage,
  run,
};
export default review;
