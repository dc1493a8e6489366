# Writes fixtures/mails/: real `git format-patch` output from the toy tree (test/mail/toytree.ts),
# wrapped into mails with Python stdlib encoders (quopri, base64, email.header) so the
# encodings are made independently of the decoder under test. Usage: see test/mail/FIXTURES.md.
import sys, os, re, random
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from repo import Repo
from mail import *

R = Repo(sys.argv[1])
OUT = sys.argv[2]
os.makedirs(OUT, exist_ok=True)
BASE = R.base

ZOE = 'Zoë Ångström <zoe@example.se>'
ANNA = 'Anna Tester <anna.tester@example.org>'
BEN = 'Ben Reviewer <ben.reviewer@example.com>'
CARL = 'Carl Netdev <carl@example.net>'
DORA = 'Dora Numbering <dora@example.com>'
IVO = 'Ivo Iommu <ivo@example.com>'
MAINT = 'Toy Maintainer <toy@example.org>'
PCI_CC = ['linux-pci@vger.kernel.org', 'Alex Reviewer <alex.reviewer@example.com>', 'kvm@vger.kernel.org', 'linux-kernel@vger.kernel.org']

def write(name, data: bytes):
    open(os.path.join(OUT, name), 'wb').write(data)

def std_headers(frm, subject, msgid, t, to=(MAINT,), cc=(), irt=None, refs=(), mailer='git-send-email 2.39.5', charset='utf-8', extra=()):
    h = [f'From: {addr(frm, charset)}', f'Date: {date_str(t)}', f'Subject: {subject}', f'Message-ID: <{msgid}>']
    if irt:
        h.append(f'In-Reply-To: <{irt}>')
    if refs:
        h += fold_list('References', [f'<{r}>' for r in refs])
    h += fold_list('To', [addr(x, charset) for x in to])
    h += fold_list('Cc', [addr(x, charset) for x in cc])
    if mailer:
        h.append(f'X-Mailer: {mailer}')
    h += list(extra)
    return h

def sig_ct(charset='utf-8', cte='8bit', extra=''):
    return ['MIME-Version: 1.0', f'Content-Type: text/plain; charset={charset}{extra}', f'Content-Transfer-Encoding: {cte}']

# ---------------------------------------------------------------- patch A
R.branch('single')
R.edit('drivers/pci/toy-align.c', ' * Thanks to Jörg Rödel for the original report on sub-page BARs.',
       ' * Thanks to Jörg Rödel and Stéphane Lefèvre for the reports on sub-page BARs.')
R.edit('drivers/pci/toy-align.c', '''		return size;

	return size;''', '''		return size;

	/* toy_align_small_bars=true comes from pci=toy_align=small; see toy_align_setup() for the parser */
	if (toy_align_small_bars && size < PAGE_SIZE)
		return PAGE_SIZE;

	return size;''')
A_MSG = '''PCI: toy: Give sub-page memory BARs a page of their own

A memory BAR smaller than a page can share its page with a BAR of
another device. When such a device is passed through to a guest, the
guest can reach the other device's registers (XSA-461).

From the PCI spec's point of view nothing is wrong: BARs only need to be
naturally aligned. Let the user ask for page alignment of small BARs
with pci=toy_align=small.

Reported-by: Stéphane Lefèvre <stephane@example.fr>
Closes: https://lore.example.org/r/20250102-small-bars@example.fr
Fixes: 0123456789ab ("PCI: toy: Add toy resource alignment")
Cc: stable@vger.kernel.org
Signed-off-by: Zoë Ångström <zoe@example.se>
'''
a_commit = R.commit(ZOE, A_MSG)
A_FULL, A_BODY = R.format_patch(a_commit)
A_SUBJ = '[PATCH] PCI: toy: Give sub-page memory BARs a page of their own'
write('0001-PCI-toy-Give-sub-page-memory-BARs-a-page-of-their-own.patch', A_FULL.encode('utf-8'))

tA = 1736503200 + 3600
def A_headers(msgid, charset='utf-8', subject=A_SUBJ, extra=()):
    return std_headers(ZOE, subject, msgid, tA, cc=PCI_CC, charset=charset, extra=extra)

