# Mail assembly helpers: independent encoders (Python's stdlib) for the fixtures.
import quopri, base64, email.header, email.utils

def enc_name(name, charset='utf-8'):
    """RFC 2047 display name if not ASCII."""
    try:
        name.encode('ascii')
        return name
    except UnicodeEncodeError:
        return email.header.Header(name, charset).encode()

def addr(a, charset='utf-8'):
    import re
    m = re.match(r'(.*) <(.*)>', a)
    if not m:
        return a
    name, mail = m.groups()
    n = enc_name(name, charset)
    if n == name and any(c in name for c in ',.()'):
        n = '"' + name + '"'
    return f'{n} <{mail}>'

def fold_list(name, items):
    """A header with a comma list folded one item per line, as git send-email does."""
    if not items:
        return []
    out = f'{name}: ' + items[0]
    for it in items[1:]:
        out += ',\n\t' + it
    return [out]

def date_str(t, tz='+0100'):
    # t: unix seconds; format like git send-email
    import datetime
    off = int(tz[:3]) * 3600 + (1 if tz[0] == '+' else -1) * int(tz[3:]) * 60
    d = datetime.datetime.fromtimestamp(t, datetime.timezone(datetime.timedelta(seconds=off)))
    return d.strftime('%a, %d %b %Y %H:%M:%S ') + tz

def qp(data: bytes) -> bytes:
    return quopri.encodestring(data, quotetabs=False)

def b64(data: bytes) -> bytes:
    s = base64.encodebytes(data)  # 76-char lines
    return s

def flow_encode(text, width=72, delsp=False):
    out = []
    for line in text.split('\n'):
        if line == '-- ':
            out.append(line)
            continue
        pieces = []
        if delsp:
            while len(line) > width:
                pieces.append(line[:width] + ' ')
                line = line[width:]
            pieces.append(line)
        else:
            while len(line) > width:
                cut = line.rfind(' ', 1, width)
                if cut <= 0:
                    break
                pieces.append(line[:cut + 1])
                line = line[cut + 1:]
            pieces.append(line)
        for p in pieces:
            if p.startswith(' ') or p.startswith('>') or p.startswith('From '):
                p = ' ' + p
            out.append(p)
    return '\n'.join(out)

def message(headers, body: bytes, crlf=False) -> bytes:
    h = '\n'.join(headers) + '\n\n'
    raw = h.encode('utf-8') + body
    if crlf:
        raw = raw.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
    return raw

def mboxrd(msgs, from_line='From mboxrd@z Thu Jan  1 00:00:00 1970', crlf=False):
    import re
    nl = b'\r\n' if crlf else b'\n'
    out = b''
    for m in msgs:
        if isinstance(m, tuple):  # (from_line, raw)
            fl, m = m
        else:
            fl = from_line
        body = re.sub(rb'(?m)^(>*From )', rb'>\1', m)
        if not body.endswith(nl):
            body += nl
        out += fl.encode() + nl + body + nl
    return out
