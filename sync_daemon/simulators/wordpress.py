"""What WordPress itself does around WooCommerce's REST API, for the WooCommerce simulator.

- Every front-end page, its 404 page included, announces the REST API root in a ``Link`` header:
  ``<…/wp-json/>; rel="https://api.w.org/"``, or with 'Plain' permalinks ``<…/?rest_route=/>``.
- ``?rest_route=/wc/v3/…`` reaches the REST API under any path of the site and with any
  permalinks: WordPress reads the query before it looks at the path. A wrong path (the shop
  page's ``/shop``) therefore still answers ``?rest_route=``, while ``/shop/wp-json/`` is a 404 page.
- With 'Plain' permalinks nothing rewrites ``/wp-json/…``: it is an ordinary 404 page.
- ``/wp-json/`` is the REST index: the site's name, address and namespaces.
"""

from __future__ import annotations

from .base import Request, Response

API_LINK_REL = "https://api.w.org/"
NAMESPACES = ["oembed/1.0", "wc/v3", "wc/store/v1", "wp/v2", "wp-site-health/v1"]


def api_root(site_url: str, *, plain: bool) -> str:
    """The REST API root WordPress announces (``get_rest_url()``)."""
    return f"{site_url}/?rest_route=/" if plain else f"{site_url}/wp-json/"


def page(status: int, text: str, site_url: str, *, plain: bool) -> Response:
    """A front-end HTML page with the REST API's Link header, as every WordPress page has."""
    return Response.html(status, text, {"Link": f'<{api_root(site_url, plain=plain)}>; rel="{API_LINK_REL}"'})


def index(site_url: str) -> Response:
    """``GET /wp-json/``: the REST index (only what a client looks at)."""
    return Response.json(
        200,
        {"name": "Shop", "description": "Just another WordPress site", "url": site_url, "home": site_url,
         "namespaces": NAMESPACES, "routes": {"/": {"namespace": ""}, "/wc/v3": {"namespace": "wc/v3"}}},
    )


def take_rest_route(request: Request) -> bool:
    """Turn a ``?rest_route=/x`` request (any path) into the REST request ``/wp-json/x``; False when it is none."""
    route = request.query.get("rest_route")
    if route is None:
        return False
    request.path = "/wp-json/" + route.lstrip("/")
    request.query_list = [(key, value) for key, value in request.query_list if key != "rest_route"]
    request.query = dict(request.query_list)
    request.context["rest_route"] = True
    return True
