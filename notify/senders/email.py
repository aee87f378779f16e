"""E-mail over SMTP: STARTTLS and authentication when the target asks for them; the frame linked or attached."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable

from notify.config import EmailTarget
from notify.payloads import Notice, email
from notify.senders.base import SendError
from schemas.records import ObjectRef


class EmailSender:
    def __init__(self, target: EmailTarget, fetch: Callable[[ObjectRef], bytes] | None = None) -> None:
        self.target = target
        self.fetch = fetch

    def _attachment(self, notice: Notice) -> bytes | None:
        frame = notice.alert.best_frame
        if self.target.evidence != "attach" or frame is None or self.fetch is None:
            return None
        try:
            return self.fetch(frame)
        except Exception as exc:  # the store may be down: the alert still goes out, with the link if any
            raise SendError(f"evidence frame unavailable: {exc}", transient=True) from exc

    def send(self, notice: Notice) -> str:
        t = self.target
        message = email(notice, t.sender, list(t.to), self._attachment(notice))
        try:
            with smtplib.SMTP(t.host, t.port, timeout=t.timeout_s) as smtp:
                if t.starttls:
                    cafile = str(t.ca_file) if t.ca_file else None
                    smtp.starttls(context=ssl.create_default_context(cafile=cafile))
                if t.username:
                    smtp.login(t.username, t.password.get_secret_value() if t.password else "")
                refused = smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            raise SendError(f"SMTP {exc.smtp_code}: {text}", transient=400 <= exc.smtp_code < 500) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendError(f"every recipient refused: {', '.join(exc.recipients)}", transient=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"{type(exc).__name__}: {exc}", transient=True) from exc
        delivered = len(t.to) - len(refused)
        return f"accepted for {delivered} of {len(t.to)} recipients"

    def close(self) -> None:
        return
