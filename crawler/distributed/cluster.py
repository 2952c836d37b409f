"""The distributed crawl's shared state in Redis: every key, and the scripts that change them atomically.

One crawl per Redis database; every key starts with `cablearchive:` (PREFIX). Times are Redis's
own clock (TIME, in milliseconds), so workers on machines with skewed clocks still agree.

| key | type | what it holds |
|---|---|---|
| `job` | hash | `config` (JSON: seeds, depth, max_pages, delay, concurrency, lease, spool), `state` (running, finished), `runs` (JSON list of the archive runs that wrote it) |
| `sites` | hash | site key -> root URL (`http://host:port/`) of each site in scope |
| `seen` | set | URL keys (crawler.discovery.url_key) ever scheduled, refused by robots.txt or reached by a redirect |
| `pages` | string | targets scheduled so far (for --max-pages); `dropped`: links not scheduled past the limit |
| `seq` | string | a counter that keeps equal priorities first in, first out |
| `q:<site>` | sorted set | the site's queue: target JSON, score -priority * 1e9 + seq (lowest first) |
| `ready` | sorted set | sites with something to hand out -> the time (ms) a worker may next take one of them |
| `robots` | hash | site -> its robots.txt body ("" when it had none or could not be read) |
| `robots_pending` | hash | site -> lease id of its robots.txt fetch, while it runs |
| `lease_seq` | string | lease ids |
| `lease` | hash | lease id -> JSON {t: target JSON, w: worker, s: site, score} |
| `leases` | sorted set | lease id -> expiry (ms); expired leases go back to their queue (`reap`) |
| `next` | hash | site -> earliest time (ms) of its next request, cluster-wide (`claim`) |
| `busy:<site>` | sorted set | tokens of requests in flight to the site -> expiry (ms) (per-site concurrency) |
| `files` | list | spool files (crawler.distributed.spool) closed by workers, in the order they were closed |
| `ingested` | set | spool files the coordinator archived |
| `archived` | set | target URL keys the coordinator archived a capture of (a page fetched twice is kept once) |
| `workers` | hash | worker id -> JSON {host, pid, started, seen: last heartbeat} |
| `figures` | hash | worker id -> JSON of what the coordinator archived from it (kept across a resume) |

A worker takes a target (`take`), which leases it for `lease` seconds and paces the site's
takes by its delay; it renews its leases while it works and completes them (`complete`) only
once the spool file holding their captures is closed and listed in `files`: a worker killed
at any moment loses nothing, its leases expire and other workers fetch those targets again.
Before each request the worker claims the site (`claim`): its next allowed time and one of its
concurrency tokens, so the delay and the concurrency hold for the whole cluster; when the
answer is in, `release` frees the token and keeps the site for the delay from then on too (with
one request at a time per site, two requests never reach it closer than the delay, however late
a busy worker sends a request after its claim). A site is
handed out only after its robots.txt was read (the first take of a new site is its robots.txt).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, cast

import redis

from crawler.discovery import site_key, url_key
from crawler.frontier import Target

PREFIX = "cablearchive:"
ROBOTS_SCORE = -1  # the score a lease of a robots.txt fetch carries (it comes from no queue)

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# ARGV: prefix, worker, lease ms, how many, how many sites to look at, site delay ms.
_TAKE = (
    _NOW
    + """
