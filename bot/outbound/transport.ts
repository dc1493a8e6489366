// Where composed replies go: an outbox folder of .eml files (the default, dry
// run), or an SMTP server through nodemailer. The outbox write is atomic
// (temp file + rename), so after a crash the file either exists or not and the
// ledger can tell which; SMTP cannot be asked afterwards, see ./deliver.ts.
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';

export interface Transport {
  kind: 'outbox' | 'smtp';
  /** Deliver one message; resolves once the server (or the file system) has it. */
  send(replyKey: string, eml: string, envelope: { from: string; to: string[] }): Promise<string>;
  /** Whether a message was delivered, when the transport can tell (outbox only). */
  delivered(replyKey: string): Promise<boolean | null>;
  close(): void;
}

export function outboxTransport(dir: string): Transport {
  const file = (k: string) => join(dir, `${k}.eml`);
  return {
    kind: 'outbox',
    async send(replyKey, eml) {
      await mkdir(dir, { recursive: true });
      const tmp = `${file(replyKey)}.${process.pid}.tmp`;
      await writeFile(tmp, eml);
      await rename(tmp, file(replyKey));
      return `written to ${file(replyKey)}`;
    },
    async delivered(replyKey) {
      try {
        await stat(file(replyKey));
        return true;
      } catch {
        return false;
      }
    },
    close() {},
  };
}

export function smtpTransport(smtp: {
  host: string;
  port: number;
  secure: boolean;
  user: string | null;
  pass: string | null;
}): Transport {
  const t = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.pass ?? '' } } : {}),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    kind: 'smtp',
    async send(_replyKey, eml, envelope) {
      const info = await t.sendMail({ envelope, raw: eml });
      return `accepted by ${smtp.host}:${smtp.port}: ${info.response}`;
    },
    async delivered() {
      return null;
    },
    close() {
      t.close();
    },
  };
}

/**
 * Whether an SMTP error proves the message was NOT accepted (the server said
 * no, or we never got to DATA). Anything else (connection lost after DATA) is
 * ambiguous: the mail may have gone out.
 */
export function smtpErrorMeansNotSent(err: unknown): boolean {
  const e = err as { responseCode?: number; command?: string; code?: string };
  if (typeof e.responseCode === 'number' && e.responseCode >= 400) return true;
  const before = [
    'CONN',
    'EHLO',
    'HELO',
    'STARTTLS',
    'AUTH PLAIN',
    'AUTH LOGIN',
    'MAIL FROM',
    'RCPT TO',
  ];
  if (e.command && before.includes(e.command)) return true;
  return e.code === 'ECONNECTION' || e.code === 'ECONNREFUSED' || e.code === 'EDNS';
}
