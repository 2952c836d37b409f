"""Which URLs the crawler may fetch: http(s) only, and no private addresses unless a seed points there."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

ALLOWED_SCHEMES = ("http", "https")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _bare_host(host: str) -> str:
    """Host name lower-cased, without a trailing dot or a leading `www.`."""
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def is_private_address(ip: IPAddress) -> bool:
    """True for loopback, link-local, private, reserved, multicast and unspecified addresses."""
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    )


def literal_address(host: str) -> IPAddress | None:
    """The address when `host` is an IP literal (also the odd forms inet_aton accepts), else None."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    # 0x7f.1, 2130706433 and 127.1 are 127.0.0.1 to most resolvers: treat them as what they are.
    if host and all(ch in "0123456789abcdefx." for ch in host.lower()) and any(ch.isdigit() for ch in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def resolve_host(host: str) -> list[IPAddress]:
    """Every address a host name resolves to (blocking); empty when it does not resolve."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    out: list[IPAddress] = []
    for info in infos:
        try:
            out.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
        except ValueError:
            continue
    return out


class UrlPolicy:
    """Decides whether a URL may be fetched; seeds' hosts are trusted wherever they resolve."""

    def __init__(self, trusted_hosts: set[str] | None = None, allow_private: bool = False):
        self.trusted = {_bare_host(h) for h in (trusted_hosts or set())}
        self.allow_private = allow_private

    def trust(self, url: str) -> None:
        """Trust the host of `url` (a seed the user listed)."""
        host = urlsplit(url).hostname
        if host:
            self.trusted.add(_bare_host(host))

    def scheme_refusal(self, url: str) -> str | None:
        """Why `url` is refused for its scheme or shape, or None when it is acceptable."""
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError as exc:
            return f"malformed URL ({exc})"
        if parts.scheme.lower() not in ALLOWED_SCHEMES:
            return f"scheme {parts.scheme or '(none)'!r} refused: only http and https are fetched"
        if not parts.hostname:
            return "URL has no host"
        return None

    def needs_address_check(self, url: str) -> bool:
        """True when the host is not trusted and private addresses are not allowed."""
        if self.allow_private:
            return False
        host = urlsplit(url).hostname or ""
        return _bare_host(host) not in self.trusted

    @staticmethod
    def address_refusal(host: str, addresses: list[IPAddress]) -> str | None:
        """Why a host with these addresses is refused, or None; an unresolvable host is left to the fetch."""
        for ip in addresses:
            if is_private_address(ip):
                return (
                    f"refused: {host} is a private, loopback or link-local address ({ip}) and not a seed's host "
                    "(set CABLEARCHIVE_ALLOW_PRIVATE=True to allow)"
                )
        return None

    def refusal(self, url: str) -> str | None:
        """Full check of one URL, resolving its host (blocking): the reason it is refused, or None."""
        reason = self.scheme_refusal(url)
        if reason or not self.needs_address_check(url):
            return reason
        host = urlsplit(url).hostname or ""
        return self.address_refusal(host, resolve_host(host))
