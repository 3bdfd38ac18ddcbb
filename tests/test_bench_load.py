"""bench/load.py's client: a request that meets a kept-alive connection the server is closing is sent again once,
as a browser does, and counted apart; anything else without an answer is a failure with its exception."""
from __future__ import annotations

import asyncio
import random
import socket
import struct
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import load  # noqa: E402


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a reset, the request unanswered: what a stopping gunicorn worker's close does to a request
    that arrived on a kept-alive connection."""
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _serve(answer_per_connection: int, seen: list[bytes]):
    """A server answering the first `answer_per_connection` requests of each connection (chunked, with a new
    session cookie), then resetting it."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        for _ in range(answer_per_connection):
            head = await reader.readuntil(b"\r\n\r\n")
            seen.append(head)
            length = next((int(h.split(b":")[1]) for h in head.split(b"\r\n")
                           if h.lower().startswith(b"content-length")), 0)
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: session=renewed; Path=/\r\n\r\n"
                         b"2\r\nok\r\n0\r\n\r\n")
            await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head)
        _reset(writer)

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def _tap(person: load.Person, answer_per_connection: int, taps: int) -> tuple[list[load.Sample], list[bytes]]:
    async def run():
        seen: list[bytes] = []
        server = await _serve(answer_per_connection, seen)
        port = server.sockets[0].getsockname()[1]
        samples: list[load.Sample] = []
        async with load.new_client(f"http://127.0.0.1:{port}", person, False) as client:
            for _ in range(taps):
                await load.visit(client, person, "tap", random.Random(1), samples)
        server.close()
        return samples, seen

    return asyncio.run(run())


def test_a_request_on_a_closing_kept_alive_connection_is_sent_again_once_with_the_same_key():
    person = load.Person("instructor", "signed", "token", class_id="c1", enrollment_ids=["e1"])
    samples, seen = _tap(person, answer_per_connection=1, taps=2)

    assert [s.status for s in samples] == [200, 200]
    assert not samples[0].retried and samples[1].retried and not samples[1].error
    # The tap went out twice with one idempotency key; the renewed session cookie came with every later request.
    assert len(seen) == 3
    assert seen[1].split(b"\r\n\r\n")[0] == seen[2].split(b"\r\n\r\n")[0]
    assert b"Cookie: session=signed\r\n" in seen[0] and b"Cookie: session=renewed\r\n" in seen[1]
    assert b"X-CSRFToken: token\r\n" in seen[0]


def test_a_reset_on_a_new_connection_is_a_failure_with_its_exception():
    person = load.Person("instructor", "signed", "token", class_id="c1", enrollment_ids=["e1"])
    samples, seen = _tap(person, answer_per_connection=0, taps=1)

    assert len(seen) == 1  # not sent again: the connection was not a kept-alive one
    assert samples[0].status == 0 and not samples[0].retried
    assert "ConnectionResetError" in samples[0].error or "closed before any byte" in samples[0].error
