"""One HiveServer2 query: run it, wait for it within its timeout, stream its result as Arrow batches.

    query = HS2Query(session, sql, timeout_seconds=7200, batch_rows=50_000, prefetch=1)
    query.fetch_rows        # rows per FetchResults: batch_rows, or fewer for a wide result
    query.schema            # from GetResultSetMetadata
    for batch in query.batches(): ...
    query.close()           # cancels the query if rows are left unread

Streaming: a fetch thread calls FetchResults and hands blocks to the consumer through a queue of
`prefetch` items, so fetching overlaps with what the consumer does (writing the sink).

- On a framed (SASL) connection the fetch thread pipelines: it reads a response whole, sends the
  next FetchResults at once, and only then decodes it (engine/source/fetch_decode.py: numeric
  columns straight into numpy) and converts it to a record batch (engine/source/arrow_types.py).
  The server prepares the next block meanwhile, and only Arrow batches wait in the queue.
  FETCH_NEXT requests are answered in order; a request still outstanding when the stream stops is
  read and dropped before any other call.
- Otherwise (no SASL, HTTP) the queue holds decoded blocks and the consumer converts them, so the
  next FetchResults is already with the server during the conversion.
- With `prefetch=0` nothing is read ahead: each FetchResults is sent when the consumer asks for the
  next batch, for `fetch_rows` rows as set at that moment (a lookup sizes every fetch from what is
  left of its byte budget, engine/lookup.py), and, when `max_response_bytes` is set on a framed
  (SASL) connection, a reply larger than that is refused from its frame header, before it is read:
  `ResponseTooLarge`, and the connection is closed (the rest of the reply is never read).

Either way at most a few blocks are alive at once, whatever the size of the result.
"""

from __future__ import annotations

import contextlib
import queue
import struct
import threading
import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from impala_copy.engine.errors import ConfigurationError, CopyError, QueryFailed, ServerError, Timeout
from impala_copy.engine.source import errors as hs2_errors
from impala_copy.engine.source.arrow_types import (
    ColumnSpec,
    arrow_schema,
    column_specs,
    rowset_length,
    rowset_to_batch,
)
from impala_copy.engine.source.fetch_decode import decode_fetch_response

if TYPE_CHECKING:
    from impala_copy.engine.source.hs2 import ImpalaSession

# How long closing a query waits for an RPC in flight before it cuts the connection.
STOP_GRACE_SECONDS = 10.0
# Values (rows x columns) asked for per FetchResults call. A decoded block holds one Python object
# per value (about 50 bytes each) until it is converted, so the block size follows the width of the
# result: 25,000 rows of 8 columns, 2,000 rows of 100 columns. See docs/benchmarks.md.
VALUES_PER_FETCH = 200_000
MIN_FETCH_ROWS = 1_000