body_utf8 = A_BODY.encode('utf-8')
body_l1 = A_BODY.encode('iso-8859-1')
write('single-8bit-utf8.eml', message(A_headers('20250110110000.1001-1-zoe@example.se') + sig_ct('UTF-8', '8bit'), body_utf8))
write('single-qp-utf8.eml', message(A_headers('20250110110000.1002-1-zoe@example.se') + sig_ct('UTF-8', 'quoted-printable'), qp(body_utf8)))
write('single-base64-utf8.eml', message(A_headers('20250110110000.1003-1-zoe@example.se') + sig_ct('"utf-8"', 'base64'), b64(body_utf8)))
write('single-qp-latin1.eml', message(A_headers('20250110110000.1004-1-zoe@example.se', 'iso-8859-1') + sig_ct('ISO-8859-1', 'quoted-printable'), qp(body_l1)))
# raw latin1 bytes: headers must be bytes too
hl = '\n'.join(A_headers('20250110110000.1005-1-zoe@example.se', 'iso-8859-1') + sig_ct('iso-8859-1', '8bit')) + '\n\n'
write('single-8bit-latin1.eml', hl.encode('utf-8') + body_l1)
write('single-flowed.eml', message(A_headers('20250110110000.1006-1-zoe@example.se', extra=['User-Agent: Mozilla Thunderbird']) [:-1] + ['User-Agent: Mozilla Thunderbird'] + sig_ct('UTF-8', '8bit', '; format=flowed'), flow_encode(A_BODY).encode('utf-8')))
write('single-flowed-delsp-qp.eml', message(A_headers('20250110110000.1007-1-zoe@example.se') + sig_ct('UTF-8', 'quoted-printable', '; format=flowed; delsp=yes'), qp(flow_encode(A_BODY, width=60, delsp=True).encode('utf-8'))))
write('single-crlf.eml', message(A_headers('20250110110000.1008-1-zoe@example.se') + sig_ct('UTF-8', '8bit'), body_utf8, crlf=True))

# attachments
B = '------------toyboundary0123456789'
def multipart(headers, parts, sub='mixed', boundary=B):
    h = headers + ['MIME-Version: 1.0', f'Content-Type: multipart/{sub};', f' boundary="{boundary}"']
    body = b'This is a multi-part message in MIME format.\n'
    for ph, pb in parts:
        body += f'--{boundary}\n'.encode() + ('\n'.join(ph) + '\n\n').encode() + pb
        if not pb.endswith(b'\n'):
            body += b'\n'
    body += f'--{boundary}--\n'.encode()
    return message(h, body)

att_name = '0001-PCI-toy-Give-sub-page-memory-BARs-a-page-of-their-own.patch'
write('single-attach-xpatch-base64.eml', multipart(
    A_headers('3f1c2a9e-0d4b-4f55-9b1e-1a2b3c4d5e6f@example.se')[:-1] + ['User-Agent: Mozilla Thunderbird'],
    [(['Content-Type: text/plain; charset=UTF-8; format=flowed', 'Content-Transfer-Encoding: 7bit'],
      b'Hi,\n\nmy mailer mangles inline patches, so the patch is attached.\n\nZoe\n'),
     ([f'Content-Type: text/x-patch; charset=UTF-8;', f' name="{att_name}"', f'Content-Disposition: attachment;', f' filename="{att_name}"', 'Content-Transfer-Encoding: base64'],
      b64(A_FULL.encode('utf-8')))]))
msg_part, diff_part = A_BODY.split('\n---\n', 1)
diff_only = diff_part[diff_part.index('diff --git'):]
write('single-attach-textplain-qp.eml', multipart(
    A_headers('AM0PR01MB1234567890ABCDEF@AM0PR01MB1234.example.se', extra=[]) [:-1] + ['X-Mailer: Microsoft Outlook 16.0'],
    [(['Content-Type: text/plain; charset="utf-8"', 'Content-Transfer-Encoding: quoted-printable'], qp((msg_part + '\n').encode('utf-8'))),
     (['Content-Type: text/plain; charset="utf-8"; name="toy-align.diff"', 'Content-Disposition: attachment; filename="toy-align.diff"', 'Content-Transfer-Encoding: quoted-printable'],
      qp(diff_only.encode('utf-8')))]))
write('single-attach-octet-stream.eml', multipart(
    A_headers('20250110110000.1011-1-zoe@example.se')[:-1] + ['User-Agent: Evolution 3.46.4'],
    [(['Content-Type: text/plain; charset=us-ascii', 'Content-Transfer-Encoding: 7bit'], b'Patch attached.\n'),
     ([f'Content-Type: application/octet-stream; name*=utf-8\'\'{att_name}', f'Content-Disposition: attachment; filename*0="0001-PCI-toy-Give-sub-page-memory-";', ' filename*1="BARs-a-page-of-their-own.patch"', 'Content-Transfer-Encoding: base64'],
      b64(A_FULL.encode('utf-8'))),
     (['Content-Type: application/pgp-signature; name="signature.asc"', 'Content-Description: This is a digitally signed message part'],
      b'-----BEGIN PGP SIGNATURE-----\n\niQEzBAABCAAdFiEEtoytoytoytoytoytoytoytoy=\n=toy0\n-----END PGP SIGNATURE-----\n')]))
