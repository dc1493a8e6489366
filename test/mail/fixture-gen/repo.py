# Build commits in the toy repo and return format-patch bodies.
import subprocess, os, re

ENV_BASE = dict(os.environ, GIT_CONFIG_NOSYSTEM='1', GIT_CONFIG_GLOBAL='/dev/null')

class Repo:
    def __init__(self, path):
        self.path = path
        self.base = self.git('rev-parse', 'HEAD').strip()
        self.t = 1736503200  # 2025-01-10T10:00:00Z

    def git(self, *args, env=None, input=None):
        e = dict(ENV_BASE, **(env or {}))
        return subprocess.run(['git', *args], cwd=self.path, env=e, check=True, capture_output=True, input=input).stdout.decode('utf-8')

    def read(self, p):
        return open(os.path.join(self.path, p), encoding='utf-8').read()

    def write(self, p, s):
        full = os.path.join(self.path, p)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        open(full, 'w', encoding='utf-8').write(s)

    def edit(self, p, old, new):
        s = self.read(p)
        assert s.count(old) == 1, (p, old)
        self.write(p, s.replace(old, new))

    def branch(self, name, start=None):
        self.git('checkout', '-q', '-B', name, start or self.base)

    def commit(self, author, message):
        name, email = re.match(r'(.*) <(.*)>', author).groups()
        self.t += 60
        d = f'@{self.t} +0100'
        env = dict(GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_AUTHOR_DATE=d,
                   GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email, GIT_COMMITTER_DATE=d)
        self.git('add', '-A')
        self.git('commit', '-q', '-F', '-', env=env, input=message.encode('utf-8'))
        return self.git('rev-parse', 'HEAD').strip()

    def format_patch(self, rev, base=True):
        """format-patch of one commit: (full file text, body text after the header block)."""
        args = ['format-patch', '--stdout', '-1', rev, '--signature=2.39.5']
        if base:
            args.insert(1, f'--base={self.base}')
        full = self.git(*args)
        body = full.split('\n\n', 1)[1]
        return full, body
