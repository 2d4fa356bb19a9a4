"""A real SMTP server for nbwarden's tests, on aiosmtpd.

serve:  smtp_server.py serve --port N --out DIR [--auth USER:PASSWORD] [--raw]
    Accepts mail on 127.0.0.1:N. Each message is parsed back with Python's e-mail parser and stored
    as DIR/NNNN.json (envelope, headers, text and HTML bodies) beside DIR/NNNN.eml (the raw bytes);
    with --raw (the benchmarks' relay) only the .eml is written, as a plain MTA would queue it.
    Recipients whose local part starts with "reject" get 550; with "busy", 451 while DIR/busy exists.
    While DIR/slow holds N, each message takes N ms to accept; DIR/slow-recipients, those to "slow…".
    Prints "ready" once listening; stops when standard input closes.
parse:  smtp_server.py parse FILE.eml    prints the same JSON for a message file.
"""
import argparse
import asyncio
import email
import email.policy
import json
import os
import sys


def describe(raw, envelope_from=None, envelope_to=None, authenticated=None):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    return {
        "envelope_from": envelope_from,
        "envelope_to": envelope_to,
        "authenticated": authenticated,
        "from": str(msg["from"] or ""),
        "to": str(msg["to"] or ""),
        "cc": str(msg["cc"] or ""),
        "bcc": str(msg["bcc"] or ""),
        "subject": str(msg["subject"] or ""),
        "message_id": str(msg["message-id"] or ""),
        "content_type": msg.get_content_type(),
        "header_names": [k.lower() for k in msg.keys()],
        "raw_head": head.decode("utf-8", "replace"),
        "text": text.get_content() if text is not None else None,
        "html": html.get_content() if html is not None else None,
        "attachments": [
            {"filename": part.get_filename(), "content_type": part.get_content_type(), "content": part.get_content()}
            for part in msg.iter_attachments()
        ],
    }


class Handler:
    def __init__(self, out, raw=False):
        self.out = out
        self.raw = raw
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 mailbox unavailable"
        if local.startswith("busy") and os.path.exists(os.path.join(self.out, "busy")):
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # Store the raw message and answer at once, as a real MTA queues it; parse it afterwards.
        # While DIR/slow exists, think for that many milliseconds first (a loaded relay); while
        # DIR/slow-recipients exists, that long for messages to recipients whose local part
        # starts with "slow" (a slow mailbox). A client gone meanwhile cancels this: not stored.
        delays = [("slow", True), ("slow-recipients", any(r.lower().startswith("slow") for r in envelope.rcpt_tos))]
        for name, applies in delays:
            path = os.path.join(self.out, name)
            if applies and os.path.exists(path):
                with open(path) as f:
                    await asyncio.sleep(int(f.read().strip() or "0") / 1000)
        self.count += 1
        base = os.path.join(self.out, "%04d" % self.count)
        raw = envelope.original_content or envelope.content
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        if not self.raw:
            details = (envelope.mail_from, list(envelope.rcpt_tos), bool(session.authenticated))
            asyncio.get_running_loop().call_soon(self.describe_later, base, raw, details)
        return "250 Message accepted"

    def describe_later(self, base, raw, details):
        with open(base + ".json.tmp", "w") as f:
            json.dump(describe(raw, *details), f)
        os.rename(base + ".json.tmp", base + ".json")


def serve(args):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    options = {}
    if args.auth:
        user, password = args.auth.split(":", 1)

        def check(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
            return AuthResult(success=True) if ok else AuthResult(success=False, handled=False)

        options = {"authenticator": check, "auth_required": True, "auth_require_tls": False}
    controller = Controller(Handler(args.out, args.raw), hostname="127.0.0.1", port=args.port, **options)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--auth")
    s.add_argument("--raw", action="store_true")
    p = sub.add_parser("parse")
    p.add_argument("file")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args)
    else:
        with open(args.file, "rb") as f:
            print(json.dumps(describe(f.read())))


if __name__ == "__main__":
    main()
