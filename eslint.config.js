// Lint config: typescript-eslint's recommended rules over the TypeScript sources,
// and the import direction between pcibot's folders (DESIGN.md, "Layout").
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

const root = dirname(fileURLToPath(import.meta.url));

// The layers of production code, lowest first. Each entry (a folder or a
// file) may import itself and the entries of lower layers: not another entry
// of its own layer (unless the layer says `open`: the workers core is one
// unit), not a higher layer. The domain (b) is split into tiers so its folders
// stay acyclic; report sits above analyse, and at the top the commands sit
// above workers/serve and below workers/cli.ts. The top-level folders follow
// the same order, bot/ <- rules/ <- workers/, so no folder cycle exists between
// them. fixtures/, scripts/, test/ and test-slow/ are outside the layers: they
// may import anything, and production code may import none of them.
const LAYERS = [
  { layer: '(a) base', paths: ['bot/util', 'bot/types.ts', 'bot/limits.ts'] },
  {
    layer: '(b) domain, tier 1',
    paths: ['bot/mail', 'bot/kernel/vocabulary.ts', 'bot/kernel/c', 'bot/outbound', 'bot/triggers'],
  },
  {
    layer: '(b) domain, tier 2',
    // bot/github: the GitHub edge (API clients, a PR as patch mails, webhook events); an
    // input like bot/ingest, it reads diffs with bot/mail and nothing of the other tiers.
    paths: ['bot/ingest', 'bot/series', 'bot/tree', 'bot/kernel/model', 'bot/github'],
  },
  { layer: '(b) domain, tier 3', paths: ['bot/lore', 'bot/kernel/policy'] },
  { layer: '(b) domain, tier 4', paths: ['bot/verify'] },
  { layer: '(c) rules', paths: ['rules'] },
  { layer: '(d) analyse', paths: ['workers/analyse'] },
  { layer: '(d) report', paths: ['workers/report'] },
  {
    layer: '(e) workers',
    open: true,
    paths: [
      'workers/config.ts',
      'workers/context.ts',
      'workers/github.ts',
      'workers/jobs.ts',
      'workers/pipeline.ts',
      'workers/processors',
      'workers/queues.ts',
      'workers/reviews.ts',
      'workers/service.ts',
      'workers/state.ts',
    ],
  },
  { layer: '(f) serve', paths: ['workers/serve'] },
  { layer: '(f) commands', paths: ['workers/commands'] },
  { layer: '(f) CLI', paths: ['workers/cli.ts'] },
];
const NOT_PRODUCTION = ['fixtures', 'scripts', 'test', 'test-slow'];
// The one production import of fixtures/: `pcibot rules stats` builds the
// fixture kernel tree the quiet corpus is written against (its default --tree).
const FIXTURE_EXCEPTIONS = { 'workers/commands': ['./kernel-tree'] };

// Every folder and file under bot/, bot/kernel/ and workers/ must be in a
// layer, so a new one cannot slip past the rule by not being listed.
const placed = LAYERS.flatMap((l) => l.paths);
for (const dir of ['bot', 'bot/kernel', 'workers']) {
  for (const entry of readdirSync(join(root, dir))) {
    const p = `${dir}/${entry}`;
    if (p === 'bot/kernel' || placed.includes(p)) continue;
    throw new Error(`eslint.config.js: ${p} is in no layer: add it to LAYERS (see DESIGN.md)`);
  }
}

const zones = LAYERS.flatMap(({ layer, paths, open }, i) =>
  paths.flatMap((target) => {
    const above = LAYERS.slice(i + 1).flatMap((l) => l.paths);
    const siblings = open ? [] : paths.filter((p) => p !== target);
    const message =
      `${target} is in layer ${layer} and may import only itself and lower layers ` +
      '(LAYERS in eslint.config.js; DESIGN.md, "Layout").';
    const from = [...above, ...siblings];
    return [
      ...(from.length ? [{ target, from, message }] : []),
      ...NOT_PRODUCTION.map((from) => ({
        target,
        from,
        ...(from === 'fixtures' && FIXTURE_EXCEPTIONS[target]
          ? { except: FIXTURE_EXCEPTIONS[target] }
          : {}),
        message: `production code (${target}) must not import ${from}/.`,
      })),
    ];
  }),
);

export default tseslint.config(
  { ignores: ['dist/**', 'dist-*/**', 'node_modules/**', 'fixtures/**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Plain Node scripts (not compiled by tsc).
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-control-regex': 'off',
    },
  },
  {
    // Import direction. The resolver maps the `.js` specifiers of TypeScript
    // ESM to the `.ts` sources; no-unresolved makes sure it sees every
    // relative import (an import it cannot resolve would escape the zones).
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [
        createNodeResolver({
          extensions: ['.ts', '.js', '.mjs', '.json', '.node'],
          extensionAlias: { '.js': ['.ts', '.js'] },
        }),
      ],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: root, zones }],
      'import-x/no-unresolved': ['error', { ignore: ['^node:'] }],
    },
  },
  {
    // One diff reader in production: parse-diff's shapes (types) are the
    // rules' vocabulary, but its parser is quadratic on a long header line and
    // throws on a stray `\ No newline` marker; bot/mail/diffparse.ts is the
    // port every reader calls. Tests and the fuzzer compare against the real one.
    files: ['bot/**/*.ts', 'rules/**/*.ts', 'workers/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'parse-diff',
              allowTypeImports: true,
              message:
                "parse-diff's parser is not for production code: call parseUnifiedDiff() (bot/mail/diffparse.ts).",
            },
          ],
        },
      ],
    },
  },
);
