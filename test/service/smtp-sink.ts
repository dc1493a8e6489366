// A real SMTP server (smtp-server) for the service tests, run as a child
// process: `node smtp-sink.js --serve <dir>` listens on a free loopback port,
// prints "PORT <n>", and stores each accepted message as <n>.eml plus
// <n>.json (envelope). Without --serve (e.g. when node --test picks this file
// up) it does nothing.
//
// Faults on demand, for the fault test: a file `<dir>/stall` containing
// "rcpt" makes the next session hang at RCPT TO (the message is never
// stored), "data" makes it store the message and then never answer the DATA
// (the server has it; the client cannot know). The file is consumed, and
// `<dir>/stalled-<kind>-<n>.marker` says it happened.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';

const at = process.argv.indexOf('--serve');
if (at >= 0) {
  const dir = process.argv[at + 1]!;
  mkdirSync(dir, { recursive: true });
  let n = 0;
  let stalls = 0;
  /** Whether the control file asks for this kind of stall now (then it is used up). */
  const takeStall = (kind: 'rcpt' | 'data'): boolean => {
    const f = join(dir, 'stall');
    if (!existsSync(f) || readFileSync(f, 'utf8').trim() !== kind) return false;
    renameSync(f, join(dir, `stall.used-${++stalls}`));
    writeFileSync(join(dir, `stalled-${kind}-${stalls}.marker`), '');
    return true;
  };
  const server = new SMTPServer({
    authOptional: true,
    // No reverse DNS of the client: without network it stalls every connection.
    disableReverseLookup: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(_address, _session, callback) {
      if (takeStall('rcpt')) return; // never answered
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const id = String(++n).padStart(5, '0') + '-' + process.pid;
        writeFileSync(join(dir, `${id}.eml`), Buffer.concat(chunks));
        writeFileSync(
          join(dir, `${id}.json`),
          JSON.stringify({
            from: session.envelope.mailFrom && session.envelope.mailFrom.address,
            to: session.envelope.rcptTo.map((r) => r.address),
          }),
        );
        if (takeStall('data')) return; // stored, never answered
        callback();
      });
    },
  });
  server.listen(0, '127.0.0.1', () => {
    const addr = server.server.address();
    process.stdout.write(`PORT ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
