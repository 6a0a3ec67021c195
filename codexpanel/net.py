from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address, trusting X-Forwarded-For only for the configured number of
    proxies (CODEXPANEL_TRUSTED_PROXY_COUNT), counted from the right."""
    proxies = settings.CODEXPANEL_TRUSTED_PROXY_COUNT
    if proxies > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def client_network(request: HttpRequest) -> str:
    """The rate-limit identity of the client: its IPv4 address, or its IPv6 /64 (one
    subscriber usually holds a whole /64, so single addresses would be free to rotate)."""
    ip = client_ip(request)
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def relay_url(request: HttpRequest) -> str:
    """This relay's address as agents and browsers reach it: CODEXPANEL_PUBLIC_URL when
    set (a proxy may hide the real one), else the scheme and host of the request."""
    if settings.CODEXPANEL_PUBLIC_URL:
        return settings.CODEXPANEL_PUBLIC_URL
    return request.build_absolute_uri("/").rstrip("/")
