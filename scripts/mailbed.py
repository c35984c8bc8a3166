"""Python half of scripts/mailbed: the parts that speak IMAP or read mail.

Called by scripts/mailbed only (stdlib only, Python 3.9+):
  mailbed.py ports N                   print N distinct free loopback TCP ports
  mailbed.py port-free PORT            exit 0 if a server could bind 127.0.0.1:PORT
  mailbed.py listening PID PORT...     exit 0 if each PID listens on its PORT
  mailbed.py append ENVFILE FILE|-...  IMAP APPEND each message to INBOX
  mailbed.py count ENVFILE MAILBOX     print the mailbox's message count
  mailbed.py sink SINKDIR [--list]     count (or list) the mails the sink got

and, imported as the module `mailbed` by aiosmtpd, the SMTP sink's handler:
  python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c mailbed.Sink DIR/sink
(with this directory on PYTHONPATH). Only that needs aiosmtpd.
"""

import email
import email.policy
import imaplib
import os
import socket
import sys
import time


def free_ports(n):
    # Bind them all at once so the N ports differ; the kernel picks ports
    # at random, so two beds starting together rarely get the same one, and
    # scripts/mailbed retries when a bind fails anyway.
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_free(port):
    # What the sink's server does (asyncio sets SO_REUSEADDR), so a port
    # held only by TIME_WAIT connections of a stopped sink counts as free.
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def listening(pairs):
    # True if each PID itself holds a listening socket on 127.0.0.1:PORT.
    # Stricter than "the port answers": after a port race another bed's
    # server could answer on our port while ours is still starting.
    want = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            addr, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and addr.startswith("0100007F:"):
                want[int(addr.split(":")[1], 16)] = f"socket:[{inode}]"
    for pid, port in pairs:
        target = want.get(port)
        if target is None:
            return False
        fd_dir = f"/proc/{pid}/fd"
        try:
            links = [os.readlink(os.path.join(fd_dir, n)) for n in os.listdir(fd_dir)]
        except OSError:
            return False
        if target not in links:
            return False
    return True


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                env[key] = value
    return env


def imap_login(env):
    imap = imaplib.IMAP4(env["IMAP_HOST"], int(env["IMAP_PORT"]), timeout=30)
    # One small write per command: without this, Nagle + delayed ACK costs
    # ~40 ms per APPEND.
    imap.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    imap.login(env["IMAP_USER"], env["IMAP_PASSWORD"])
    return imap


def quote(mailbox):
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_crlf(data):
    # IMAP wants CRLF; hand-written fixtures usually have bare LF.
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def append(env, files):
    # MAILBED_APPEND_TO: the folder to append to (created when missing),
    # for a desk that fetches several ([[mailbox]]).
    folder = os.environ.get("MAILBED_APPEND_TO", "INBOX")
    imap = imap_login(env)
    try:
        if folder != "INBOX":
            imap.create(quote(folder))
        for name in files:
            if name == "-":
                data = sys.stdin.buffer.read()
            else:
                with open(name, "rb") as f:
                    data = f.read()
            typ, resp = imap.append(quote(folder), None, None, to_crlf(data))
            if typ != "OK":
                sys.exit(f"mailbed: APPEND {name} failed: {resp}")
    finally:
        imap.logout()


def count(env, mailbox):
    # A test may cut IMAP sessions (imap-drop) or restart Dovecot around a
    # count: a session lost on the way is tried again, three times at most.
    for attempt in range(3):
        try:
            return count_once(env, mailbox)
        except (imaplib.IMAP4.abort, OSError):
            if attempt == 2:
                raise
            time.sleep(0.2)


def count_once(env, mailbox):
    imap = imap_login(env)
    try:
        # STATUS does not open the mailbox; NO means it does not exist.
        typ, resp = imap.status(quote(mailbox), "(MESSAGES)")
        if typ != "OK":
            print(0)
            return
        words = resp[0].decode().rsplit("(", 1)[1].rstrip(")").split()
        print(int(dict(zip(words[::2], words[1::2]))["MESSAGES"]))
    finally:
        imap.logout()


