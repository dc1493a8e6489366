// The DKIM check of maintainer commands (bot/triggers/dkim.ts) with mailauth
// and keys made here, their DNS records answered by an injected resolver (no
// network): a signature counts as the sender's only when it passes and its
// domain is aligned with the From domain; any other domain's valid signature
// is "unaligned", which triggers.requireDkim refuses.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { dkimSign } from 'mailauth';
import { checkDkim, type DnsResolver } from '../../bot/triggers/dkim.js';
import { mail } from './helpers.js';

const key = () => {
  const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey: k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicB64: k.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
};

describe('DKIM of a command', () => {
  const keys = new Map([
    ['sel1._domainkey.example.org', key()],
    ['sel1._domainkey.lists.example.org', key()],
    ['sel1._domainkey.other.example.net', key()],
  ]);
  const resolver: DnsResolver = async (name, rrtype) => {
    const k = keys.get(name);
    if (rrtype === 'TXT' && k) return [[`v=DKIM1; k=rsa; p=${k.publicB64}`]];
    throw Object.assign(new Error(`no ${rrtype} record for ${name}`), { code: 'ENOTFOUND' });
  };
  const text = mail({
    from: 'PCI Maintainer <pci-maintainer@example.org>',
    subject: 'Re: [PATCH 0/3] PCI: Small BAR alignment',
    messageId: 'dkim-cmd@example.org',
    inReplyTo: 'cover@example.com',
    references: ['cover@example.com'],
    date: new Date().toUTCString(),
    body: 'pcibot: review\n',
  });
  const signed = async (domain: string) => {
    const k = {
      signingDomain: domain,
      selector: 'sel1',
      privateKey: keys.get(`sel1._domainkey.${domain}`)!.privateKey,
    };
    // signTime fixed: mailauth reads the clock twice otherwise (see triggers.test.ts).
    const { signatures, errors } = await dkimSign(text, {
      ...k,
      signTime: new Date(),
      signatureData: [k],
    });
    assert.deepEqual(errors, []);
    return Buffer.from(signatures + text);
  };

  it('passes a signature of the From domain or a subdomain of it (the DMARC sense)', async () => {
    const own = await checkDkim(await signed('example.org'), { resolver });
    assert.equal(own.result, 'pass', own.detail);
    assert.equal(own.domain, 'example.org');
    const sub = await checkDkim(await signed('lists.example.org'), { resolver });
    assert.equal(sub.result, 'pass', sub.detail);
  });

  it("calls another domain's valid signature unaligned, and a tampered or missing one no pass", async () => {
    const other = await checkDkim(await signed('other.example.net'), { resolver });
    assert.equal(other.result, 'unaligned', other.detail);
    assert.equal(other.domain, 'other.example.net');
    assert.match(other.detail, /not aligned with From/);
    const tampered = (await signed('example.org'))
      .toString()
      .replace('pcibot: review', 'pcibot: quiet');
    const bad = await checkDkim(Buffer.from(tampered), { resolver });
    assert.notEqual(bad.result, 'pass', bad.detail);
    assert.match(bad.detail, /^example\.org: (fail|neutral) \(body hash did not verify\)$/);
    const none = await checkDkim(Buffer.from(text), { resolver });
    assert.equal(none.result, 'none', none.detail);
    assert.match(none.detail, /not signed|no DKIM signature/);
  });
});
