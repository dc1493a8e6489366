// For scripts/bench.ts: how long the first stages take on one mbox.
// Not used by the pipeline itself.
import { performance } from 'node:perf_hooks';
import { readInputs } from '../ingest/read.js';
import { assembleSeries } from '../series/assemble.js';
import { scopeSeries } from '../series/scope.js';
import type { Message, ParseFailure } from '../types.js';
import { isParseFailure, parseMail } from './parse.js';

export interface ParseBench {
  messages: number;
  failures: number;
  series: number;
  bytes: number;
  /** Milliseconds per stage. */
  readMs: number;
  parseMs: number;
  assembleMs: number;
  scopeMs: number;
}

export async function benchParse(mboxPath: string): Promise<ParseBench> {
  const t0 = performance.now();
  const read = await readInputs([mboxPath]);
  const t1 = performance.now();
  const messages: Message[] = [];
  const failures: ParseFailure[] = [...read.failures];
  for (const raw of read.mails) {
    const m = await parseMail(raw);
    if (isParseFailure(m)) failures.push(m);
    else messages.push(m);
  }
  const t2 = performance.now();
  const assembly = assembleSeries(messages, failures);
  const t3 = performance.now();
  for (const s of assembly.series) scopeSeries(s);
  const t4 = performance.now();
  return {
    messages: messages.length,
    failures: failures.length,
    series: assembly.series.length,
    bytes: read.mails.reduce((n, m) => n + m.raw.length, 0),
    readMs: Math.round(t1 - t0),
    parseMs: Math.round(t2 - t1),
    assembleMs: Math.round(t3 - t2),
    scopeMs: Math.round(t4 - t3),
  };
}
