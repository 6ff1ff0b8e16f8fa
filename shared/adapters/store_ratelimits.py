"""Rate limits that hold across instances: token buckets in Table Storage, changed only with ETag checks.

Flex Consumption runs as many instances as traffic asks for, so a limit kept in one instance's memory
multiplies by the instance count. Here every instance takes its tokens from one row per (limit, caller)
in the ``ratelimits`` table:

- **The bucket** (``Tokens``, ``At``): ``burst`` tokens at most, refilled at ``rate`` per second since
  ``At``. Taking a token reads the row, refills it and writes it back *If-Match* the ETag it read; a
  conflict (another instance took one meanwhile) reads again. A new caller's row is inserted (a
  concurrent insert conflicts the same way). So the tokens all instances hand out together never exceed
  ``burst + rate * elapsed``, whatever the instance count. A token bucket rather than fixed windows:
  a fixed window lets twice its limit through around a window's edge, and the bucket keeps the
  API's documented "N per second, burst M" exactly.
- **A refusal costs one read and no write**, and its answer is exact: the seconds until the next token
  (``Retry-After``). Tokens only come back with time and other instances can only take them, so no token
  can appear anywhere before then; each instance remembers the refusal until that instant and answers
  further requests from that caller locally. That is the only fast path: it can never let anything
  through, only save the table a flood. Accepting from memory (leasing several tokens per round trip and
  spending them later) was rejected: tokens spent up to ``lease`` seconds after they were taken let
  ``rate * lease`` more through in a window than the limit allows.
- **Concurrent checks for one caller on one instance share one table operation**: one read-modify-write
  per caller per instance is in flight, and it takes as many tokens as requests are waiting for it
  (each waiting request gets one there and then, or the refusal), so ETag contention on a row is
  bounded by the instance count, not the request count, and tokens are spent the moment they are taken.
- **No addresses in storage.** Row keys are SHA-256 hashes of the limit's name and the caller (an IP
  address is personal data); a row holds only two numbers. A row idle for ``burst / rate`` seconds is a
  full bucket, the same as no row: retention may delete rows idle for a day without changing any answer.
- **If the table cannot be reached**, the check falls back to this instance's own in-memory bucket (the
  limit then holds per instance, as before) and logs it: refusing every reader because storage hiccuped
  would be worse than a looser limit for a few seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from shared import clock
from shared.adapters.store_tables import get_table, translated_errors
from shared.config import Settings
from shared.errors import ExternalServiceError
from shared.logs import get_logger

log = get_logger(__name__)

TABLE = "ratelimits"
MAX_ATTEMPTS = 10  # ETag conflicts in a row before giving up (each one is another instance's success)
BUSY_RETRY_SECONDS = 1.0  # the answer when the row kept changing: strict (refuse), and short
CLOCK_JUMP_SECONDS = 300.0  # a row stamped this far in our future: a clock was set back, not mere skew
MAX_REMEMBERED = 10_000  # callers an instance remembers refusals for; a flood of addresses forgets them all


@dataclass(frozen=True, slots=True)
class Limit:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` saved up."""

    name: str
    rate: float
    burst: int

    def refill(self, tokens: float, since: float, now: float) -> float:
        # A clock behind the row's (another instance's clock is ahead) refills nothing rather than going back.
        return min(float(self.burst), tokens + max(0.0, now - since) * self.rate)

    def wait_for_one(self, tokens: float) -> float:
        return max(0.0, (1 - tokens) / self.rate)


def row_keys(limit: Limit, caller: str) -> tuple[str, str]:
    digest = hashlib.sha256(f"{limit.name}\n{caller}".encode("utf-8")).hexdigest()
    return f"{limit.name}-{digest[:2]}", digest[:40]


class TableTokenBuckets:
    """The shared buckets in ``table_name(settings, "ratelimits")``."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self.conflicts = 0  # ETag conflicts met (for the benchmark and logs)

    async def take(self, limit: Limit, caller: str, now: float, want: int = 1) -> tuple[int, float]:
        """Take up to ``want`` tokens for ``caller``: (tokens granted, seconds until the next one when short)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode
        table = await get_table(self._settings, TABLE)
        partition, row = row_keys(limit, caller)
        for _ in range(MAX_ATTEMPTS):
            with translated_errors("read a rate limit"):
                try:
                    current = await table.get_entity(partition, row, select=["Tokens", "At"])
                except ResourceNotFoundError:
                    current = None
            if current is None:
                tokens, since, etag = float(limit.burst), now, None
            else:
                tokens, since, etag = float(current["Tokens"]), float(current["At"]), current.metadata["etag"]
                if since > now + CLOCK_JUMP_SECONDS:
                    since = now  # refill from now on rather than freeze the bucket until that time comes back
            tokens = limit.refill(tokens, since, now)
            if tokens < 1:
                return 0, limit.wait_for_one(tokens)  # a refusal writes nothing
            granted = min(want, int(tokens))
            left = tokens - granted
            entity = {"PartitionKey": partition, "RowKey": row, "Tokens": left, "At": max(now, since)}
            try:
                with translated_errors("take a rate-limit token"):
                    try:
                        if etag is None:
                            await table.create_entity(entity)
                        else:
                            await table.update_entity(entity, mode=UpdateMode.REPLACE, etag=etag,
                                                      match_condition=MatchConditions.IfNotModified)
                    except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                        # Another instance took a token meanwhile, or retention deleted the idle row: read again.
                        self.conflicts += 1
                        continue
            except ExternalServiceError as exc:
                if exc.status in (409, 412):
                    self.conflicts += 1
                    continue
                raise
            return granted, (0.0 if granted == want else limit.wait_for_one(left))
        log.warning("rate limit %s: the bucket kept changing under %d attempts; refusing", limit.name, MAX_ATTEMPTS)
        return 0, BUSY_RETRY_SECONDS

    async def purge_idle(self, before: float, limit: int) -> int:
        """Delete up to ``limit`` buckets untouched since ``before`` (epoch seconds); how many.

        An idle bucket is full, the same as no row, so this changes no answer. Each row is deleted only if
        unchanged since it was read: a caller that took a token meanwhile keeps its row."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        table = await get_table(self._settings, TABLE)
        deleted = 0
        with translated_errors("purge idle rate limits"):
            async for row in table.query_entities("At lt @before", parameters={"before": float(before)},
                                                  select=["PartitionKey", "RowKey"], results_per_page=min(limit, 1000)):
                try:
                    await table.delete_entity(row["PartitionKey"], row["RowKey"], etag=row.metadata["etag"],
                                              match_condition=MatchConditions.IfNotModified)
                except (ResourceNotFoundError, ResourceModifiedError):
                    pass
                deleted += 1
                if deleted >= limit:
                    break
        return deleted


class LocalTokenBuckets:
    """One token bucket per caller in this process's memory: the fallback when the table is unreachable."""

    def __init__(self, limit: Limit, monotonic: Callable[[], float] = time.monotonic):
        self.limit, self._clock = limit, monotonic
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, caller: str) -> float:
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(caller, (float(self.limit.burst), now))
            tokens = self.limit.refill(tokens, last, now)
            if len(self._buckets) >= MAX_REMEMBERED and caller not in self._buckets:
                self._buckets.clear()  # a flood of addresses: forget everyone rather than grow forever
            if tokens >= 1:
                self._buckets[caller] = (tokens - 1, now)
                return 0.0
            self._buckets[caller] = (tokens, now)
            return self.limit.wait_for_one(tokens)


