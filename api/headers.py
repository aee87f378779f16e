"""Response headers every HTTP answer carries."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from api.asgi import HttpMiddleware


class NoSniff(HttpMiddleware):
    """Adds ``X-Content-Type-Options: nosniff`` to every HTTP response."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-content-type-options", b"nosniff")]
            await send(message)

        await self.app(scope, receive, with_header)
