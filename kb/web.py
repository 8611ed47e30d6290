"""What the chat's web server adds around Gradio before anyone may reach it over a network.

- ``WebGuard``: an ASGI middleware on the FastAPI app that Gradio is mounted on. It refuses requests
  from other sites' pages (a foreign ``Origin``), request bodies over a limit, and sends security
  headers; HTML pages get a Content-Security-Policy that allows exactly the inline scripts Gradio
  wrote into that page (by hash), nothing else inline, and no other site.
- ``Users``: who may log in, with scrypt-hashed passwords from a file (``kb user add``) or the
  environment; the chat refuses to listen beyond loopback without them.
- ``RateLimit``: questions per minute per user or session.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

from .config import AppSettings
from .errors import ConfigError

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


# --- users and passwords -------------------------------------------------------------------------

_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}  # ~50 ms per check: cheap to log in, slow to guess
_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt$" + "$".join(base64.b64encode(x).decode() for x in (salt, digest))


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, salt, digest = stored.split("$")
        expected = base64.b64decode(digest, validate=True)
        if kind != "scrypt":
            return False
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt, validate=True), dklen=len(expected),
                                **_SCRYPT)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def parse_users(text: str, origin: str) -> dict[str, str]:
    """``name:scrypt$salt$hash`` entries, one per line (or separated by commas); ``origin`` names the
    file or variable in the message about a malformed entry (never the entry itself: it holds a hash)."""
    users: dict[str, str] = {}
    for number, entry in enumerate(re.split(r"[\n,]", text), start=1):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        name, _, stored = entry.partition(":")
        if not _NAME.fullmatch(name) or not stored.startswith("scrypt$") or stored.count("$") != 2:
            raise ConfigError(f"Ugyldig bruger nr. {number} i {origin}: skriv den med »kb user add NAVN«.")
        users[name] = stored
    return users


class Users:
    """The users who may log in; an instance is the ``auth`` callable Gradio asks."""

    def __init__(self, users: dict[str, str]) -> None:
        self._users = dict(users)

    @classmethod
    def from_settings(cls, settings: AppSettings, users_file: Path) -> "Users":
        users = parse_users(users_file.read_text(encoding="utf-8"), str(users_file)) if users_file.exists() else {}
        users.update(parse_users(settings.app_users, "KB_APP_USERS"))
        return cls(users)

    def __bool__(self) -> bool:
        return bool(self._users)

    def __len__(self) -> int:
        return len(self._users)

    def names(self) -> list[str]:
        return sorted(self._users)

    def __call__(self, username: str, password: str) -> bool:
        stored = self._users.get(username)
        if stored is None:
            verify_password(password, hash_password("x"))  # same time for unknown names
            return False
        return verify_password(password, stored)


def save_user(users_file: Path, name: str, password: str) -> None:
    """Add or replace one user in the users file (created readable by its owner only)."""
    if not _NAME.fullmatch(name):
        raise ConfigError("Brugernavnet må kun indeholde bogstaverne a-z, tal og . _ @ - (højst 64 tegn).")
    if len(password) < 12:
        raise ConfigError("Adgangskoden skal være mindst 12 tegn.")
    lines = users_file.read_text(encoding="utf-8").splitlines() if users_file.exists() else []
    lines = [line for line in lines if line.partition(":")[0].strip() != name]
    users_file.parent.mkdir(parents=True, exist_ok=True)
    users_file.touch(mode=0o600, exist_ok=True)
    users_file.write_text("\n".join(lines + [f"{name}:{hash_password(password)}"]) + "\n", encoding="utf-8")


def exposure_problem(settings: AppSettings, users: Users) -> str | None:
    """Why the chat must not start as configured, or None: beyond loopback it needs login."""
    if not is_loopback(settings.app_host) and not users:
        return (f"KB_APP_HOST={settings.app_host} gør chatten tilgængelig fra netværket, og det kræver login. "
                "Opret mindst én bruger med »kb user add NAVN« (eller KB_APP_USERS), eller brug 127.0.0.1.")
    return None


# --- rate limit ----------------------------------------------------------------------------------

class RateLimit:
    """At most ``per_minute`` questions in any 60 seconds per key (a user, or a browser session)."""

    def __init__(self, per_minute: int, clock=time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        if self.per_minute <= 0:
            return True
        now = self._clock()
        with self._lock:
            recent = self._seen.setdefault(key, deque())
            while recent and now - recent[0] >= 60:
                recent.popleft()
            if len(recent) >= self.per_minute:
                return False
            recent.append(now)
            if len(self._seen) > 10_000:  # forget idle sessions
                for idle in [k for k, q in self._seen.items() if not q or now - q[-1] >= 60]:
                    del self._seen[idle]
            return True


# --- the ASGI guard ------------------------------------------------------------------------------

BASE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Measured in Chromium (tests/test_app.py): Gradio's pages need inline styles (its components set
# style attributes), data:/blob: images and fonts, and 'unsafe-eval' (Gradio 6's HTML component
# compiles its template with new Function(); without it the sources panel stays empty). Scripts come
# from the app itself plus the inline scripts of each page, allowed by their hashes: an injected
# <script> or a script from another site does not run.
_CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval'{hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; media-src 'self' blob:; "
        "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
_UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def content_security_policy(html: bytes | None = None) -> str:
    hashes = "".join(f" 'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
                     for body in _INLINE_SCRIPT.findall(html or b""))
    return _CSP.format(hashes=hashes)


def _plain(status: int, text: str) -> list[dict]:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in BASE_HEADERS.items()]
    return [{"type": "http.response.start", "status": status, "headers": headers},
            {"type": "http.response.body", "body": body}]


class WebGuard:
    """Pure ASGI (event streams pass through unbuffered); only HTML responses are buffered, to hash
    their inline scripts."""

    def __init__(self, app, settings: AppSettings) -> None:
        self.app = app
        self.max_body = settings.app_max_request_kb * 1024
        self.origins = {o.strip().rstrip("/") for o in settings.app_origins.split(",") if o.strip()}

    def _foreign(self, headers: dict[bytes, bytes]) -> bool:
        origin = headers.get(b"origin", b"").decode("latin-1").rstrip("/")
        if not origin:
            return False  # not sent by a browser for same-origin GETs, nor by API clients
        host = headers.get(b"host", b"").decode("latin-1")
        return urlsplit(origin).netloc != host and origin not in self.origins

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        refusal = None
        if self._foreign(headers):
            refusal = (403, "Forespørgsler fra andre websteder afvises.")
        elif scope["method"] in _UNSAFE_METHODS:
            try:
                declared = int(headers.get(b"content-length", b"0"))
            except ValueError:
                declared = self.max_body + 1
            if declared > self.max_body:
                refusal = (413, "Forespørgslen er for stor.")
        if refusal is None and scope["method"] in _UNSAFE_METHODS:
            receive, too_large = await self._read_body(receive)
            if too_large:
                refusal = (413, "Forespørgslen er for stor.")
        if refusal:
            for message in _plain(*refusal):
                await send(message)
            return
        await self.app(scope, receive, self._with_headers(send))

    async def _read_body(self, receive):
        """The whole body, read up to the limit whatever Content-Length claimed, then replayed to the
        app; (replay, True) when it outgrew the limit."""
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_body:
                return receive, True
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay():
            return messages.pop(0) if messages else await receive()
        return replay, False

    def _with_headers(self, send):
        start: dict | None = None
        chunks: list[bytes] = []

        async def sending(message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.lower().encode(), v.encode()) for k, v in BASE_HEADERS.items()
                         if k.lower().encode() not in names]
                message = {**message, "headers": list(message.get("headers", [])) + extra}
                content_type = dict(message["headers"]).get(b"content-type", b"")
                if content_type.startswith(b"text/html") and b"content-encoding" not in names:
                    start = message  # held back until the whole page is here, to hash its scripts
                    return
                message["headers"].append((b"content-security-policy", content_security_policy().encode()))
                await send(message)
            elif start is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    page = b"".join(chunks)
                    start["headers"].append((b"content-security-policy", content_security_policy(page).encode()))
                    await send(start)
                    await send({"type": "http.response.body", "body": page})
            else:
                await send(message)
        return sending
