"""Python half of scripts/oauthbed: a real OAuth 2.0 authorization server on
loopback (django-oauth-toolkit in a throwaway, single-file Django project with
SQLite), and the clients that drive it.

Called by scripts/oauthbed only:
  oauthbed.py serve DIR ACCESS_SECONDS INTERVAL [PORT] [--refresh-seconds N]
        binds 127.0.0.1 on a port the kernel picks (no probe-then-bind race),
        creates DIR/oauth.sqlite3 afresh (user, applications), writes
        DIR/oauthbed.ready (JSON: port, pid and client credentials) and serves
        until SIGTERM. With PORT (scripts/oauthbed start): binds that port
        and keeps the database and the credentials of the ready file. With
        --refresh-seconds: refresh tokens die N seconds after they are issued
        and token answers carry "refresh_token_expires_in" (RefreshAgeValidator).
        Needs Django and django-oauth-toolkit.
  oauthbed.py approve ENVFILE USER_CODE
        what a person does in a browser: log in at the verification page and
        approve USER_CODE, over HTTP with cookies and CSRF tokens (stdlib only)
  oauthbed.py revoke ENVFILE
        revokes every token of the user at the real revocation endpoint
        (RFC 7009); the token list comes from the database (Django ORM)
  oauthbed.py check ENVFILE MAILBED_ENVFILE
        the end-to-end proof: device flow, IMAP and SMTP (submission) with
        XOAUTH2 and OAUTHBEARER against the mail bed's Dovecot, refresh token
        rotation, expiry, revocation (stdlib only)

The Django project is this module itself: settings come from
configure(), the URLs are `urlpatterns` below (ROOT_URLCONF = "oauthbed"),
the login page's template is an in-memory one.
"""

import base64
import http.cookiejar
import imaplib
import json
import os
import re
import smtplib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

USER = "support@example.test"
PASSWORD = "secret"
# What a client may ask for. Besides our own "mail", the scope strings of
# Microsoft 365 and Gmail, so that guichet can be configured as for them.
SCOPES = {
    "mail": "Read and send your mail (IMAP and SMTP)",
    "offline_access": "Keep access (refresh tokens)",
    "https://outlook.office.com/IMAP.AccessAsUser.All": "IMAP (Microsoft 365 style)",
    "https://outlook.office.com/SMTP.Send": "SMTP (Microsoft 365 style)",
    "https://mail.google.com/": "IMAP and SMTP (Gmail style)",
}
DEFAULT_SCOPES = ["mail"]

LOGIN_TEMPLATE = """<!DOCTYPE html>
<html><head><title>Sign in</title></head><body>
<h1>Sign in</h1>
{% if form.errors %}<p class="errornote">Wrong user name or password.</p>{% endif %}
<form method="post">{% csrf_token %}{{ form.as_p }}
<input type="hidden" name="next" value="{{ next }}">
<button type="submit">Sign in</button></form>
</body></html>"""


# --- the Django project --------------------------------------------------------

