"""A minimal OTLP/HTTP protobuf trace receiver on a real 127.0.0.1 socket, for tests.

It decodes each ``POST /v1/traces`` body (gzipped or not) with ``opentelemetry-proto``
into ``ExportTraceServiceRequest`` messages, keeps them and the request headers, and
answers 200 (or ``status`` while set). :func:`spans` flattens what it received into
plain dictionaries that tests compare.
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


@dataclass
class Collector:
    url: str  # the base URL: the SDK appends /v1/traces
    requests: list[ExportTraceServiceRequest] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    status: int = 200

    def spans(self) -> list[dict[str, Any]]:
        return spans(self.requests)


@contextlib.contextmanager
def collector() -> Iterator[Collector]:
    """A running receiver; stopped (and its port closed) on exit."""
    got = Collector(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            got.requests.append(request)
            got.headers.append({k.lower(): v for k, v in self.headers.items()})
            got.paths.append(self.path)
            self.send_response(got.status)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    got.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield got
    finally:
        httpd.shutdown()
        httpd.server_close()


def spans(requests: list[ExportTraceServiceRequest]) -> list[dict[str, Any]]:
    """Every span received: ids in hex, attributes as plain values, resource, events."""
    found = []
    for request in requests:
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        {
                            "name": span.name,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_id": span.parent_span_id.hex() or None,
                            "kind": span.kind,
                            "attributes": _attributes(span.attributes),
                            "status": span.status.code,
                            "status_message": span.status.message,
                            "events": [(e.name, _attributes(e.attributes)) for e in span.events],
                            "start": span.start_time_unix_nano,
                            "end": span.end_time_unix_nano,
                            "resource": resource,
                            "scope": scope_spans.scope.name,
                        }
                    )
    return found


def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs}


def _value(value: Any) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    return None if which is None else getattr(value, which)