local p = ARGV[1]
local worker = ARGV[2]
local lease_ms = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local delay = tonumber(ARGV[6])
local out = {}
local sites = redis.call('ZRANGEBYSCORE', p .. 'ready', '-inf', now, 'LIMIT', 0, tonumber(ARGV[5]))
for _, site in ipairs(sites) do
  if #out >= want * 2 then break end
  local entry = nil
  local score = 0
  local known = redis.call('HEXISTS', p .. 'robots', site) == 1
  if not known then
    if redis.call('HEXISTS', p .. 'robots_pending', site) == 0 then
      local root = redis.call('HGET', p .. 'sites', site)
      if root then
        entry = cjson.encode({url = root .. 'robots.txt', kind = 'robots', depth = 0, seed = false, probe = true})
        score = -1
      end
    end
  else
    local popped = redis.call('ZPOPMIN', p .. 'q:' .. site)
    if popped[1] then
      entry = popped[1]
      score = tonumber(popped[2])
    end
  end
  if entry then
    local id = tostring(redis.call('INCR', p .. 'lease_seq'))
    redis.call('HSET', p .. 'lease', id, cjson.encode({t = entry, w = worker, s = site, score = score}))
    redis.call('ZADD', p .. 'leases', now + lease_ms, id)
    if score == -1 then redis.call('HSET', p .. 'robots_pending', site, id) end
    out[#out + 1] = id
    out[#out + 1] = entry
  end
  if known and redis.call('ZCARD', p .. 'q:' .. site) == 0 then
    redis.call('ZREM', p .. 'ready', site)
  else
    redis.call('ZADD', p .. 'ready', now + delay, site)
  end
end
return out
"""
)

# ARGV: prefix, site, delay ms, concurrency, token, hold ms. Returns 0 (go) or ms to wait.
_CLAIM = (
    _NOW
    + """
local p = ARGV[1]
local site = ARGV[2]
local nxt = tonumber(redis.call('HGET', p .. 'next', site) or '0')
if now < nxt then return nxt - now end
local busy = p .. 'busy:' .. site
redis.call('ZREMRANGEBYSCORE', busy, '-inf', now)
local conc = tonumber(ARGV[4])
if conc > 0 and redis.call('ZCARD', busy) >= conc then return 20 end
redis.call('HSET', p .. 'next', site, now + tonumber(ARGV[3]))
redis.call('ZADD', busy, now + tonumber(ARGV[6]), ARGV[5])
return 0
"""
)

# ARGV: prefix, site, delay ms, token. The request is over: its token is freed, and the site's
# next request waits for the delay from now too, so that a request sent late after its claim
# (a busy worker) is still followed by a full delay.
_RELEASE = (
    _NOW
    + """
local p = ARGV[1]
local site = ARGV[2]
redis.call('ZREM', p .. 'busy:' .. site, ARGV[4])
local nxt = tonumber(redis.call('HGET', p .. 'next', site) or '0')
if now + tonumber(ARGV[3]) > nxt then redis.call('HSET', p .. 'next', site, now + tonumber(ARGV[3])) end
return 0
"""
)

# ARGV: prefix, max pages (-1: none), then per target: url key, site, priority, target JSON, probe (0/1).
_ADMIT = """
local p = ARGV[1]
local maxp = tonumber(ARGV[2])
local n = 0
local dropped = 0
for i = 3, #ARGV, 5 do
  local key = ARGV[i]
  local site = ARGV[i + 1]
  if redis.call('SISMEMBER', p .. 'seen', key) == 0 then
    local ok = true
    if ARGV[i + 4] == '0' and maxp >= 0 then
      if tonumber(redis.call('GET', p .. 'pages') or '0') >= maxp then
        ok = false
        dropped = dropped + 1
      end
    end
    if ok then
      if ARGV[i + 4] == '0' then redis.call('INCR', p .. 'pages') end
      redis.call('SADD', p .. 'seen', key)
      local seq = redis.call('INCR', p .. 'seq')
      redis.call('ZADD', p .. 'q:' .. site, -tonumber(ARGV[i + 2]) * 1e9 + seq, ARGV[i + 3])
      redis.call('ZADD', p .. 'ready', 'NX', 0, site)
      n = n + 1
    end
  end
end
if dropped > 0 then redis.call('INCRBY', p .. 'dropped', dropped) end
return n
"""

_REAP = (
    _NOW
    + """
local p = ARGV[1]
local ids = redis.call('ZRANGEBYSCORE', p .. 'leases', '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(ids) do
  local raw = redis.call('HGET', p .. 'lease', id)
  if raw then
    local l = cjson.decode(raw)
    if l.score == -1 then
      -- Its robots.txt capture died with the worker: read it again before the site goes on.
      redis.call('HDEL', p .. 'robots_pending', l.s)
      redis.call('HDEL', p .. 'robots', l.s)
    else
      redis.call('ZADD', p .. 'q:' .. l.s, l.score, l.t)
    end
    redis.call('ZADD', p .. 'ready', 'NX', now, l.s)
    redis.call('HDEL', p .. 'lease', id)
  end
  redis.call('ZREM', p .. 'leases', id)
end
return #ids
"""
)

# ARGV: prefix, file name ('' for none), then lease ids. Returns how many had already expired.
_COMPLETE = """
local p = ARGV[1]
local lost = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local raw = redis.call('HGET', p .. 'lease', id)
  if raw then
    local l = cjson.decode(raw)
    if l.score == -1 then redis.call('HDEL', p .. 'robots_pending', l.s) end
    redis.call('HDEL', p .. 'lease', id)
    redis.call('ZREM', p .. 'leases', id)
  else
    lost = lost + 1
  end
end
if ARGV[2] ~= '' then redis.call('RPUSH', p .. 'files', ARGV[2]) end
return lost
"""

# ARGV: prefix, lease ms, then lease ids: push the expiry of the ones still held.
_RENEW = (
    _NOW
    + """
local p = ARGV[1]
local n = 0
for i = 3, #ARGV do
  if redis.call('ZSCORE', p .. 'leases', ARGV[i]) then
    redis.call('ZADD', p .. 'leases', now + tonumber(ARGV[2]), ARGV[i])
    n = n + 1
  end
end
return n
"""
)


class ClusterError(Exception):
    """Redis cannot be reached, or holds something this crawl cannot use."""


@dataclass
class JobConfig:
    """What the coordinator asked for; workers read it from Redis."""

    seeds: str
    depth: int
    max_pages: int | None
    delay: float  # seconds between two requests to one site, cluster-wide
    concurrency: int  # requests in flight to one site, cluster-wide
    lease: float  # seconds a worker holds a target before it goes back to the queue
    spool: str  # the folder workers write their files to (unless a worker is told another)
    seed_urls: list[str]
    allow_private: bool = False
    user_agent: str = ""

    def to_json(self) -> str:
        """The JSON kept in Redis."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> JobConfig:
        """The config from its JSON."""
        return cls(**json.loads(text))


@dataclass(frozen=True)
class Lease:
    """A target a worker holds: the lease id to complete, and the target."""

    id: str
    target: Target


def target_json(t: Target) -> str:
    """A target as the queues keep it."""
    d: dict[str, Any] = {"url": t.url, "kind": t.kind, "depth": t.depth, "seed": t.seed, "probe": t.probe}
    if t.chain:
        d["chain"] = list(t.chain)
    return json.dumps(d)


def target_of(text: str | bytes) -> Target:
    """The target a queue entry holds."""
    d = json.loads(text)
    chain = tuple(str(u) for u in d.get("chain", ()))
    return Target(str(d["url"]), str(d["kind"]), int(d["depth"]), bool(d["seed"]), bool(d["probe"]), chain)


def root_of(url: str) -> str:
    """The site's root URL (scheme, host, port), ending in /."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def connect(url: str) -> redis.Redis:
    """A client for `redis://HOST:PORT/DB`; ClusterError when it cannot be reached."""
    try:
        client = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10)
        client.ping()
    except (redis.RedisError, ValueError) as exc:
        raise ClusterError(f"Redis at {url}: {exc}") from None
    return client


class Cluster:
    """The crawl's shared state in one Redis database (see the module's table of keys)."""

    def __init__(self, client: redis.Redis, prefix: str = PREFIX) -> None:
        self.r = client
        self.p = prefix
        self._take = client.register_script(_TAKE)
        self._claim = client.register_script(_CLAIM)
        self._admit = client.register_script(_ADMIT)
        self._reap = client.register_script(_REAP)
        self._release = client.register_script(_RELEASE)
        self._complete = client.register_script(_COMPLETE)
        self._renew = client.register_script(_RENEW)

    @classmethod
    def at(cls, url: str) -> Cluster:
        """The cluster in the Redis database `url` names."""
        return cls(connect(url))

    def key(self, name: str) -> str:
        """The full Redis key of `name`."""
        return self.p + name

    # ------------------------------------------------------------------ the job
    def job(self) -> tuple[JobConfig, str] | None:
        """(config, state) of the crawl kept in Redis, or None when there is none."""
        raw = cast("dict[bytes, bytes]", self.r.hgetall(self.key("job")))
        if not raw or b"config" not in raw:
            return None
        return JobConfig.from_json(raw[b"config"].decode()), raw.get(b"state", b"").decode()

    def runs(self) -> list[str]:
        """The archive runs that wrote this crawl, oldest first."""
        raw = self.r.hget(self.key("job"), "runs")
        return list(json.loads(cast(bytes, raw))) if raw else []

    def add_run(self, run_id: str) -> None:
        """Remember an archive run of this crawl (a resumed crawl has several)."""
        self.r.hset(self.key("job"), "runs", json.dumps([*self.runs(), run_id]))

    def clear(self) -> None:
        """Forget every key of a crawl (before a new one)."""
        batch: list[bytes] = []
        for k in self.r.scan_iter(match=self.p + "*", count=1000):
            batch.append(cast(bytes, k))
            if len(batch) >= 500:
                self.r.unlink(*batch)
                batch = []
        if batch:
            self.r.unlink(*batch)

    def start_job(self, config: JobConfig) -> None:
        """Keep the job's config, state running."""
        self.r.hset(self.key("job"), mapping={"config": config.to_json(), "state": "running"})

    def set_state(self, state: str) -> None:
        """running or finished (workers stop when the job is finished)."""
        self.r.hset(self.key("job"), "state", state)

    def state(self) -> str | None:
        """The job's state, None when there is no job."""
        raw = self.r.hget(self.key("job"), "state")
        return cast(bytes, raw).decode() if raw else None

    # ------------------------------------------------------------------ the frontier
    def add_site(self, url: str) -> str | None:
        """Bring the site of `url` into scope; returns its key (None for a URL with no site)."""
        site = site_key(url)
        if site:
            self.r.hsetnx(self.key("sites"), site, root_of(url))
        return site

    def sites(self) -> set[str]:
        """The sites in scope."""
        return {cast(bytes, s).decode() for s in self.r.hkeys(self.key("sites"))}

    def admit(self, targets: Iterable[Target], max_pages: int | None) -> int:
        """Schedule the targets not seen before (within --max-pages); returns how many were new."""
        args: list[str | int] = [self.p, -1 if max_pages is None else max_pages]
        for t in targets:
            site = site_key(t.url)
            if site is None:
                continue
            # Every target counts against --max-pages, probes too (robots.txt is no target).
            args += [url_key(t.url), site, t.priority, target_json(t), 0]
        if len(args) == 2:
            return 0
        return int(cast(int, self._admit(keys=[], args=args)))

    def mark_seen(self, *urls: str) -> None:
        """URLs never to schedule (reached by a redirect, refused by robots.txt)."""
        if urls:
            self.r.sadd(self.key("seen"), *(url_key(u) for u in urls))

    def is_seen(self, url: str) -> bool:
        """True when the URL was scheduled (or marked seen) already."""
        return bool(self.r.sismember(self.key("seen"), url_key(url)))

    def take(self, worker: str, n: int, lease: float, delay: float) -> list[Lease]:
        """Lease up to `n` targets of sites whose turn it is (at most one per site)."""
        raw = cast(
            "list[bytes]",
            self._take(keys=[], args=[self.p, worker, _ms(lease), n, max(n * 4, 16), _ms(delay)]),
        )
        return [Lease(raw[i].decode(), target_of(raw[i + 1])) for i in range(0, len(raw), 2)]

    def claim(self, site: str, token: str, delay: float, concurrency: int, hold: float) -> float:
        """Ask to send a request to `site` now: 0 when granted, else the seconds to wait first."""
        wait = self._claim(keys=[], args=[self.p, site, _ms(delay), concurrency, token, _ms(hold)])
        return int(cast(int, wait)) / 1000.0

    def release(self, site: str, token: str, delay: float) -> None:
        """The request to `site` holding `token` is over: its slot is free, the next one waits `delay` from now."""
        self._release(keys=[], args=[self.p, site, _ms(delay), token])

    def renew(self, ids: list[str], lease: float) -> int:
        """Extend the leases still held; returns how many were."""
        if not ids:
            return 0
        return int(cast(int, self._renew(keys=[], args=[self.p, _ms(lease), *ids])))

    def complete(self, ids: list[str], file: str | None) -> int:
        """The leases are done and `file` holds their captures; returns how many had expired."""
        return int(cast(int, self._complete(keys=[], args=[self.p, file or "", *ids])))

    def reap(self) -> int:
        """Put the targets of expired leases back in their queues; returns how many."""
        return int(cast(int, self._reap(keys=[], args=[self.p])))

    # ------------------------------------------------------------------ robots.txt
    def set_robots(self, site: str, body: bytes) -> None:
        """The site's robots.txt rules (b"" for none)."""
        self.r.hset(self.key("robots"), site, body)

    def robots(self, site: str) -> bytes | None:
        """The site's robots.txt body, None when not read yet."""
        raw = self.r.hget(self.key("robots"), site)
        return cast("bytes | None", raw)

    # ------------------------------------------------------------------ files
    def files(self, start: int = 0) -> list[str]:
        """Spool files closed by workers, from position `start` on."""
        return [cast(bytes, f).decode() for f in self.r.lrange(self.key("files"), start, -1)]

    def ingested(self) -> set[str]:
        """Spool files already archived."""
        return {cast(bytes, f).decode() for f in self.r.smembers(self.key("ingested"))}

    def mark_ingested(self, files: list[str], url_keys: list[str]) -> None:
        """After an archive commit: these files and target URLs are archived."""
        pipe = self.r.pipeline()
        if files:
            pipe.sadd(self.key("ingested"), *files)
        if url_keys:
            pipe.sadd(self.key("archived"), *url_keys)
        pipe.execute()

    def archived(self) -> set[str]:
        """Target URL keys archived in this crawl."""
        return {cast(bytes, u).decode() for u in self.r.smembers(self.key("archived"))}

    # ------------------------------------------------------------------ workers and progress
    def heartbeat(self, worker: str, started: float) -> None:
        """Say the worker is alive."""
        info = {"host": socket.gethostname(), "pid": os.getpid(), "started": started, "seen": time.time()}
        self.r.hset(self.key("workers"), worker, json.dumps(info))

    def workers(self) -> dict[str, dict[str, Any]]:
        """Each worker's last heartbeat."""
        raw = cast("dict[bytes, bytes]", self.r.hgetall(self.key("workers")))
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def save_figures(self, figures: dict[str, dict[str, Any]]) -> None:
        """Keep the per-worker figures of the crawl (a resumed coordinator goes on from them)."""
        if figures:
            self.r.hset(self.key("figures"), mapping={k: json.dumps(v) for k, v in figures.items()})

    def figures(self) -> dict[str, dict[str, Any]]:
        """The per-worker figures kept so far."""
        raw = cast("dict[bytes, bytes]", self.r.hgetall(self.key("figures")))
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def counts(self) -> dict[str, int]:
        """Figures for progress: pages scheduled, sites with work, leases held, files closed, dropped."""
        pipe = self.r.pipeline()
        pipe.get(self.key("pages"))
        pipe.zcard(self.key("ready"))
        pipe.zcard(self.key("leases"))
        pipe.llen(self.key("files"))
        pipe.get(self.key("dropped"))
        pipe.hlen(self.key("robots_pending"))
        pages, ready, leases, files, dropped, robots = pipe.execute()
        return {
            "scheduled": int(pages or 0),
            "sites_waiting": int(ready or 0),
            "leased": int(leases or 0),
            "files": int(files or 0),
            "dropped": int(dropped or 0),
            "robots_pending": int(robots or 0),
        }

    def idle(self) -> bool:
        """True when nothing is queued nor leased: every target was fetched and its file closed."""
        c = self.counts()
        return c["sites_waiting"] == 0 and c["leased"] == 0 and c["robots_pending"] == 0