import html as H
write('single-alternative-html.eml', multipart(
    A_headers('20250110110000.1012-1-zoe@example.se'),
    [(['Content-Type: text/plain; charset=UTF-8', 'Content-Transfer-Encoding: quoted-printable'], qp(body_utf8)),
     (['Content-Type: text/html; charset=UTF-8', 'Content-Transfer-Encoding: quoted-printable'],
      qp(('<html><body><pre>' + H.escape(A_BODY) + '</pre></body></html>\n').encode('utf-8')))],
    sub='alternative', boundary='=_alt_boundary_42'))

# folded + RFC 2047 headers
fh = [f'From: =?UTF-8?q?Zo=C3=AB_=C3=85ngstr=C3=B6m?= <zoe@example.se>', f'Date: {date_str(tA)}',
      'Subject: =?UTF-8?q?=5BPATCH=5D_PCI=3A_toy=3A_Give_sub-page_memory_BARs_a?=',
      ' =?UTF-8?q?_page_of_their_own?=',
      'Message-ID:', ' <20250110110000.1013-1-zoe@example.se>',
      'To: Toy Maintainer', ' <toy@example.org>',
      'Cc: linux-pci@vger.kernel.org, "Reviewer, Alex"', '\t<alex.reviewer@example.com>,', ' =?iso-8859-1?q?J=F6rg_R=F6del?= <joro@example.de>',
      'X-Mailer: git-send-email 2.39.5'] + sig_ct('UTF-8', '8bit')
write('folded-encoded-headers.eml', message(fh, body_utf8))
write('unknown-charset.eml', message(A_headers('20250110110000.1014-1-zoe@example.se') + sig_ct('x-toy-unknown', '8bit'), body_utf8))
nomid = [h for h in A_headers('unused') if not h.startswith('Message-ID')]
write('missing-message-id.eml', message(nomid + sig_ct('UTF-8', '8bit'), body_utf8))
write('missing-from-date-subject.eml', message(['Message-ID: <20250110110000.1015-1-nobody@example.org>', 'To: toy@example.org'] + sig_ct('UTF-8', '8bit'),
      b'Someone sent this without From, Date or Subject.\n'))

# ---------------------------------------------------------------- series v1 / v2 (Anna, b4)
def series(version):
    R.branch(f'series-v{version}')
    R.edit('include/linux/pci-toy.h', 'resource_size_t toy_bar_alignment(struct pci_dev *dev, int bar);\n',
           'resource_size_t toy_bar_alignment(struct pci_dev *dev, int bar);\nresource_size_t toy_page_align(resource_size_t size);\n')
    R.edit('drivers/pci/toy-setup.c', '''		toy_assign_resources(dev);
}
''', '''		toy_assign_resources(dev);
}

resource_size_t toy_page_align(resource_size_t size)
{
	return size < PAGE_SIZE ? PAGE_SIZE : size;
}
''')
    rb = '' if version == 1 else 'Reviewed-by: Ben Reviewer <ben.reviewer@example.com>\n'
    c1 = R.commit(ANNA, f'''PCI: toy: Add toy_page_align() helper

Add a helper that rounds a BAR size up to PAGE_SIZE, for the callers
that want each small BAR in a page of its own.

{rb}Signed-off-by: Anna Tester <anna.tester@example.org>
''')
    if version == 1:
        new = '''	if (toy_align_small_bars)
		return toy_page_align(size);

'''
    else:
        new = '''	if (toy_align_small_bars && size < PAGE_SIZE) {
		pci_info(dev, "BAR %d: aligning to a page\\n", bar);
		return toy_page_align(size);
	}

'''
    R.edit('drivers/pci/toy-align.c', '''		return size;

	return size;''', '''		return size;

''' + new + '''	return size;''')
    c2 = R.commit(ANNA, '''PCI: toy: Align small BARs with toy_page_align()

When pci=toy_align=small is given, align every memory BAR to at least
a page, so that no two devices share a page.

From the point of view of the PCI spec this only raises the alignment;
nothing else changes. Quoting the old discussion:

>From an old thread: "sub-page BARs are fine"

Link: https://lore.example.org/r/20241201-toy@example.org
Signed-off-by: Anna Tester <anna.tester@example.org>
''')
    R.edit('drivers/vfio/pci/toy_vfio_core.c', '''	/* Sub-page BARs may share a page with another device: never mmap them. */
	if (size < PAGE_SIZE)
''', '''	/*
	 * Sub-page BARs may share a page with another device; with
	 * pci=toy_align=small they start on a page boundary and own it.
	 */
	if (size < PAGE_SIZE && !PAGE_ALIGNED(pci_resource_start(pdev, bar)))
''')
    c3 = R.commit(ANNA, f'''vfio/pci: toy: Allow mmap of page-aligned sub-page BARs

A sub-page BAR that starts on a page boundary owns its page when the
PCI core aligned it (pci=toy_align=small), so it can be mmapped.

{rb}Signed-off-by: Anna Tester <anna.tester@example.org>
''')
    return [c1, c2, c3]

