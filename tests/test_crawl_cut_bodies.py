"""A body the server cut short is a failed fetch, checked before Scrapy decodes it."""

from __future__ import annotations

import gzip

import pytest
from scrapy import Spider
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.http import HtmlResponse, Request, Response
from scrapy.utils.test import get_crawler

from crawler.failures import ResponseCutError, describe_exception
from crawler.middlewares import CutBodyMiddleware
from crawler.runner import build_settings

URL = "http://127.0.0.1:8000/cable/2000/11/00HARARE6677.html"
PAGE = b"<html><body><pre>" + b"A CABLE LINE OF TEXT\n" * 400 + b"</pre></body></html>"


def _middleware(**settings: object) -> CutBodyMiddleware:
    crawler = get_crawler(Spider, {"RETRY_TIMES": 1, "CABLEARCHIVE_RETRY_BACKOFF": 0, **settings})
    crawler.spider = crawler._create_spider("t")
    return CutBodyMiddleware.from_crawler(crawler)


def _response(request: Request, body: bytes, headers: dict[str, str]) -> Response:
    return HtmlResponse(URL, status=200, headers=headers, body=body, request=request)


def _cut_gzip() -> tuple[bytes, dict[str, str]]:
    whole = gzip.compress(PAGE)
    cut = whole[: len(whole) * 4 // 5]
    # The server's Content-Length agrees with what it sent: only the gzip stream shows the cut.
    return cut, {"Content-Encoding": "gzip", "Content-Length": str(len(cut))}


def _cut_identity() -> tuple[bytes, dict[str, str]]:
    return PAGE[:1000], {"Content-Length": str(len(PAGE))}


@pytest.mark.parametrize(
    ("make", "words"),
    [(_cut_gzip, "gzip content coding cut short"), (_cut_identity, "cut short (1000 of the")],
)
def test_a_cut_body_is_retried_then_fails(make, words: str) -> None:  # type: ignore[no-untyped-def]
    mw = _middleware()
    body, headers = make()
    request = Request(URL)
    again = mw.process_response(request, _response(request, body, headers))
    assert isinstance(again, Request) and again.meta["retry_times"] == 1
    assert words in again.meta["retry_reasons"][-1]
    with pytest.raises(ResponseCutError) as caught:
        mw.process_response(again, _response(again, body, headers))
    reason = describe_exception(caught.value)
    assert reason.startswith("truncated response:") and words in reason


def test_without_retries_a_cut_body_fails_at_once() -> None:
    mw = _middleware(RETRY_ENABLED=False)
    body, headers = _cut_gzip()
    request = Request(URL)
    with pytest.raises(ResponseCutError):
        mw.process_response(request, _response(request, body, headers))


def test_whole_bodies_pass_and_an_identity_body_keeps_its_length() -> None:
    mw = _middleware()
    request = Request(URL)
    whole = gzip.compress(PAGE)
    response = _response(request, whole, {"Content-Encoding": "gzip", "Content-Length": str(len(whole))})
    assert mw.process_response(request, response) is response
    # A decoded body is shorter or longer than the compressed length: no length to check it by.
    assert "declared_length" not in request.meta
    response = _response(request, PAGE, {"Content-Length": str(len(PAGE))})
    assert mw.process_response(request, response) is response
    assert request.meta["declared_length"] == len(PAGE)


def test_a_body_scrapy_kept_despite_data_loss_fails() -> None:
    mw = _middleware(RETRY_ENABLED=False)
    request = Request(URL)
    response = HtmlResponse(URL, body=PAGE[:10], request=request, flags=["dataloss"])
    with pytest.raises(ResponseCutError, match="Content-Length"):
        mw.process_response(request, response)


def test_the_check_runs_before_decompression_and_data_loss_fails() -> None:
    settings = build_settings()
    order = settings.getwithbase("DOWNLOADER_MIDDLEWARES")
    compression = order[f"{HttpCompressionMiddleware.__module__}.{HttpCompressionMiddleware.__name__}"]
    # process_response runs from the highest order down.
    assert order["crawler.middlewares.CutBodyMiddleware"] > compression
    assert settings.getbool("DOWNLOAD_FAIL_ON_DATALOSS") is True
