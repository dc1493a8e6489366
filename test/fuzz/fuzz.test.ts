// The fuzz targets on a small, deterministic budget (seconds): every target,
// a fixed seed, no crash allowed. `npm run fuzz` runs 100,000 inputs each.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatResult, fuzzTarget } from './harness.js';
import { TARGETS } from './targets.js';

const RUNS = Number(process.env.PCIBOT_FUZZ_TEST_RUNS ?? 300);
const SEED = 20250106;

describe('fuzz (small budget)', () => {
  for (const target of TARGETS) {
    it(`${target.name}: ${RUNS} inputs, no crash (${target.what})`, async () => {
      const r = await fuzzTarget(target, { runs: RUNS, seed: SEED });
      assert.equal(r.inputs, RUNS, formatResult(r));
      assert.equal(r.crashes, 0, `${formatResult(r)}\nsmallest crash: ${JSON.stringify(r.crash)}`);
    });
  }

  it('counts a crash as a crash, and an InputError as a deliberate refusal', async () => {
    const fc = (await import('fast-check')).default;
    const { InputError } = await import('../../bot/limits.js');
    const r = await fuzzTarget(
      {
        name: 'probe',
        what: 'throws on odd numbers, refuses multiples of 4',
        input: fc.integer({ min: 0, max: 1000 }),
        size: () => 1,
        run: (n: number) => {
          if (n % 4 === 0) throw new InputError('refused');
          if (n % 2 === 1) throw new TypeError('boom');
          return n;
        },
      },
      { runs: 200, seed: 1 },
    );
    assert.equal(r.inputs, 200);
    assert.ok(r.crashes > 0 && r.refused > 0 && r.crashes + r.refused < 200, formatResult(r));
    assert.match(r.crash!.error, /TypeError: boom/);
  });
});