v1 = series(1)
v2 = series(2)
CHANGE = '20250107-toy-small-bars-5c1d2e'
def b4id(v, n):
    return f'20250107-toy-small-bars-v{v}-{n}-5c1d2e3f4a5b@example.org' if v == 1 else f'20250114-toy-small-bars-v{v}-{n}-5c1d2e3f4a5b@example.org'
def series_mails(version, commits, t0, cover_irt=None, prereq=False):
    subj = ['PCI: toy: Add toy_page_align() helper', 'PCI: toy: Align small BARs with toy_page_align()', 'vfio/pci: toy: Allow mmap of page-aligned sub-page BARs']
    vtag = '' if version == 1 else f' v{version}'
    shortlog = R.git('shortlog', f'{BASE}..{commits[-1]}')
    stat = R.git('diff', '--stat', f'{BASE}..{commits[-1]}')
    changes = '' if version == 1 else '''Changes in v2:
- 2/3: only small BARs, and say so in the log (Ben)
- Collect Reviewed-by tags
- Link to v1: https://lore.example.org/r/20250107-toy-small-bars-v1-0-5c1d2e3f4a5b@example.org

'''
    pre = '' if not prereq else '''prerequisite-change-id: 20241220-toy-prep-1a2b3c:v3
prerequisite-patch-id: 4b825dc642cb6eb9a060e54bf8d69288fbee4904
prerequisite-message-id: <20241220-toy-prep-v3-0-1a2b3c4d5e6f@example.org>
'''
    cover_body = f'''Small memory BARs of different devices can end up in one page. A guest
given one of the devices can then reach the registers of the other.
This series lets the user ask for page alignment of small BARs
(pci=toy_align=small) and lets vfio-pci mmap such BARs.

{changes}---
{shortlog.rstrip()}

{stat.rstrip()}
---
base-commit: {BASE}
change-id: {CHANGE}
{pre}
Best regards,
-- 
Anna Tester <anna.tester@example.org>
'''
    cid = b4id(version, 0)
    refs = [cover_irt] if cover_irt else []
    mails = [message(std_headers(ANNA, f'[PATCH{vtag} 0/3] PCI: toy: Page-align small BARs for safe passthrough', cid, t0,
                                 cc=PCI_CC, irt=cover_irt, refs=refs, mailer='b4 0.14.2') + sig_ct('"utf-8"', '7bit'), cover_body.encode())]
    for i, c in enumerate(commits, 1):
        _, body = R.format_patch(c, base=False)
        mails.append(message(std_headers(ANNA, f'[PATCH{vtag} {i}/3] {subj[i-1]}', b4id(version, i), t0 + i,
                                          cc=PCI_CC, irt=cid, refs=refs + [cid], mailer='b4 0.14.2') + sig_ct('"utf-8"', '7bit'), body.encode()))
    return mails

t_v1 = 1736240400  # 2025-01-07 09:00 UTC
t_v2 = 1736845200  # 2025-01-14 09:00 UTC
S1 = series_mails(1, v1, t_v1)
S2 = series_mails(2, v2, t_v2, cover_irt=b4id(1, 0), prereq=True)

# net series (Carl), cover-less, send-email threading
R.branch('net')
R.edit('net/core/toy_dev.c', '''int toy_dev_open(struct net_device *dev)
{
''', '''int toy_dev_open(struct net_device *dev)
{
	if (!netif_carrier_ok(dev))
		return -ENOLINK;
''')
n1 = R.commit(CARL, '''net: toy: Check the carrier before starting the queue

Starting the queue without a carrier only fills it with packets that
cannot go anywhere.

Signed-off-by: Carl Netdev <carl@example.net>
''')
R.edit('net/core/toy_dev.c', '''	netif_stop_queue(dev);
	return 0;''', '''	netif_stop_queue(dev);
	synchronize_net();
	return 0;''')