def configure(bed_dir, port, access_seconds, interval, refresh_seconds=None):
    import secrets

    from django.conf import settings

    base = f"http://127.0.0.1:{port}"
    settings.configure(
        DEBUG=False,
        SECRET_KEY=secrets.token_urlsafe(40),
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF="oauthbed",
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.staticfiles",  # DOT's base template does {% load static %}
            "oauth2_provider",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        ],
        TEMPLATES=[{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": False,
            "OPTIONS": {
                "context_processors": ["django.template.context_processors.request"],
                "loaders": [
                    ("django.template.loaders.locmem.Loader",
                     {"registration/login.html": LOGIN_TEMPLATE}),
                    "django.template.loaders.app_directories.Loader",
                ],
            },
        }],
        DATABASES={"default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(bed_dir, "oauth.sqlite3"),
            # Server threads and `oauthbed revoke` write at the same time.
            "OPTIONS": {"timeout": 20},
        }},
        # No migrations: `migrate --run-syncdb` creates the tables straight
        # from the models, in a fraction of the time.
        MIGRATION_MODULES={a: None for a in ("auth", "contenttypes", "sessions", "oauth2_provider")},
        # Fast hashing: DOT hashes client secrets and checks them on every
        # token and introspection request; PBKDF2 would cost ~0.5 s each.
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
        STATIC_URL="/static/",
        LOGIN_URL="/accounts/login/",
        OAUTH2_PROVIDER=dict({
            "ACCESS_TOKEN_EXPIRE_SECONDS": access_seconds,
            "ROTATE_REFRESH_TOKEN": True,
            "REFRESH_TOKEN_EXPIRE_SECONDS": None,  # refresh tokens are kept
            "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,  # a used one fails at once
            "SCOPES": SCOPES,
            "DEFAULT_SCOPES": DEFAULT_SCOPES,
            "DEVICE_FLOW_INTERVAL": interval,
            "OAUTH_DEVICE_VERIFICATION_URI": f"{base}/o/device/",
            "OAUTH_DEVICE_VERIFICATION_URI_COMPLETE": f"{base}/o/device/?user_code={{user_code}}",
        }, **({} if not refresh_seconds else {
            # --refresh-seconds. DOT 3.4.1 alone refuses a refresh token only
            # REFRESH_TOKEN_EXPIRE_SECONDS after its *access token* expired
            # (so ACCESS_SECONDS + N after issue) and never tells the client;
            # RefreshAgeValidator refuses it N seconds after issue and adds
            # "refresh_token_expires_in" to the token answers.
            "REFRESH_TOKEN_EXPIRE_SECONDS": refresh_seconds,
            "OAUTH2_VALIDATOR_CLASS": "oauthbed.RefreshAgeValidator",
        })),
        LOGGING={
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {"console": {"class": "logging.StreamHandler"}},
            "loggers": {
                # One line per request (runserver's access log), and the
                # tracebacks of 500s, into DIR/log/oauth.log.
                "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
                "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
            },
        },
    )
    import django

    django.setup()


def _urls():
    from django.contrib.auth import views as auth_views
    from django.urls import include, path

    return [
        path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
        path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    ]


_refresh_age_validator = None


def _make_refresh_age_validator():
    """DOT's OAuth2Validator, plus a hard lifetime for refresh tokens
    (--refresh-seconds N, read back from REFRESH_TOKEN_EXPIRE_SECONDS):

    - the refresh grant refuses a refresh token issued N seconds ago or more
      (400 {"error": "invalid_grant"}, as for any refresh token DOT refuses);
    - every token answer that carries a refresh_token also carries
      "refresh_token_expires_in", the whole seconds it has left: N for one
      issued by this very request (every answer, as refresh tokens rotate),
      rounded down otherwise.
    """
    import hashlib
    import math

    from django.utils import timezone
    from oauth2_provider.models import get_refresh_token_model, refresh_token_expire_timedelta
    from oauth2_provider.oauth2_validators import OAuth2Validator

    RefreshToken = get_refresh_token_model()

    class RefreshAgeValidator(OAuth2Validator):
        def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
            if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
                return False
            lifetime = refresh_token_expire_timedelta()
            rt = request.refresh_token_instance
            # "<=": the deadline itself counts as expired, as in DOT.
            return not (lifetime and rt.created + lifetime <= timezone.now())

        def save_bearer_token(self, token, request, *args, **kwargs):
            started = timezone.now()
            result = super().save_bearer_token(token, request, *args, **kwargs)
            lifetime = refresh_token_expire_timedelta()
            code = token.get("refresh_token")
            if lifetime and code:
                checksum = hashlib.sha256(code.encode("utf-8")).hexdigest()
                rows = RefreshToken.objects.filter(token_checksum=checksum)
                rt = rows.filter(revoked__isnull=True).first() or rows.first()
                if rt is None or rt.created >= started:
                    left = int(lifetime.total_seconds())
                else:
                    left = max(0, math.floor((rt.created + lifetime - timezone.now()).total_seconds()))
                token["refresh_token_expires_in"] = left
            return result

    return RefreshAgeValidator


