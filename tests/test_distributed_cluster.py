"""The distributed crawl's Redis scripts on a real redis-server: leases, robots.txt first, claims, limits."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

from crawler.distributed.cluster import Cluster
from crawler.frontier import Target

REDIS = shutil.which("redis-server")
SITE = "127.0.0.1:8001"
ROOT = f"http://{SITE}/"


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    if REDIS is None:
        pytest.fail("redis-server is not installed (Debian package redis-server)")
    folder = tempfile.mkdtemp(prefix="redis-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = int(s.getsockname()[1])
    proc = subprocess.Popen(
        [
            REDIS,
            "--port",
            str(free),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            folder,
        ],
        stdout=subprocess.DEVNULL,
    )
    import redis

    for _ in range(200):
        try:
            redis.Redis(port=free).ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield free
    proc.terminate()
    proc.wait(timeout=10)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def cluster(port: int) -> Iterator[Cluster]:
    c = Cluster.at(f"redis://127.0.0.1:{port}/0")
    c.clear()
    c.add_site(ROOT)
    yield c
    c.clear()


def _page(path: str, kind: str = "page") -> Target:
    return Target(ROOT + path, kind, 1)


def test_the_first_take_of_a_site_is_its_robots_txt_and_the_site_waits_for_it(cluster: Cluster) -> None:
    cluster.admit([_page("a.html")], None)
    first = cluster.take("w1", 4, lease=30, delay=0)
    assert [lease.target.url for lease in first] == [ROOT + "robots.txt"]
    assert cluster.take("w2", 4, lease=30, delay=0) == []  # robots.txt not read yet
    cluster.set_robots(SITE, b"User-agent: *\nDisallow: /private/\n")
    cluster.complete([first[0].id], None)
    second = cluster.take("w2", 4, lease=30, delay=0)
    assert [lease.target.url for lease in second] == [ROOT + "a.html"]


def test_an_expired_lease_goes_back_to_the_queue(cluster: Cluster) -> None:
    cluster.set_robots(SITE, b"")
    cluster.admit([_page("a.html")], None)
    (lease,) = cluster.take("w1", 1, lease=0.05, delay=0)
    assert cluster.take("w2", 1, lease=30, delay=0) == []
    time.sleep(0.2)
    assert cluster.reap() == 1
    (again,) = cluster.take("w2", 1, lease=30, delay=0)
    assert again.target == lease.target
    assert cluster.complete([lease.id], "late.warc.gz") == 1  # the first worker's lease had expired
    assert cluster.complete([again.id], "ok.warc.gz") == 0
    assert cluster.files() == ["late.warc.gz", "ok.warc.gz"]
    assert cluster.idle()


def test_a_renewed_lease_is_kept(cluster: Cluster) -> None:
    cluster.set_robots(SITE, b"")
    cluster.admit([_page("a.html")], None)
    (lease,) = cluster.take("w1", 1, lease=0.3, delay=0)
    for _ in range(4):
        time.sleep(0.1)
        assert cluster.renew([lease.id], 0.3) == 1
    assert cluster.reap() == 0
    assert not cluster.idle()


def test_a_site_is_claimed_for_its_delay_and_again_from_each_answer(cluster: Cluster) -> None:
    assert cluster.claim(SITE, "t1", delay=10, concurrency=1, hold=30) == 0
    assert cluster.claim(SITE, "t2", delay=10, concurrency=1, hold=30) > 5
    other = "127.0.0.1:8002"
    assert cluster.claim(other, "t3", delay=10, concurrency=1, hold=30) == 0  # another site is free


def test_concurrency_holds_across_workers(cluster: Cluster) -> None:
    assert cluster.claim(SITE, "t1", delay=0, concurrency=2, hold=30) == 0
    assert cluster.claim(SITE, "t2", delay=0, concurrency=2, hold=30) == 0
    assert cluster.claim(SITE, "t3", delay=0, concurrency=2, hold=30) > 0
    cluster.release(SITE, "t1", 0)
    assert cluster.claim(SITE, "t3", delay=0, concurrency=2, hold=30) == 0


def test_release_keeps_the_site_for_the_delay_from_the_answer(cluster: Cluster) -> None:
    assert cluster.claim(SITE, "t1", delay=0.05, concurrency=1, hold=30) == 0
    time.sleep(0.1)  # the answer comes after the claim's delay has passed
    cluster.release(SITE, "t1", 10)
    assert cluster.claim(SITE, "t2", delay=10, concurrency=1, hold=30) > 5


def test_seen_urls_are_scheduled_once_and_max_pages_holds(cluster: Cluster) -> None:
    assert cluster.admit([_page("a.html"), _page("a.html#top"), _page("b.html")], 2) == 2
    assert cluster.admit([_page("c.html")], 2) == 0
    assert cluster.counts()["dropped"] == 1
    assert cluster.admit([_page("b.html")], None) == 0


def test_likely_cables_are_taken_first(cluster: Cluster) -> None:
    cluster.set_robots(SITE, b"")
    cluster.admit([_page("index.html", "index"), _page("cable/1.html", "cable")], None)
    (lease,) = cluster.take("w1", 1, lease=30, delay=0)
    assert lease.target.kind == "cable"