n2 = R.commit(CARL, '''net: toy: Wait for readers before stopping

Make sure no reader still uses the queue when stop returns.

Signed-off-by: Carl Netdev <carl@example.net>
''')
t_net = 1736497800
NET_IDS = ['20250110083000.2231-1-carl@example.net', '20250110083000.2231-2-carl@example.net']
NET_SUBJ = ['[PATCH net-next 1/2] net: toy: Check the carrier before starting the queue', '[PATCH net-next 2/2] net: toy: Wait for readers before stopping']
NET = []
for i, c in enumerate([n1, n2]):
    _, body = R.format_patch(c, base=False)
    irt = NET_IDS[0] if i else None
    NET.append(message(std_headers(CARL, NET_SUBJ[i], NET_IDS[i], t_net + i, to=('netdev@vger.kernel.org',), cc=('Eric Toy <eric@example.net>',),
                                   irt=irt, refs=[irt] if irt else []), body.encode()))

# reply quoting v2 2/3
_, v2p2 = R.format_patch(v2[1], base=False)
hunk = v2p2[v2p2.index('diff --git'):]
hunk_lines = hunk.split('\n')[:12]
quoted = '\n'.join(('> ' + l) if l else '>' for l in hunk_lines)
REPLY = message(std_headers(BEN, 'Re: [PATCH v2 2/3] PCI: toy: Align small BARs with toy_page_align()', 'Z4ZbenRev1ew@example.com', t_v2 + 7200,
                             to=(ANNA,), cc=PCI_CC, irt=b4id(2, 2), refs=[b4id(1, 0), b4id(2, 0), b4id(2, 2)], mailer=None,
                             extra=['User-Agent: Mutt/2.2.12 (2023-09-09)']) + sig_ct('us-ascii', '7bit'),
                f'''On Tue, Jan 14, 2025 at 10:00:02AM +0100, Anna Tester wrote:
> When pci=toy_align=small is given, align every memory BAR to at least
> a page, so that no two devices share a page.
[...]
{quoted}

Should this be pci_dbg()?  Otherwise looks good:

Reviewed-by: Ben Reviewer <ben.reviewer@example.com>
'''.encode())

BROKEN = b'This entry lost its headers when the archive was cut; the rest of the\nmbox must still be read.\n'
write('pci-series-v1-v2-mixed.mbox', mboxrd(S1 + [BROKEN] + NET + S2 + [REPLY]))
write('missing-part.mbox', mboxrd([S1[0], S1[1], S1[3]]))

# unthreaded: v1 patches without In-Reply-To/References, no cover (send-email --no-thread)
def strip_thread(m):
    lines = m.split(b'\n\n', 1)
    hdr = re.sub(rb'(?m)^(In-Reply-To|References):.*\n(?:[ \t].*\n)*', b'', lines[0] + b'\n').rstrip(b'\n')
    return hdr + b'\n\n' + lines[1]
UN = []
for i, m in enumerate(S1[1:], 1):
    m = strip_thread(m).replace(b4id(1, i).encode(), f'20250107090000.777-{i}-anna.tester@example.org'.encode())
    UN.append(m)
# a stray 2/3 three days later, other title: must stay apart
R.branch('stray')
R.edit('drivers/pci/toy-setup.c', 'Toy bus setup for pcibot\'s tests.', 'Toy bus setup (and teardown, later) for pcibot\'s tests.')
st = R.commit(ANNA, 'PCI: toy: Reword the file comment\n\nSigned-off-by: Anna Tester <anna.tester@example.org>\n')
_, stb = R.format_patch(st, base=False)
UN.append(message(std_headers(ANNA, '[PATCH 2/3] PCI: toy: Reword the file comment', '20250110090000.999-2-anna.tester@example.org', t_v1 + 3 * 86400, cc=PCI_CC), stb.encode()))
write('unthreaded.mbox', mboxrd(UN))

# resend: patch A again a week later as RESEND
RS = [message(A_headers('20250110110000.1001-1-zoe@example.se') + sig_ct('UTF-8', '8bit'), body_utf8)]
rh = std_headers(ZOE, '[PATCH RESEND] PCI: toy: Give sub-page memory BARs a page of their own', '20250117110000.3001-1-zoe@example.se', tA + 7 * 86400, cc=PCI_CC)
RS.append(message(rh + sig_ct('UTF-8', '8bit'), body_utf8))
write('resend.mbox', mboxrd(RS))