def __getattr__(name):
    # ROOT_URLCONF is this module; its URLs are only built once Django is set
    # up (PEP 562), so the stdlib-only commands never import Django. The same
    # for OAUTH2_VALIDATOR_CLASS "oauthbed.RefreshAgeValidator" (--refresh-seconds).
    global _refresh_age_validator
    if name == "urlpatterns":
        return _urls()
    if name == "RefreshAgeValidator":
        if _refresh_age_validator is None:
            _refresh_age_validator = _make_refresh_age_validator()
        return _refresh_age_validator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def setup_data():
    """Fresh tables, the user and the two applications. Returns the
    credentials, in clear (DOT stores the secrets hashed)."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from oauth2_provider.generators import generate_client_id, generate_client_secret
    from oauth2_provider.models import get_application_model

    call_command("migrate", run_syncdb=True, verbosity=0)
    get_user_model().objects.create_user(username=USER, email=USER, password=PASSWORD)
    Application = get_application_model()
    creds = {}
    # The mail client (guichet): confidential, with a secret; device code
    # grant, which DOT pairs with the refresh_token grant.
    client_id, client_secret = generate_client_id(), generate_client_secret()
    Application.objects.create(
        name="guichet",
        client_id=client_id,
        client_secret=client_secret,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_DEVICE_CODE,
    )
    creds["client_id"], creds["client_secret"] = client_id, client_secret
    # The resource server (Dovecot): its own credentials, used only to
    # authenticate (HTTP Basic) at the introspection endpoint.
    client_id, client_secret = generate_client_id(), generate_client_secret()
    Application.objects.create(
        name="dovecot",
        client_id=client_id,
        client_secret=client_secret,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    creds["introspect_client_id"], creds["introspect_client_secret"] = client_id, client_secret
    return creds


def serve(bed_dir, access_seconds, interval, port=0, refresh_seconds=None):
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    ready = os.path.join(bed_dir, "oauthbed.ready")
    restart = port != 0
    if restart:
        # A restart: same database, so the same clients, users and tokens.
        with open(ready) as f:
            creds = {k: v for k, v in json.load(f).items() if k not in ("port", "pid")}
    # Bound (and listening) before anything else: the port is known, and
    # ours, from here on; requests wait in the backlog until serve_forever.
    httpd = ThreadedWSGIServer(("127.0.0.1", port), WSGIRequestHandler)
    port = httpd.server_address[1]
    configure(bed_dir, port, access_seconds, interval, refresh_seconds)
    if not restart:
        db = os.path.join(bed_dir, "oauth.sqlite3")
        for suffix in ("", "-journal", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        creds = setup_data()
    from django.core.wsgi import get_wsgi_application

    httpd.set_app(get_wsgi_application())
    with open(ready + ".tmp", "w") as f:
        json.dump(dict(creds, port=port, pid=os.getpid()), f)
    os.replace(ready + ".tmp", ready)
    print(f"oauthbed: serving on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    import signal

    # SIGTERM (scripts/oauthbed down) ends serve_forever cleanly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()


# --- clients (stdlib only) -------------------------------------------------------

class Fail(Exception):
    """A one-line failure, printed as `oauthbed: ...` with exit status 1."""


def read_env(path):
    # oauthbed.env is written with shlex.quote, mailbed.env with printf %q:
    # no value needs quoting except paths with odd characters, which
    # shlex.split undoes either way.
    import shlex

    env = {}
    with open(path) as f:
        for line in f:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                env[key] = " ".join(shlex.split(value)) if value else ""
    return env


def post_form(url, fields, timeout=30):
    """POST form fields; returns (HTTP status, parsed JSON body or text)."""
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(url, data=data, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, body = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode(errors="replace")


CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ERRORS_RE = re.compile(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', re.S)


def _csrf(html, what):
    m = CSRF_RE.search(html)
    if not m:
        raise Fail(f"approve: no CSRF token on the {what} page")
    return m.group(1)


def approve(env, user_code):
    """Logs in as the user and approves USER_CODE, as at a browser."""
    base = f"http://127.0.0.1:{env['OAUTH_PORT']}"
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def fetch(path, fields=None):
        data = urllib.parse.urlencode(fields).encode() if fields is not None else None
        try:
            with opener.open(base + path, data=data, timeout=30) as r:
                return urllib.parse.urlsplit(r.geturl()).path, r.read().decode()
        except urllib.error.HTTPError as e:
            raise Fail(f"approve: HTTP {e.code} from {path}") from None

    # The verification page sends us to the login form first.
    _, html = fetch("/accounts/login/?next=/o/device/")
    where, html = fetch("/accounts/login/", {
        "csrfmiddlewaretoken": _csrf(html, "login"),
        "username": env["OAUTH_USER"], "password": env["OAUTH_PASSWORD"],
        "next": "/o/device/"})
    if where != "/o/device/":
        raise Fail(f"approve: login as {env['OAUTH_USER']} failed")
    # Enter the code; a valid one leads to the accept/deny page.
    where, html = fetch("/o/device/", {
        "csrfmiddlewaretoken": _csrf(html, "device"), "user_code": user_code})
    if not where.startswith("/o/device-confirm/"):
        errors = " ".join(re.sub(r"<[^>]+>", " ", m) for m in ERRORS_RE.findall(html)).split()
        raise Fail(f"approve: user code {user_code!r} refused: {' '.join(errors) or 'unknown error'}")
    confirm = where
    where, html = fetch(confirm, {"csrfmiddlewaretoken": _csrf(html, "confirm"), "action": "accept"})
    if not where.startswith("/o/device-grant-status/") or "Authorized" not in html:
        raise Fail(f"approve: accepting {user_code!r} did not authorize the device (ended at {where})")


def revoke(env_path):
    """Revokes every live token of the user at the revocation endpoint.
    Tokens of an application whose secret we do not know (none in a bed
    made by `up`) are revoked through the ORM instead."""
    env = read_env(env_path)
    bed_dir = os.path.dirname(os.path.abspath(env_path))
    configure(bed_dir, int(env["OAUTH_PORT"]), int(env["ACCESS_SECONDS"]), int(env["DEVICE_INTERVAL"]),
              int(env.get("REFRESH_SECONDS") or 0) or None)
    from oauth2_provider.models import get_access_token_model, get_refresh_token_model

    known = {env["CLIENT_ID"]: env["CLIENT_SECRET"],
             env["INTROSPECT_CLIENT_ID"]: env["INTROSPECT_CLIENT_SECRET"]}
    counts = {"refresh_token": 0, "access_token": 0}

    def revoke_one(token, hint):
        app = token.application
        secret = known.get(app.client_id) if app else None
        if secret is None:
            token.revoke()
        else:
            status, body = post_form(env["REVOKE_URL"], {
                "token": token.token, "token_type_hint": hint,
                "client_id": app.client_id, "client_secret": secret})
            if status != 200:
                raise Fail(f"revoke: the revocation endpoint answered {status}: {body}")
        counts[hint] += 1

    # A refresh token's revocation takes its access token along; the
    # access tokens left are those whose refresh token was rotated away.
    for rt in list(get_refresh_token_model().objects.filter(user__username=env["OAUTH_USER"],
                                                             revoked__isnull=True)):
        revoke_one(rt, "refresh_token")
    for at in list(get_access_token_model().objects.filter(user__username=env["OAUTH_USER"])):
        revoke_one(at, "access_token")
    print(f"revoked {counts['refresh_token']} refresh and {counts['access_token']} access tokens "
          f"of {env['OAUTH_USER']}")


# --- the end-to-end check ----------------------------------------------------------

def xoauth2(user, token):
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def oauthbearer(user, token, host, port):
    return f"n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"


def imap_auth(menv, mech, token):
    """AUTHENTICATE at the bed's Dovecot; returns (ok, detail). On refusal,
    detail holds the server's error challenge (decoded) and its NO line."""
    host, port = menv["IMAP_HOST"], int(menv["IMAP_PORT"])
    imap = imaplib.IMAP4(host, port, timeout=30)
    challenges = []

    def answer(challenge):
        # First call: the empty "+ " continuation. A second one carries the
        # server's JSON error (RFC 7628); the client answers it empty.
        challenges.append(challenge)
        if len(challenges) > 1:
            return b""
        if mech == "XOAUTH2":
            return xoauth2(menv["IMAP_USER"], token).encode()
        return oauthbearer(menv["IMAP_USER"], token, host, port).encode()

    try:
        try:
            typ, data = imap.authenticate(mech, answer)
        except imaplib.IMAP4.error as e:
            return False, f"challenge {challenges[1:]!r}, {e}"
        # Proof that the session belongs to the user: the INBOX opens.
        typ, data = imap.select("INBOX")
        if typ != "OK":
            return False, f"SELECT INBOX after login: {typ} {data}"
        return True, f"{typ} {data}"
    finally:
        try:
            imap.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def smtp_connect(menv):
    s = smtplib.SMTP(menv["IMAP_HOST"], int(menv["SUBMISSION_PORT"]), timeout=30)
    s.ehlo("oauthbed-check")
    return s