def fetch_rows(batch_rows: int, columns: int) -> int:
    """Rows per FetchResults: at most `batch_rows`, and about VALUES_PER_FETCH values."""
    by_width = max(MIN_FETCH_ROWS, VALUES_PER_FETCH // max(columns, 1))
    return max(1, min(batch_rows, by_width))


class ResponseTooLarge(ServerError):
    """A FetchResults reply is larger than the consumer allowed (`HS2Query.max_response_bytes`)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"a FetchResults reply of {size} bytes exceeds the {limit} bytes allowed")
        self.size = size
        self.limit = limit


_POLL_FIRST, _POLL_MAX = 0.02, 0.5
_DONE = object()
_FRAME_HEADER = struct.Struct(">I")
# The largest FetchResults frame the pipelined reader accepts (a length read from the wire is not
# allocated blindly); a block that large means a far smaller batch size is needed.
MAX_FRAME_BYTES = 1 << 30


class HS2Query:
    """A query whose result streams as Arrow record batches (a `BatchSource`)."""

    def __init__(
        self, session: ImpalaSession, sql: str, *, timeout_seconds: float, batch_rows: int, prefetch: int
    ) -> None:
        if batch_rows < 1:
            raise ConfigurationError("batch_rows must be at least 1")
        self.session = session
        self.batch_rows = batch_rows
        self.prefetch = prefetch
        self.rows_fetched = 0
        self.fetch_calls = 0
        # Largest FetchResults reply accepted (framed connections without read-ahead); None: any.
        self.max_response_bytes: int | None = None
        self._operation: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(prefetch, 1))
        self._started = False
        self._exhausted = False
        self._inline: Generator[Any, None, None] | None = None  # the block iterator when prefetch is 0
        self._execute(sql, timeout_seconds)
        self._specs: list[ColumnSpec] = self._result_columns()
        self._schema = arrow_schema(self._specs)
        self.fetch_rows = fetch_rows(batch_rows, len(self._specs))

    # ------------------------------------------------------------------------------------ execution
    def _execute(self, sql: str, timeout_seconds: float) -> None:
        from impala._thrift_gen.TCLIService.ttypes import TExecuteStatementReq

        deadline = time.monotonic() + timeout_seconds
        request = TExecuteStatementReq(sessionHandle=self.session.handle, statement=sql, runAsync=True)
        response = self.session.rpc("ExecuteStatement", request, "running the query")
        self._operation = response.operationHandle
        try:
            self._wait(deadline, timeout_seconds)
        except BaseException:
            self._close_operation(cancel=True)
            raise

    def _wait(self, deadline: float, timeout_seconds: float) -> None:
        from impala._thrift_gen.TCLIService.ttypes import TGetOperationStatusReq, TOperationState

        delay = _POLL_FIRST
        request = TGetOperationStatusReq(operationHandle=self._operation)
        while True:
            status = self.session.rpc("GetOperationStatus", request, "waiting for the query")
            state = status.operationState
            if state == TOperationState.FINISHED_STATE:
                if status.hasResultSet is not None:
                    self._operation.hasResultSet = status.hasResultSet
                return
            if state == TOperationState.ERROR_STATE:
                raise self.session.scrub.error(hs2_errors.query_error(status.errorMessage, status.sqlState))
            if state in (TOperationState.CANCELED_STATE, TOperationState.CLOSED_STATE):
                raise QueryFailed("the query was cancelled or closed by the server")
            if state == TOperationState.UKNOWN_STATE:
                raise QueryFailed("the server reports the query in an unknown state")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout(
                    f"the query did not finish within {timeout_seconds:g}s (queryTimeout) and was cancelled"
                )
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, _POLL_MAX)

    def _result_columns(self) -> list[ColumnSpec]:
        from impala._thrift_gen.TCLIService.ttypes import TGetResultSetMetadataReq

        if not self._operation.hasResultSet:
            return []
        request = TGetResultSetMetadataReq(operationHandle=self._operation)
        try:
            response = self.session.rpc("GetResultSetMetadata", request, "reading the result schema")
        except BaseException:
            self._close_operation(cancel=True)
            raise
        return column_specs(response.schema) if response.schema is not None else []

    # ---------------------------------------------------------------------------------- BatchSource
    @property
    def schema(self) -> pa.Schema:
        return self._schema

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The result, one record batch per FetchResults block (at most `fetch_rows` rows each)."""
        if self._started:
            raise QueryFailed("the result of a query can be read only once")
        self._started = True
        if not self._specs:
            self._exhausted = True
            return
        if self.prefetch <= 0:
            yield from self._batches_inline()
        else:
            yield from self._batches_pipelined()

    def _batches_inline(self) -> Iterator[pa.RecordBatch]:
        """Fetched in this thread, one block at a time (no read-ahead)."""
        self._inline = self._rowsets()
        try:
            for rowset in self._inline:
                yield rowset_to_batch(rowset, self._specs, self._schema)
        except CopyError as err:
            raise self.session.scrub.error(err) from None

    def _batches_pipelined(self) -> Iterator[pa.RecordBatch]:
        """Fetched by a thread while the consumer works on the previous block."""
        self._thread = threading.Thread(target=self._fetch_loop, name="hs2-fetch", daemon=True)
        self._thread.start()
        try:
            while True:
                item = self._queue.get()
                if item is _DONE:
                    return
                if isinstance(item, CopyError):
                    raise self.session.scrub.error(item)
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, pa.RecordBatch):
                    yield item
                else:
                    batch = rowset_to_batch(item, self._specs, self._schema)
                    del item  # the raw block is not kept alive while the consumer works on the batch
                    yield batch
        finally:
            self._stop_thread()

    def close(self) -> None:
        """Stop fetching and release the query on the server (cancelled when unread rows remain)."""
        self._stop_thread()
        inline, self._inline = self._inline, None
        if inline is not None:
            inline.close()  # reads a response still due on the connection
        self._close_operation(cancel=not self._exhausted)

    # ------------------------------------------------------------------------------------- fetching
    def _request(self) -> Any:
        from impala._thrift_gen.TCLIService.ttypes import TFetchOrientation, TFetchResultsReq

        return TFetchResultsReq(
            operationHandle=self._operation, orientation=TFetchOrientation.FETCH_NEXT, maxRows=self.fetch_rows
        )

    def _rowsets(self) -> Generator[Any, None, None]:
        """Every non-empty TRowSet of the result, in order (pipelined when reading ahead and the connection
        allows it; otherwise each request asks for `fetch_rows` as it is when it is sent)."""
        if self.prefetch > 0 and self.session.frames is not None:
            yield from self._pipelined_rowsets()
            return
        while not self._stop.is_set():
            response = self._fetch()
            rowset = self._accept(response)
            del response
            if rowset is not None:
                yield rowset
                del rowset  # not alive while the next block is fetched
            elif self._exhausted:
                return

    def _fetch(self) -> Any:
        """One FetchResults call, its reply bounded by max_response_bytes when the connection allows."""
        frames = self.session.frames
        limit = self.max_response_bytes if frames is not None and self.prefetch <= 0 else None
        if limit is None:
            return self.session.rpc("FetchResults", self._request(), "fetching results")
        frames.max_read_bytes = limit
        try:
            return self.session.rpc("FetchResults", self._request(), "fetching results")
        except ResponseTooLarge:
            self.session.abort()  # the reply is still on the wire: the connection cannot be used again
            raise
        finally:
            frames.max_read_bytes = None

    def _accept(self, response: Any) -> Any:
        """The rows of one FetchResults response; None when it has none (then maybe the end)."""
        self.fetch_calls += 1
        n = rowset_length(response.results, self._specs)
        if n:
            self.rows_fetched += n
            return response.results
        # An empty block ends the result (Spark always reports hasMoreRows=false; Impala may send
        # an empty block while the query still produces rows, with hasMoreRows=true).
        if not response.hasMoreRows:
            self._exhausted = True
        return None

    def _pipelined_rowsets(self) -> Iterator[Any]:
        session, frames = self.session, self.session.frames
        request = self._request()
        where = session.where
        with session.exclusive():
            outstanding = 0
            try:
                self._send(request)
                outstanding = 1
                while not self._stop.is_set():
                    frame = self._read_frame(frames, where)
                    outstanding -= 1
                    self._send(request)  # the server works on the next block while this one is decoded
                    outstanding += 1
                    response = self._decode(frame, where)
                    del frame
                    hs2_errors.check_status(response.status, "fetching results")
                    rowset = self._accept(response)
                    del response
                    if rowset is not None:
                        yield rowset
                        del rowset  # not alive while the next block is read and decoded
                    elif self._exhausted:
                        return
            finally:
                self._drain(frames, outstanding, where)

    def _send(self, request: Any) -> None:
        try:
            self.session.client.send_FetchResults(request)
        except CopyError:
            raise
        except Exception as exc:  # noqa: BLE001 - socket and thrift errors alike
            raise hs2_errors.rpc_error(
                exc, self.session.where, "fetching results", self.session.rpc_timeout
            ) from None

    def _decode(self, frame: bytes, where: str) -> Any:
        try:
            return decode_fetch_response(frame)
        except CopyError:
            raise
        except Exception as exc:  # noqa: BLE001 - thrift's size limits and malformed replies alike
            raise hs2_errors.rpc_error(exc, where, "fetching results", self.session.rpc_timeout) from None

    def _read_frame(self, frames: Any, where: str) -> bytes:
        try:
            (length,) = _FRAME_HEADER.unpack(frames.readAll(_FRAME_HEADER.size))
            if length > MAX_FRAME_BYTES:
                raise hs2_errors.size_limit_error(
                    where, "fetching results", f"a reply frame of {length} bytes", MAX_FRAME_BYTES
                )
            return bytes(frames.readAll(length))
        except CopyError:
            raise
        except Exception as exc:  # noqa: BLE001 - socket and thrift errors alike
            raise hs2_errors.rpc_error(exc, where, "fetching results", self.session.rpc_timeout) from None

    def _drain(self, frames: Any, outstanding: int, where: str) -> None:
        """Read and drop the responses of requests sent ahead; cut the connection if that fails."""
        for _ in range(outstanding):
            if not self.session.usable:
                return
            try:
                self._read_frame(frames, where)
            except CopyError:
                self.session.abort()
                return

    def _fetch_loop(self) -> None:
        # Pipelined: the server already works on the next block, so this thread converts too and
        # only small Arrow batches wait in the queue. Otherwise the consumer converts, so that the
        # next FetchResults goes out while the previous block is being converted.
        convert_here = self.session.frames is not None
        try:
            for rowset in self._rowsets():
                self._put(rowset_to_batch(rowset, self._specs, self._schema) if convert_here else rowset)
                del rowset
            self._put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            self._put(exc)

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _stop_thread(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        give_up = time.monotonic() + STOP_GRACE_SECONDS
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                while True:
                    self._queue.get_nowait()
            thread.join(0.2)
            if thread.is_alive() and time.monotonic() > give_up:
                # The fetch thread is stuck in an RPC (a stalled server): cut the connection under it.
                self.session.abort()
                give_up = float("inf")

    def _close_operation(self, *, cancel: bool = False) -> None:
        from impala._thrift_gen.TCLIService.ttypes import TCancelOperationReq, TCloseOperationReq

        operation, self._operation = self._operation, None
        if operation is None or not self.session.usable:
            return
        if cancel:
            with contextlib.suppress(CopyError):
                self.session.rpc(
                    "CancelOperation", TCancelOperationReq(operationHandle=operation), "cancelling"
                )
        with contextlib.suppress(CopyError):
            self.session.rpc(
                "CloseOperation", TCloseOperationReq(operationHandle=operation), "closing the query"
            )


__all__ = ["STOP_GRACE_SECONDS", "VALUES_PER_FETCH", "HS2Query", "ResponseTooLarge", "fetch_rows"]