# versions by title: A v1 and a v2 without the comment change, no change-id
R.branch('single-v2')
R.edit('drivers/pci/toy-align.c', '''		return size;

	return size;''', '''		return size;

	if (toy_align_small_bars && size < PAGE_SIZE)
		return PAGE_SIZE;

	return size;''')
a2 = R.commit(ZOE, A_MSG.replace('Signed-off-by', 'Reviewed-by: Ben Reviewer <ben.reviewer@example.com>\nSigned-off-by'))
_, a2b = R.format_patch(a2)
a2b = a2b.replace('\n---\n', '\n---\nChanges in v2:\n- drop the comment churn (Ben)\n\n', 1)
VT = [RS[0], message(std_headers(ZOE, '[PATCH v2] PCI: toy: Give sub-page memory BARs a page of their own', '20250115110000.4001-1-zoe@example.se', tA + 5 * 86400, cc=PCI_CC) + sig_ct('UTF-8', '8bit'), a2b.encode())]
write('versions-by-title.mbox', mboxrd(VT))

# index trouble: cover 0/2, 1/2, two different 2/2, and 3/2 (Dora)
R.branch('dora')
R.edit('drivers/pci/toy-setup.c', '#include <linux/pci-toy.h>\n', '#include <linux/pci-toy.h>\n#include <linux/slab.h>\n')
d1 = R.commit(DORA, 'PCI: toy: Include slab.h\n\nSigned-off-by: Dora Numbering <dora@example.com>\n')
R.edit('drivers/pci/toy-setup.c', 'void toy_setup_bus(struct pci_bus *bus)', 'void __init toy_setup_bus(struct pci_bus *bus)')
d2 = R.commit(DORA, 'PCI: toy: Mark toy_setup_bus() __init\n\nSigned-off-by: Dora Numbering <dora@example.com>\n')
R.branch('dora-b', d1)
R.edit('drivers/pci/toy-setup.c', 'void toy_setup_bus(struct pci_bus *bus)', 'void toy_setup_bus(struct pci_bus *bus) /* called once */')
d2b = R.commit(DORA, 'PCI: toy: Document toy_setup_bus()\n\nSigned-off-by: Dora Numbering <dora@example.com>\n')
R.edit('include/linux/pci-toy.h', '#include <linux/types.h>\n', '#include <linux/types.h>\n#include <linux/list.h>\n')
d3 = R.commit(DORA, 'PCI: toy: Include list.h in pci-toy.h\n\nSigned-off-by: Dora Numbering <dora@example.com>\n')
t_d = 1736600000
DID = lambda n: f'20250111125320.5150-{n}-dora@example.com'
IT = [message(std_headers(DORA, '[PATCH 0/2] PCI: toy: Small cleanups', DID(1), t_d, cc=PCI_CC) + sig_ct('UTF-8', '8bit'),
              b'Two small cleanups.\n\nDora Numbering (2):\n  PCI: toy: Include slab.h\n  PCI: toy: Mark toy_setup_bus() __init\n\n -- \n2.39.5\n')]
for n, (c, sub, idx) in enumerate([(d1, 'PCI: toy: Include slab.h', '1/2'), (d2, 'PCI: toy: Mark toy_setup_bus() __init', '2/2'),
                                   (d2b, 'PCI: toy: Document toy_setup_bus()', '2/2'), (d3, 'PCI: toy: Include list.h in pci-toy.h', '3/2')], 2):
    _, b = R.format_patch(c, base=False)
    IT.append(message(std_headers(DORA, f'[PATCH {idx}] {sub}', DID(n), t_d + n, cc=PCI_CC, irt=DID(1), refs=[DID(1)]) + sig_ct('UTF-8', '8bit'), b.encode()))
write('index-trouble.mbox', mboxrd(IT))

# CRLF mbox: the net series, CRLF everywhere
write('crlf.mbox', mboxrd(NET, crlf=True).replace(b'\r\n', b'\n').replace(b'\n', b'\r\n'))

