"""Streaming mechanics of the HiveServer2 source: bounded prefetch, end of result, stalled fetches.

In:  an HS2Query driven by a scripted session (canned ExecuteStatement / GetOperationStatus /
     GetResultSetMetadata / FetchResults responses; a FetchResults that blocks on a real socket).
Out: how many FetchResults calls run ahead of a slow consumer, the rows delivered, and that closing
     a query whose fetch is stuck cuts the connection instead of waiting for it.
Faked: the HS2 session (its RPC layer); the query logic under test is the real one.
"""

from __future__ import annotations

import socket
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
from impala._thrift_gen.TCLIService.ttypes import (
    TColumn,
    TColumnDesc,
    TI32Column,
    TPrimitiveTypeEntry,
    TRowSet,
    TTableSchema,
    TTypeDesc,
    TTypeEntry,
)
from thrift.protocol.TBinaryProtocol import TBinaryProtocolAccelerated
from thrift.transport.TTransport import CReadableTransport

from impala_copy.api.plan import ImpalaConnection
from impala_copy.engine.errors import ServerError
from impala_copy.engine.source import hs2
from impala_copy.engine.source import query as hs2_query
from impala_copy.engine.source.hs2 import HS2Query


def _rowset(values: list[int]) -> TRowSet:
    return TRowSet(startRowOffset=0, rows=[], columns=[TColumn(i32Val=TI32Column(values=values, nulls=b""))])


class ScriptedSession:
    """Answers HS2 RPCs from a script; FetchResults returns `blocks` in turn, then an empty block."""

    def __init__(self, blocks: list[list[int]], *, stall_after: int | None = None) -> None:
        self.blocks = list(blocks)
        self.fetches = 0
        self.stall_after = stall_after
        self.reader, self.writer = socket.socketpair()
        self.aborted = False
        self.handle = object()
        self.frames = None  # not a framed connection: one FetchResults call at a time

    @property
    def usable(self) -> bool:
        return not self.aborted

    def abort(self) -> None:
        self.aborted = True
        self.reader.shutdown(socket.SHUT_RDWR)

    def rpc(self, name: str, request: Any, doing: str) -> Any:
        if name == "ExecuteStatement":
            return SimpleNamespace(operationHandle=SimpleNamespace(hasResultSet=True))
        if name == "GetOperationStatus":
            return SimpleNamespace(operationState=2, hasResultSet=True)
        if name == "GetResultSetMetadata":
            entry = TTypeEntry(primitiveEntry=TPrimitiveTypeEntry(type=3))
            column = TColumnDesc(columnName="n", typeDesc=TTypeDesc(types=[entry]), position=1)
            return SimpleNamespace(schema=TTableSchema(columns=[column]))
        if name == "FetchResults":
            self.fetches += 1
            stalled = self.stall_after is not None and self.fetches > self.stall_after
            if stalled and not self.reader.recv(1):  # blocks until abort() shuts the socket down
                raise ServerError("the connection was cut")
            block = self.blocks.pop(0) if self.blocks else []
            return SimpleNamespace(results=_rowset(block), hasMoreRows=False)
        return SimpleNamespace()


def _query(session: ScriptedSession, prefetch: int) -> HS2Query:
    return HS2Query(session, "SELECT n", timeout_seconds=10, batch_rows=3, prefetch=prefetch)  # type: ignore[arg-type]


def test_all_blocks_arrive_in_order_then_the_result_ends():
    session = ScriptedSession([[1, 2, 3], [4, 5, 6], [7]])
    query = _query(session, prefetch=2)
    assert [b.column(0).to_pylist() for b in query.batches()] == [[1, 2, 3], [4, 5, 6], [7]]
    assert query.rows_fetched == 7
    assert session.fetches == 4  # three blocks and the empty one that ends the result
    query.close()


def test_prefetch_is_bounded_while_the_consumer_waits():
    session = ScriptedSession([[i, i, i] for i in range(100)])
    query = _query(session, prefetch=2)
    batches = query.batches()
    next(batches)
    time.sleep(0.5)  # the consumer does not ask for more
    # one block handed out, `prefetch` waiting in the queue, one fetched and waiting for room
    assert session.fetches <= 1 + 2 + 1
    query.close()


def test_closing_a_query_stuck_in_a_fetch_cuts_the_connection(monkeypatch):
    monkeypatch.setattr(hs2_query, "STOP_GRACE_SECONDS", 0.3)
    session = ScriptedSession([[1, 2, 3]], stall_after=1)
    query = _query(session, prefetch=1)
    batches = query.batches()
    assert next(batches).num_rows == 3
    time.sleep(0.2)  # the fetch thread is now blocked in its second FetchResults
    closer = threading.Thread(target=query.close)
    closer.start()
    closer.join(5)
    assert not closer.is_alive()
    assert session.aborted


def test_thrift_decoding_uses_the_c_extension():
    import thrift.protocol.fastbinary  # noqa: F401 - fails loudly when thrift was built without it

    conn = ImpalaConnection.model_validate({"host": "127.0.0.1"})
    a, b = socket.socketpair()
    try:
        transport = hs2._socket_transport(a, conn)
        from thrift.transport.TTransport import TBufferedTransport

        buffered = TBufferedTransport(transport, rbuf_size=hs2.READ_BUFFER_BYTES)
        assert isinstance(buffered, CReadableTransport)
        assert TBinaryProtocolAccelerated(buffered)._fast_decode is not None
    finally:
        a.close()
        b.close()


def test_connected_socket_reads_exactly_and_reports_a_closed_peer():
    conn = ImpalaConnection.model_validate({"host": "127.0.0.1"})
    a, b = socket.socketpair()
    transport = hs2._socket_transport(a, conn)
    payload = bytes(range(256)) * 4000
    sender = threading.Thread(target=lambda: (b.sendall(payload), b.close()))
    sender.start()
    assert transport.readAll(len(payload)) == payload
    sender.join()
    with pytest.raises(Exception, match="read 0 bytes"):
        transport.readAll(1)
    a.close()


@pytest.mark.parametrize(
    ("batch_rows", "columns", "rows"),
    [(50_000, 8, 25_000), (50_000, 2, 50_000), (50_000, 100, 2_000), (50_000, 1_000, 1_000), (500, 8, 500)],
)
def test_fetch_size_follows_the_width_of_the_result(batch_rows, columns, rows):
    assert hs2_query.fetch_rows(batch_rows, columns) == rows
