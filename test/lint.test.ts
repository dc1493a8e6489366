// The import direction (LAYERS in eslint.config.js, pictured in DESIGN.md) is
// part of the test suite, so CI, which runs exactly `npm test`, enforces it:
// the whole tree lints clean, the rule really refuses an upward import, and
// the top-level folders import each other in one direction only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { repoRoot } from '../bot/util/paths.js';

const eslint = join(repoRoot, 'node_modules', '.bin', 'eslint');

interface LintMessage {
  ruleId: string | null;
  message: string;
  line: number;
}
interface LintResult {
  filePath: string;
  messages: LintMessage[];
}

function lint(args: string[], input?: string): LintResult[] {
  const r = spawnSync(eslint, ['--format', 'json', ...args], {
    cwd: repoRoot,
    input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.ok(r.stdout, `eslint printed nothing (exit ${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as LintResult[];
}

test('the whole tree passes eslint, import direction included', () => {
  const problems = lint(['.']).flatMap((f) =>
    f.messages.map((m) => `${f.filePath}:${m.line} ${m.ruleId}: ${m.message}`),
  );
  assert.deepEqual(problems, []);
});

test('an upward import is refused: mail may not import series, rules may not import workers', () => {
  for (const [file, source, layer] of [
    ['bot/mail/probe.ts', "import { assembleSeries } from '../series/assemble.js';", 'bot/mail'],
    ['rules/probe.ts', "import { runReview } from '../workers/pipeline.js';", 'rules'],
    ['bot/tree/probe.ts', "import { allRules } from '../../rules/index.js';", 'bot/tree'],
    [
      'bot/github/probe.ts',
      "import { reviewResult } from '../../workers/report/result.js';",
      'bot/github',
    ],
    ['workers/report/probe.ts', "import { startHttp } from '../serve/http.js';", 'workers/report'],
  ] as const) {
    const [r] = lint(['--stdin', '--stdin-filename', file], `${source}\nexport const x = 1;\n`);
    const refused = r!.messages.filter((m) => m.ruleId === 'import-x/no-restricted-paths');
    assert.equal(refused.length, 1, `${file}: ${JSON.stringify(r!.messages)}`);
    assert.match(refused[0]!.message, new RegExp(`${layer} is in layer`));
  }
  // A downward import is fine.
  const [ok] = lint(
    ['--stdin', '--stdin-filename', 'bot/series/probe.ts'],
    "import { parseMail } from '../mail/parse.js';\nexport const x = parseMail;\n",
  );
  assert.deepEqual(ok!.messages, []);
});

test("parse-diff's parser is refused in production code; its types are not", () => {
  const [value] = lint(
    ['--stdin', '--stdin-filename', 'workers/report/probe.ts'],
    "import parseDiff from 'parse-diff';\nexport const x = parseDiff('');\n",
  );
  assert.deepEqual(
    value!.messages.map((m) => m.ruleId),
    ['@typescript-eslint/no-restricted-imports'],
  );
  assert.match(value!.messages[0]!.message, /parseUnifiedDiff/);
  const [types] = lint(
    ['--stdin', '--stdin-filename', 'rules/probe.ts'],
    "import type { File } from 'parse-diff';\nexport type X = File;\n",
  );
  assert.deepEqual(types!.messages, []);
});

test('the program is compiled without the DOM library (in-page code types its globals locally)', () => {
  const tsconfig = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.json'), 'utf8')) as {
    compilerOptions: { lib?: string[] };
  };
  assert.ok(!(tsconfig.compilerOptions.lib ?? []).some((l) => /^dom/i.test(l)), 'lib has no DOM');
  const files = spawnSync('git', ['ls-files', '-co', '--exclude-standard', '*.ts'], {
    cwd: repoRoot,
    encoding: 'utf8',
  }).stdout.split('\n');
  const leaking = files.filter(
    (f) =>
      f && /^\/\/\/\s*<reference\s+lib=["']dom/im.test(readFileSync(join(repoRoot, f), 'utf8')),
  );
  assert.deepEqual(leaking, [], 'a `/// <reference lib="dom" />` brings the DOM to every file');
});

test('no import cycle between the top-level folders (bot <- rules <- workers)', () => {
  const files = spawnSync('git', ['ls-files', '-co', '--exclude-standard', '*.ts'], {
    cwd: repoRoot,
    encoding: 'utf8',
  })
    .stdout.split('\n')
    .filter((f) => /^(bot|rules|workers|fixtures|scripts)\//.test(f));
  assert.ok(files.length > 100, `only ${files.length} sources found`);
  const edges = new Map<string, Set<string>>();
  const top = (p: string) => p.split('/')[0]!;
  for (const f of files) {
    const src = readFileSync(join(repoRoot, f), 'utf8');
    for (const m of src.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const target = relative(repoRoot, resolve(repoRoot, dirname(f), m[1]!));
      if (top(target) === top(f)) continue;
      if (!edges.has(top(f))) edges.set(top(f), new Set());
      edges.get(top(f))!.add(top(target));
    }
  }
  assert.ok(edges.get('workers')?.has('bot'), 'the scan sees imports (workers -> bot)');
  // Depth-first search for a cycle in the folder graph.
  const cycles: string[] = [];
  const visit = (node: string, path: string[]) => {
    if (path.includes(node)) {
      cycles.push([...path.slice(path.indexOf(node)), node].join(' -> '));
      return;
    }
    for (const next of edges.get(node) ?? []) visit(next, [...path, node]);
  };
  for (const node of edges.keys()) visit(node, []);
  assert.deepEqual(
    cycles,
    [],
    `folder edges: ${JSON.stringify([...edges].map(([a, b]) => [a, [...b]]))}`,
  );
});