# hostile paths
hostile = f'''From: Mallory Paths <mallory@example.net>
Date: {date_str(tA)}
Subject: [PATCH] PCI: toy: Harmless cleanup
Message-ID: <20250110120000.6666-1-mallory@example.net>
To: Toy Maintainer <toy@example.org>
Cc: linux-pci@vger.kernel.org
X-Mailer: git-send-email 2.39.5

Just a cleanup.

Signed-off-by: Mallory Paths <mallory@example.net>
---
 drivers/pci/toy-align.c | 2 +-
 ../../etc/passwd        | 1 +
 2 files changed, 2 insertions(+), 1 deletion(-)

diff --git a/drivers/pci/toy-align.c b/drivers/pci/toy-align.c
index 1111111..2222222 100644
--- a/drivers/pci/toy-align.c
+++ b/drivers/pci/toy-align.c
@@ -1,2 +1,2 @@
-// SPDX-License-Identifier: GPL-2.0
+// SPDX-License-Identifier: GPL-2.0-only
 /*
diff --git a/../../etc/passwd b/../../etc/passwd
index 3333333..4444444 100644
--- a/../../etc/passwd
+++ b/../../etc/passwd
@@ -1 +1,2 @@
 root:x:0:0:root:/root:/bin/bash
+toor::0:0::/root:/bin/bash
diff --git a/.git/hooks/post-checkout b/.git/hooks/post-checkout
new file mode 100755
index 0000000..5555555
--- /dev/null
+++ b/.git/hooks/post-checkout
@@ -0,0 +1,2 @@
+#!/bin/sh
+echo pwned
-- 
2.39.5

'''
write('hostile-paths.eml', hostile.encode())

# kernel parameters: pci= option (in scope) and unrelated (out)
R.branch('kp')
R.edit('Documentation/admin-guide/kernel-parameters.txt', '''				aligned memory resources.
''', '''				aligned memory resources.

		toy_align=	[X86] Give every sub-page memory BAR of a PCI
				device a page of its own. Format: toy_align=small
''')
k1 = R.commit(ANNA, 'PCI: toy: Document pci=toy_align\n\nSigned-off-by: Anna Tester <anna.tester@example.org>\n')
_, kb = R.format_patch(k1)
write('kernel-params-pci-option.eml', message(std_headers(ANNA, '[PATCH] PCI: toy: Document pci=toy_align', '20250112100000.7001-1-anna.tester@example.org', 1736676000, cc=PCI_CC) + sig_ct('UTF-8', '8bit'), kb.encode()))
R.branch('kq')
R.edit('Documentation/admin-guide/kernel-parameters.txt', '	quiet		[KNL,EARLY] Disable most log messages\n', '	quiet		[KNL,EARLY] Disable most log messages (all but errors)\n')
k2 = R.commit(CARL, 'Documentation: Say what quiet keeps\n\nSigned-off-by: Carl Netdev <carl@example.net>\n')
_, kb2 = R.format_patch(k2)
write('kernel-params-unrelated.eml', message(std_headers(CARL, '[PATCH] Documentation: Say what quiet keeps', '20250112100000.7002-1-carl@example.net', 1736676100, to=('Docs <docs@example.org>',)) + sig_ct('UTF-8', '8bit'), kb2.encode()))

# iommu: group/PCI change (in scope, with in-body From: of another author), and a map-only change (out)
R.branch('iommu-acs')
R.edit('drivers/iommu/toy-iommu.c', '	return generic_device_group(dev);', '	if (dev_is_pci(dev))\n		return pci_device_group(dev);\n	return generic_device_group(dev);')
i1 = R.commit(IVO, 'iommu/toy: Group PCI devices by ACS isolation\n\nUse pci_device_group() so that devices behind a bridge without ACS\nshare a group.\n\nSigned-off-by: Ivo Iommu <ivo@example.com>\nSigned-off-by: Anna Tester <anna.tester@example.org>\n')
_, ib = R.format_patch(i1)
write('iommu-acs.eml', message(std_headers(ANNA, '[PATCH] iommu/toy: Group PCI devices by ACS isolation', '20250112100000.7003-1-anna.tester@example.org', 1736676200, cc=['iommu@lists.linux.dev'] + PCI_CC) + sig_ct('UTF-8', '8bit'),
                               ('From: Ivo Iommu <ivo@example.com>\n\n' + ib).encode()))
R.branch('iommu-map')
R.edit('drivers/iommu/toy-iommu.c', '	return toy_hw_map(domain, iova, paddr, size);', '	if (!size)\n		return -EINVAL;\n	return toy_hw_map(domain, iova, paddr, size);')
i2 = R.commit(IVO, 'iommu/toy: Reject empty mappings\n\nSigned-off-by: Ivo Iommu <ivo@example.com>\n')
_, ib2 = R.format_patch(i2)
write('iommu-map.eml', message(std_headers(IVO, '[PATCH] iommu/toy: Reject empty mappings', '20250112100000.7004-1-ivo@example.com', 1736676300, cc=['iommu@lists.linux.dev']) + sig_ct('UTF-8', '8bit'), ib2.encode()))

