// The JSON sink: the report (`pcibot review --json`, schema pcibot/review@1,
// docs/review-json.md) and one ReviewResult, as JSON text. Results are built
// with a fixed key order and hold nothing volatile, so the same series gives
// the same bytes in `pcibot review` and in the service.
import type { ReviewReport, ReviewResult } from './types.js';

export const renderJson = (report: ReviewReport): string => JSON.stringify(report, null, 2) + '\n';

/**
 * One result's canonical JSON (compact): what the service stores and what
 * `pcibot review --json` holds for the series, byte for byte.
 */
export const resultJson = (result: ReviewResult): string => JSON.stringify(result);
