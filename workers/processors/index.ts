// The processors, one per queue: each a function of its job and the JobContext.
import type { Job } from 'bullmq';
import type { QueueName } from '../config.js';
import type { JobContext } from '../context.js';
import type {
  AnalyseJob,
  ApplyJob,
  AssembleJob,
  FollowJob,
  GithubJob,
  IngestJob,
  ReportJob,
  SendJob,
  VerifyJob,
} from '../jobs.js';
import { analyse } from './analyse.js';
import { apply } from './apply.js';
import { assemble } from './assemble.js';
import { follow } from './follow.js';
import { github } from './github.js';
import { githubReport } from './github-report.js';
import { ingest } from './ingest.js';
import { report } from './report.js';
import { send } from './send.js';
import { verify } from './verify.js';

/** The job data of each queue. */
export interface JobData {
  follow: FollowJob;
  ingest: IngestJob;
  assemble: AssembleJob;
  apply: ApplyJob;
  analyse: AnalyseJob;
  verify: VerifyJob;
  report: ReportJob;
  send: SendJob;
  github: GithubJob;
  'github-report': ReportJob;
}

export type Processors = {
  [Q in QueueName]: (job: Job<JobData[Q]>, ctx: JobContext, token?: string) => Promise<unknown>;
};

export const processors: Processors = {
  follow,
  ingest,
  assemble,
  apply,
  analyse,
  verify,
  report,
  send,
  github,
  'github-report': githubReport,
};