# a diff line "-- " inside a hunk (a removed "- " line), then the real signature
R.branch('dashdash')
R.edit('Documentation/PCI/toy-notes.rst', '- \n- BAR sizes', '- IOMMU groups and ACS\n- BAR sizes')
dd = R.commit(ANNA, 'Documentation: PCI: toy: Fill in the empty list item\n\nSigned-off-by: Anna Tester <anna.tester@example.org>\n')
_, db = R.format_patch(dd)
assert '\n-- \n- BAR' not in db
assert '\n-- \n' in db.split('diff --git')[1].split('\n-- \n2.39.5')[0] + '\n', 'expected a "-- " hunk line'
write('dashdash-in-hunk.eml', message(std_headers(ANNA, '[PATCH] Documentation: PCI: toy: Fill in the empty list item', '20250112100000.7005-1-anna.tester@example.org', 1736676400, cc=PCI_CC) + sig_ct('UTF-8', '8bit'), db.encode()))

# reply with an unquoted diff (a suggestion): still a reply
sugg = '''On Fri, Jan 10, 2025 at 08:30:00AM +0100, Carl Netdev wrote:
> Starting the queue without a carrier only fills it with packets that
> cannot go anywhere.

Rather return -ENETDOWN, like the others do. Something like:

diff --git a/net/core/toy_dev.c b/net/core/toy_dev.c
--- a/net/core/toy_dev.c
+++ b/net/core/toy_dev.c
@@ -7,6 +7,8 @@
 int toy_dev_open(struct net_device *dev)
 {
+	if (!netif_carrier_ok(dev))
+		return -ENETDOWN;
 	netif_start_queue(dev);
 	return 0;
 }

Eric
'''
write('reply-unquoted-diff.eml', message(std_headers('Eric Toy <eric@example.net>', 'Re: ' + NET_SUBJ[0], 'CAEricToy+suggest=1@mail.example.net', t_net + 5000, to=(CARL,), cc=('netdev@vger.kernel.org',),
                                                       irt=NET_IDS[0], refs=[NET_IDS[0]], mailer=None) + sig_ct('UTF-8', '8bit'), sugg.encode()))

# not a patch: a pull request
write('not-a-patch-pull-request.eml', message(std_headers(MAINT, '[GIT PULL] PCI fixes for v6.13-rc7', '20250112180000.GA1234@toy.example.org', 1736704800, to=('Linus <linus@example.org>',), cc=('linux-pci@vger.kernel.org',), mailer=None) + sig_ct('us-ascii', '7bit'),
    b'The following changes since commit 0123456789abcdef0123456789abcdef01234567:\n\n  Linux 6.13-rc6 (2025-01-05 14:13:40 -0800)\n\nare available in the Git repository at:\n\n  git://git.example.org/pub/scm/linux/kernel/git/toy/pci.git tags/pci-v6.13-fixes-3\n\nfor you to fetch changes up to 30e89f7475725c32783644aa82b1da096c36a249:\n\n  PCI: toy: Fix the toys (2025-01-10 10:00:00 +0100)\n'))

# broken inputs
rnd = random.Random(461)
garbage = bytes(rnd.randrange(256) for _ in range(600))
write('binary-garbage.eml', b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR' + garbage)
write('empty.eml', b'')
write('web-page-copy.html', f'''<!DOCTYPE html>
<html><head><title>[PATCH v2 2/3] PCI: toy: Align small BARs with toy_page_align() - Anna Tester</title></head>
<body><pre>
From: Anna Tester &lt;anna.tester@example.org&gt;
Subject: [PATCH v2 2/3] PCI: toy: Align small BARs with toy_page_align()
Message-ID: &lt;{b4id(2, 2)}&gt;
</pre></body></html>
'''.encode())

# maildir: patch A in new/, the reply in cur/
os.makedirs(os.path.join(OUT, 'maildir-inbox/new'), exist_ok=True)
os.makedirs(os.path.join(OUT, 'maildir-inbox/cur'), exist_ok=True)
os.makedirs(os.path.join(OUT, 'maildir-inbox/tmp'), exist_ok=True)
open(os.path.join(OUT, 'maildir-inbox/tmp/.keep'), 'w').write('')
write('maildir-inbox/new/1736507000.M101P4242.toybox', message(A_headers('20250110110000.1001-1-zoe@example.se') + sig_ct('UTF-8', '8bit'), body_utf8))
write('maildir-inbox/cur/1736852400.M202P4242.toybox:2,S', REPLY)

print('base', BASE)