class SharedRateLimiter:
    """One limit checked against the shared buckets, with the exact local refusal cache described above."""

    def __init__(self, limit: Limit, store_for: Callable[[], TableTokenBuckets]):
        self.limit = limit
        self._store_for = store_for
        self._fallback = LocalTokenBuckets(limit)
        self._refused_until: dict[str, float] = {}
        self._guard = threading.Lock()
        # Requests waiting for the caller's table operation, per event loop (futures belong to a loop).
        self._waiting: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._servers: set[asyncio.Task] = set()

    async def check(self, caller: str) -> float:
        """0.0 when ``caller`` may proceed, else the seconds until it may (for ``Retry-After``)."""
        wait = self._remembered_refusal(caller)
        if wait > 0:
            return wait
        loop = asyncio.get_running_loop()
        answer = loop.create_future()
        with self._guard:
            queues = self._waiting.setdefault(loop, {})
            queue = queues.get(caller)
            leader = queue is None
            if leader:
                queue = queues[caller] = []
            queue.append(answer)
        if leader:
            # A task of its own: a request that gives up (client gone) must not strand the others waiting.
            server = loop.create_task(self._serve(caller, queues))
            self._servers.add(server)
            server.add_done_callback(self._servers.discard)
        return await answer

    async def _serve(self, caller: str, queues: dict) -> None:
        """Answer the caller's waiting requests, one table operation per round, until none is left."""
        batch: list[asyncio.Future] = []
        try:
            while True:
                with self._guard:
                    batch = queues[caller]
                    if not batch:
                        del queues[caller]
                        return
                    queues[caller] = []
                for future, wait in zip(batch, await self._take(caller, len(batch))):
                    if not future.done():
                        future.set_result(wait)
                batch = []
        except BaseException as exc:
            with self._guard:
                batch += queues.pop(caller, [])
            failure = exc if isinstance(exc, Exception) else RuntimeError("rate limit check was interrupted")
            for future in batch:
                if not future.done():
                    future.set_exception(failure)
            if not isinstance(exc, Exception):
                raise

    async def _take(self, caller: str, want: int) -> list[float]:
        """The answer (0.0 or seconds to wait) for each of ``want`` requests, granted ones first."""
        wait = self._remembered_refusal(caller)
        if wait > 0:
            return [wait] * want
        now = clock.now().timestamp()
        try:
            granted, wait = await self._store_for().take(self.limit, caller, now, want)
        except ExternalServiceError as exc:
            log.warning("rate limit %s: shared buckets unavailable (%s); using this instance's own",
                        self.limit.name, type(exc).__name__)
            return [self._fallback.take(caller) for _ in range(want)]
        if granted < want:
            self._remember_refusal(caller, now + wait)
        return [0.0] * granted + [wait] * (want - granted)

    def _remembered_refusal(self, caller: str) -> float:
        with self._guard:
            until = self._refused_until.get(caller)
            if until is None:
                return 0.0
            left = until - clock.now().timestamp()
            if left <= 0:
                del self._refused_until[caller]
                return 0.0
            return left

    def _remember_refusal(self, caller: str, until: float) -> None:
        with self._guard:
            if len(self._refused_until) >= MAX_REMEMBERED and caller not in self._refused_until:
                self._refused_until.clear()
            self._refused_until[caller] = until

    def forget(self) -> None:
        """Drop what this instance remembers (tests; a restarted instance starts like this)."""
        with self._guard:
            self._refused_until.clear()
        self._fallback = LocalTokenBuckets(self.limit)


def table_buckets(settings: Settings | None = None) -> TableTokenBuckets:
    """The process's shared-bucket store for the current settings (built once per settings object)."""
    from shared.config import get_settings
    settings = settings or get_settings()
    with _stores_lock:
        store = _stores.get(id(settings))
        if store is None or store._settings is not settings:
            store = _stores[id(settings)] = TableTokenBuckets(settings)
        return store


_stores: dict[int, TableTokenBuckets] = {}
_stores_lock = threading.Lock()