def sink(sink_dir, list_them):
    # aiosmtpd's Mailbox handler writes one file per mail in new/ (cur/ once
    # a reader moved it); sort by delivery time so the order is stable.
    paths = []
    for sub in ("new", "cur"):
        d = os.path.join(sink_dir, sub)
        if os.path.isdir(d):
            paths += [os.path.join(d, n) for n in os.listdir(d) if not n.startswith(".")]
    paths.sort(key=lambda p: (os.stat(p).st_mtime, p))
    if not list_them:
        print(len(paths))
        return
    for p in paths:
        with open(p, "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        # X-RcptTo holds the envelope recipients, comma-separated.
        rcpt = str(msg.get("X-RcptTo", ""))
        subject = " ".join(str(msg.get("Subject", "")).split())
        print(f"{rcpt}\t{subject}")


def _sink_class():
    from aiosmtpd.handlers import Mailbox

    class Sink(Mailbox):
        """aiosmtpd's Mailbox handler (same Maildir, same X-Peer, X-MailFrom
        and X-RcptTo headers, since delivery is Mailbox's own code), which
        refuses while the file smtp-reject exists next to the Maildir
        (DIR/smtp-reject, written by `scripts/mailbed smtp-reject`). The file
        holds "CODE STAGE [ADDRESS]": every RCPT TO (STAGE rcpt; with ADDRESS,
        only RCPT TO that address) or every DATA (STAGE data) gets CODE. Read
        at each command, so no restart is needed."""

        def __init__(self, mail_dir, message_class=None):
            super().__init__(mail_dir, message_class)
            parent = os.path.dirname(os.path.abspath(mail_dir))
            self.flag_file = os.path.join(parent, "smtp-reject")
            self.no_pipelining_file = os.path.join(parent, "smtp-no-pipelining")

        async def handle_EHLO(self, server, session, envelope, hostname, responses):
            # aiosmtpd reads pipelined commands in turn, but does not say it
            # takes them: PIPELINING (RFC 2920) is announced, as relays do,
            # unless DIR/smtp-no-pipelining exists (`mailbed smtp-pipelining
            # DIR off`), read at each EHLO.
            session.host_name = hostname
            if not os.path.exists(self.no_pipelining_file):
                responses.insert(len(responses) - 1, "250-PIPELINING")
            return responses

        def refusal(self, stage, address=None):
            try:
                with open(self.flag_file) as f:
                    words = f.read().split()
            except FileNotFoundError:
                return None
            if not words:
                return None
            code = words[0]
            if (words[1] if len(words) > 1 else "rcpt") != stage:
                return None
            if len(words) > 2 and (address or "").lower() != words[2].lower():
                return None
            kind = "temporary" if code.startswith("4") else "permanent"
            return f"{code} {code[0]}.0.0 mailbed smtp-reject: {kind} failure"

        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            refusal = self.refusal("rcpt", address)
            if refusal:
                return refusal
            # What aiosmtpd does itself when a handler has no handle_RCPT.
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            refusal = self.refusal("data")
            if refusal:
                return refusal
            return await super().handle_DATA(server, session, envelope)

    return Sink


def __getattr__(name):
    # Module attribute on demand (PEP 562): aiosmtpd's `-c mailbed.Sink`
    # does getattr(module, "Sink"); the other commands stay stdlib-only.
    if name == "Sink":
        return _sink_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv):
    cmd, args = argv[0], argv[1:]
    if cmd == "ports":
        print(*free_ports(int(args[0])))
    elif cmd == "port-free":
        sys.exit(0 if port_free(int(args[0])) else 1)
    elif cmd == "listening":
        nums = [int(a) for a in args]
        sys.exit(0 if listening(list(zip(nums[::2], nums[1::2]))) else 1)
    elif cmd == "append":
        append(read_env(args[0]), args[1:])
    elif cmd == "count":
        count(read_env(args[0]), args[1])
    elif cmd == "sink":
        sink(args[0], "--list" in args[1:])
    else:
        sys.exit(f"mailbed.py: unknown command {cmd}")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except (OSError, imaplib.IMAP4.error) as e:
        sys.exit(f"mailbed: {e}")