def smtp_auth(s, mech, menv, token):
    """SMTP AUTH on an open submission session; returns (ok, detail)."""
    host, port = menv["IMAP_HOST"], int(menv["SUBMISSION_PORT"])
    calls = []

    def answer(challenge=None):
        calls.append(challenge)
        if challenge is not None and len(calls) > 1:
            return ""  # the server's JSON error challenge: answer empty
        if mech == "XOAUTH2":
            return xoauth2(menv["IMAP_USER"], token)
        return oauthbearer(menv["IMAP_USER"], token, host, port)

    try:
        code, resp = s.auth(mech, answer, initial_response_ok=True)
        return True, f"{code} {resp.decode(errors='replace')}"
    except smtplib.SMTPAuthenticationError as e:
        return False, f"challenge {calls[1:]!r}, {e.smtp_code} {e.smtp_error.decode(errors='replace')}"


def sink_has(menv, subject, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for sub in ("new", "cur"):
            d = os.path.join(menv["SINK_DIR"], sub)
            for name in os.listdir(d) if os.path.isdir(d) else []:
                try:
                    with open(os.path.join(d, name), "rb") as f:
                        if subject.encode() in f.read():
                            return os.path.join(d, name)
                except OSError:
                    pass
        time.sleep(0.1)
    return None


def check(env_path, menv_path):
    """Every step prints one "ok" line; the first failure ends the check
    (exit 1, one line). The positive logins come right after each token is
    issued, the refusals (2 s each: Dovecot's auth_failure_delay) after
    them, so that the check also passes with --access-seconds 5."""
    env, menv = read_env(env_path), read_env(menv_path)
    if "SUBMISSION_PORT" not in menv:
        raise Fail(f"check: {menv_path} has no SUBMISSION_PORT: start the mail bed with "
                   f"scripts/mailbed up DIR --oauth {os.path.dirname(os.path.abspath(env_path))}")
    if menv.get("OAUTH_ENV") != os.path.abspath(env_path):
        raise Fail(f"check: that mail bed validates tokens against {menv.get('OAUTH_ENV')}, "
                   f"not {os.path.abspath(env_path)}")
    client = {"client_id": env["CLIENT_ID"], "client_secret": env["CLIENT_SECRET"]}
    lifetime = int(env["ACCESS_SECONDS"])
    steps = 0
    t0 = time.monotonic()

    def ok(what):
        nonlocal steps
        steps += 1
        print(f"ok {steps:2d} {time.monotonic() - t0:5.1f}s  {what}", flush=True)

    def expect(cond, what):
        if not cond:
            raise Fail(f"check: FAILED: {what}")
        ok(what)

    # 1. Device authorization request (RFC 8628 3.1).
    status, dev = post_form(env["DEVICE_AUTHORIZATION_URL"], dict(client, scope=env["OAUTH_SCOPE"]))
    expect(status == 200 and isinstance(dev, dict) and "device_code" in dev,
           f"device authorization: {status} {dev if status != 200 else ''}user_code "
           f"{dev.get('user_code') if isinstance(dev, dict) else ''}, verification_uri "
           f"{dev.get('verification_uri') if isinstance(dev, dict) else ''}, interval "
           f"{dev.get('interval') if isinstance(dev, dict) else ''}")
    interval = int(dev.get("interval", 5))

    def poll():
        return post_form(env["TOKEN_URL"], dict(
            client, grant_type="urn:ietf:params:oauth:grant-type:device_code",
            device_code=dev["device_code"]))

    status, body = poll()
    expect(status == 400 and isinstance(body, dict) and body.get("error") == "authorization_pending",
           f"token endpoint before approval: {status} {body}")

    # 2. A wrong code is refused by the verification page; the right one is approved.
    try:
        approve(env, "NOSUCHCODE")
        raise Fail("check: FAILED: approve accepted an unknown user code")
    except Fail as e:
        if "FAILED" in str(e):
            raise
        ok(f"approve with an unknown code fails: {e}")
    approve(env, dev["user_code"])
    ok(f"approved {dev['user_code']} as {env['OAUTH_USER']} (login, code, accept over HTTP)")

    # 3. Poll as a device does, every `interval` seconds.
    deadline = time.monotonic() + 60
    while True:
        time.sleep(interval)
        status, tok = poll()
        if status == 200 or time.monotonic() > deadline:
            break
    issued = time.monotonic()
    expect(status == 200 and "access_token" in tok and "refresh_token" in tok,
           f"tokens after approval: token_type {tok.get('token_type')}, expires_in "
           f"{tok.get('expires_in')}, scope {tok.get('scope')!r}, refresh token present")
    access1, refresh1 = tok["access_token"], tok["refresh_token"]

    # Introspection as Dovecot does it, to show (and check) what it sees.
    status, intro = introspect(env, access1)
    expect(status == 200 and intro.get("active") is True and intro.get("username") == env["OAUTH_USER"],
           f"introspection answer: {json.dumps(intro, sort_keys=True)}")

    # 4. The access token opens IMAP and SMTP (submission): XOAUTH2 and OAUTHBEARER.
    for mech in ("XOAUTH2", "OAUTHBEARER"):
        good, detail = imap_auth(menv, mech, access1)
        expect(good, f"IMAP AUTHENTICATE {mech} with the access token: {detail}")
    s = smtp_connect(menv)
    offered = s.esmtp_features.get("auth", "").upper().split()
    s.close()
    expect({"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"} <= set(offered),
           f"submission port {menv['SUBMISSION_PORT']} offers AUTH {' '.join(offered)}")
    subject = f"oauthbed check {os.getpid()}-{time.time_ns()}"
    for mech in ("XOAUTH2", "OAUTHBEARER"):
        s = smtp_connect(menv)
        good, detail = smtp_auth(s, mech, menv, access1)
        if good and mech == "XOAUTH2":
            msg = (f"From: {menv['IMAP_USER']}\r\nTo: someone@example.test\r\n"
                   f"Subject: {subject}\r\nMessage-ID: <{time.time_ns()}@oauthbed.test>\r\n\r\n"
                   "Sent through Dovecot's submission service with an OAuth 2.0 token.\r\n")
            s.sendmail(menv["IMAP_USER"], ["someone@example.test"], msg)
            detail += ", one mail sent"
        s.quit()
        expect(good, f"SMTP AUTH {mech} with the access token: {detail}")
    path = sink_has(menv, subject)
    expect(path is not None, f"the mail reached the sink: {path}")
    if time.monotonic() - issued >= lifetime:
        raise Fail(f"check: the access token expired ({lifetime} s) before the logins were done: "
                   "start the OAuth bed with a longer --access-seconds")

    # 5. Refusals: a bad token (IMAP both ways, SMTP); the password still works.
    for mech in ("XOAUTH2", "OAUTHBEARER"):
        good, detail = imap_auth(menv, mech, "not-a-token-" + access1[:8])
        expect(not good, f"IMAP AUTHENTICATE {mech} with a bad token refused: {detail}")
    s = smtp_connect(menv)
    good, detail = smtp_auth(s, "XOAUTH2", menv, "not-a-token")
    s.close()
    expect(not good, f"SMTP AUTH XOAUTH2 with a bad token refused: {detail}")
    imap = imaplib.IMAP4(menv["IMAP_HOST"], int(menv["IMAP_PORT"]), timeout=30)
    typ, _ = imap.login(menv["IMAP_USER"], menv["IMAP_PASSWORD"])
    imap.logout()
    expect(typ == "OK", "IMAP LOGIN with the password still works")

    # 6. Refresh: a new refresh token each time (rotation); the old one is dead.
    def refresh(rt):
        return post_form(env["TOKEN_URL"], dict(client, grant_type="refresh_token", refresh_token=rt))

    status, tok2 = refresh(refresh1)
    issued = time.monotonic()
    expect(status == 200 and tok2.get("refresh_token") not in (None, refresh1)
           and tok2.get("access_token") != access1,
           "refresh returns a new access token and a NEW refresh token")
    access2, refresh2 = tok2["access_token"], tok2["refresh_token"]
    good, detail = imap_auth(menv, "XOAUTH2", access2)
    expect(good, "IMAP XOAUTH2 with the refreshed access token")
    status, body = refresh(refresh1)
    expect(status != 200, f"the old refresh token no longer works: {status} {body}")

    # 7. Expiry: the access token is refused by Dovecot once it expired.
    if lifetime <= 30:
        time.sleep(max(0.0, issued + lifetime + 1 - time.monotonic()))
        good, detail = imap_auth(menv, "XOAUTH2", access2)
        expect(not good, f"after {lifetime} s the expired access token is refused: {detail}")
    else:
        print(f"skip      expiry (access tokens live {lifetime} s; start the OAuth bed with "
              "--access-seconds 5 to check it)", flush=True)

    # 8. Revocation: the next refresh and the next login fail.
    status, tok3 = refresh(refresh2)
    issued = time.monotonic()
    expect(status == 200 and tok3.get("refresh_token") not in (None, refresh2),
           "refresh again: new tokens")
    access3, refresh3 = tok3["access_token"], tok3["refresh_token"]
    good, detail = imap_auth(menv, "XOAUTH2", access3)
    expect(good, "IMAP XOAUTH2 with the new access token")
    here = os.path.dirname(os.path.abspath(__file__))
    r = subprocess.run([os.path.join(here, "oauthbed"), "revoke", os.path.dirname(os.path.abspath(env_path))],
                       capture_output=True, text=True)
    expect(r.returncode == 0, f"scripts/oauthbed revoke: {(r.stdout + r.stderr).strip()}")
    age = time.monotonic() - issued
    status, intro = introspect(env, access3)
    expect(status == 200 and intro == {"active": False},
           f"introspection after revocation: {intro} (token issued {age:.1f} s ago, lives {lifetime} s)")
    status, body = refresh(refresh3)
    expect(status != 200, f"refresh after revocation fails: {status} {body}")
    good, detail = imap_auth(menv, "XOAUTH2", access3)
    expect(not good, f"IMAP XOAUTH2 after revocation refused: {detail}")
    s = smtp_connect(menv)
    good, detail = smtp_auth(s, "XOAUTH2", menv, access3)
    s.close()
    expect(not good, f"SMTP AUTH XOAUTH2 after revocation refused: {detail}")
    print(f"check: all {steps} steps passed in {time.monotonic() - t0:.1f} s")


def introspect(env, token):
    """POST to the introspection endpoint with Dovecot's client credentials
    (HTTP Basic), as Dovecot's oauth2 passdb does."""
    cred = base64.b64encode(f"{env['INTROSPECT_CLIENT_ID']}:{env['INTROSPECT_CLIENT_SECRET']}".encode()).decode()
    req = urllib.request.Request(env["INTROSPECTION_URL"], method="POST",
                                 data=urllib.parse.urlencode({"token": token}).encode(),
                                 headers={"Authorization": f"Basic {cred}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {"http_error": e.read().decode(errors="replace")}


def main(argv):
    cmd, args = (argv[0], argv[1:]) if argv else ("", [])
    refresh = None
    if cmd == "serve" and len(args) >= 2 and args[-2] == "--refresh-seconds":
        args, refresh = args[:-2], int(args[-1])
    if cmd == "serve" and len(args) in (3, 4):
        serve(args[0], int(args[1]), int(args[2]), int(args[3]) if len(args) == 4 else 0, refresh)
    elif cmd == "approve" and len(args) == 2:
        approve(read_env(args[0]), args[1])
        print(f"approved {args[1]}")
    elif cmd == "revoke" and len(args) == 1:
        revoke(args[0])
    elif cmd == "check" and len(args) == 2:
        check(args[0], args[1])
    else:
        sys.exit(f"oauthbed.py: bad command line: {' '.join(argv)}")


if __name__ == "__main__":
    # Imported under its own name too, as ROOT_URLCONF "oauthbed": one module.
    sys.modules.setdefault("oauthbed", sys.modules["__main__"])
    try:
        main(sys.argv[1:])
    except Fail as e:
        sys.exit(f"oauthbed: {e}")
    except (OSError, imaplib.IMAP4.error, smtplib.SMTPException) as e:
        sys.exit(f"oauthbed: {type(e).__name__}: {e}")
