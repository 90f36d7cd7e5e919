"""How `semsearch serve` runs uvicorn, with the request-head limit in force.

uvicorn picks httptools when it is installed (it is: about 0.8 ms off each search,
``docs/benchmarks.md``), and httptools ignores ``h11_max_incomplete_event_size``: a request
whose headers were 64 MiB was read whole. ``HeadLimitedHttpTools`` counts the bytes of each
request's line and headers as they arrive and answers 431, closing the connection, once they
pass ``MAX_REQUEST_HEAD_BYTES``; the h11 limit is set too, for ``--http h11``. Both servers
(`semsearch serve`, and the tests' and benchmarks' ``serve_in_thread``) take their options from
``uvicorn_options``, so a test runs the protocol users get.
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from web.errors import error_body
from web.guard import MAX_REQUEST_HEAD_BYTES


class HeadLimitedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request line and headers over the limit.

    Bytes are counted from the start of a request until its headers are complete (a body is
    never counted), so a client cannot make the server buffer more than the limit plus one read
    of the socket before it is answered."""

    max_head_bytes = MAX_REQUEST_HEAD_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse_head()
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # The next request on a kept-alive connection is counted afresh.
        self._in_head = True
        self._head_bytes = 0

    def send_400_response(self, msg: str) -> None:
        """A request the parser cannot read gets the app's JSON error shape too, not uvicorn's
        plain text: clients of the API parse one shape."""
        self._answer(400, "Bad Request", "bad_request", f"{msg} (the request is malformed)")

    def _refuse_head(self) -> None:
        message = (
            f"the request line and headers are over {self.max_head_bytes // 1024} KiB; "
            "send filters in a POST body instead"
        )
        self.logger.warning("refused a request whose head passed %d bytes", self.max_head_bytes)
        self._answer(
            431, "Request Header Fields Too Large", "request_header_fields_too_large", message
        )

    def _answer(self, status: int, phrase: str, code: str, message: str) -> None:
        """Write the JSON error and close: the rest of the request is never read."""
        body = json.dumps(error_body(status, code, message)).encode()
        head = (
            f"HTTP/1.1 {status} {phrase}\r\n".encode()
            + b"content-type: application/json\r\n"
            + b"content-length: "
            + str(len(body)).encode()
            + b"\r\n"
            + b"connection: close\r\n\r\n"
        )
        self.transport.write(head + body)
        self.transport.close()


def uvicorn_options() -> dict[str, Any]:
    """The ``uvicorn.Config`` options every server of the app runs with."""
    return {
        "http": HeadLimitedHttpTools,
        "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES,
    }
