"""WooCommerce webhooks for the simulator: the ``wc/v3/webhooks`` routes and signed deliveries.

What real WooCommerce does, and so this does:

- Creating a webhook over REST saves it and answers 201, and only then pings the delivery URL: a
  form-encoded ``webhook_id=N`` POST with no ``X-WC-Webhook-*`` header and no signature. A failed
  ping changes nothing in the answer (``pings`` records each ping's status for tests).
- Deliveries are signed: ``X-WC-Webhook-Signature`` = base64 HMAC-SHA256 of the raw body with the
  webhook's secret, with ``-Topic``, ``-Resource``, ``-Event``, ``-ID``, ``-Delivery-ID`` and
  ``-Source`` headers. They leave from a background thread (Action Scheduler), so they arrive late.
- ``X-WC-Webhook-Delivery-ID`` is a keyed hash of the webhook's id and the current second (``clock``),
  so every delivery of one webhook within a second carries the same id, as WooCommerce's do.
- A failed delivery (not 2xx/301/302) with ``failure_count`` already over ``MAX_FAILURES`` (5) sets the
  webhook ``disabled``; otherwise it counts one more failure. A success resets the count.
- A new order fires ``order.created`` and then ``order.updated`` (``woocommerce.py``), as WooCommerce does.
- Faults for tests: ``duplicates`` (each delivery replayed N times: the same body and headers),
  ``delay_seconds`` (late) and ``drop_next`` (that many deliveries never sent). Which edits bump
  ``date_modified`` is the shop's ``storage`` mode (``woocommerce.py``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import secrets
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from .base import Request, Response

MAX_FAILURES = 5
TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")


def sign(body: bytes, secret: str) -> str:
    """WooCommerce's webhook signature."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class Webhooks:
    """The simulated shop's webhooks and their delivery queue."""

    def __init__(self, shop: Any, api: str) -> None:  # the WooCommerceSimulator (routes, url)
        self.shop = shop
        self.lock = threading.Lock()
        self.hooks: dict[int, dict[str, Any]] = {}
        self.sent: list[dict[str, Any]] = []  # every delivery attempt: webhook, topic, order, status, delivery id
        self._next_id = 1
        self.duplicates = 1
        self.delay_seconds = 0.0
        self.drop_next = 0
        self.pings: list[tuple[int, int]] = []  # (webhook id, HTTP status of its creation ping; 0: no answer)
        self.clock = time.time  # the second a delivery id is made from
        self._salt = secrets.token_bytes(16)  # wp_hash's key: the site's salts
        self._queue: queue.Queue[tuple[float, int, str, dict[str, Any]] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._deliver_loop, name="wc-webhooks", daemon=True)
        self._worker.start()
        shop.route("GET", api + "/webhooks", self._list)
        shop.route("POST", api + "/webhooks", self._create)
        shop.route("GET", api + "/webhooks/{id:\\d+}", self._get)
        shop.route("PUT", api + "/webhooks/{id:\\d+}", self._update)
        shop.route("POST", api + "/webhooks/{id:\\d+}", self._update)
        shop.route("DELETE", api + "/webhooks/{id:\\d+}", self._delete)

    # -- Python API ------------------------------------------------------------------------

    def create(self, delivery_url: str, topic: str = "order.updated", secret: str = "", status: str = "active",
               ping: bool = True) -> dict[str, Any]:
        """Create a webhook and then ping its URL when active; a failed ping is only recorded in ``pings``."""
        with self.lock:
            hook_id = self._next_id
            self._next_id += 1
        hook = {"id": hook_id, "name": f"Order {topic}", "status": status, "topic": topic,
                "resource": topic.split(".")[0], "event": topic.split(".")[1], "delivery_url": delivery_url,
                "secret": secret or secrets.token_urlsafe(24), "failure_count": 0, "api_version": "wc/v3",
                "date_created_gmt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())}
        with self.lock:
            self.hooks[hook_id] = hook
        if status == "active" and ping:
            code = self._post(delivery_url, b"webhook_id=%d" % hook_id,
                              {"Content-Type": "application/x-www-form-urlencoded"})
            with self.lock:
                self.pings.append((hook_id, code))
        return dict(hook)

    def delivery_id(self, hook_id: int) -> str:
        """WooCommerce's delivery id: a keyed hash of the webhook id and the current second."""
        second = int(self.clock())
        return hmac.new(self._salt, f"{hook_id}{second}".encode(), hashlib.md5).hexdigest()

    def fire(self, topic: str, order: dict[str, Any]) -> None:
        """Queue deliveries of ``order`` to every active webhook of ``topic`` (sent later, on a thread)."""
        with self.lock:
            targets = [hook["id"] for hook in self.hooks.values() if hook["topic"] == topic
                       and hook["status"] == "active"]
        for hook_id in targets:
            with self.lock:
                if self.drop_next > 0:
                    self.drop_next -= 1
                    self.sent.append({"webhook": hook_id, "topic": topic, "order": order.get("id"),
                                      "status": "dropped"})
                    continue
            self._queue.put((time.monotonic() + self.delay_seconds, hook_id, topic, order))

    def close(self) -> None:
        """Stop the delivery thread."""
        self._queue.put(None)

    # -- delivery --------------------------------------------------------------------------

    def _deliver_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            due, hook_id, topic, order = item
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            with self.lock:
                replays = max(1, self.duplicates)
            request = self._request(hook_id, topic, order)
            for _ in range(replays if request else 0):
                self._deliver(hook_id, topic, order, *request)

    def _request(self, hook_id: int, topic: str, order: dict[str, Any]) -> tuple[bytes, dict[str, str]] | None:
        """The body and headers of one delivery, or None when the webhook is not active."""
        with self.lock:
            hook = dict(self.hooks.get(hook_id) or {})
        if hook.get("status") != "active":
            return None
        body = json.dumps(order).encode()
        headers = {
            "Content-Type": "application/json", "X-WC-Webhook-Source": self.shop.url + "/",
            "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Resource": hook["resource"],
            "X-WC-Webhook-Event": hook["event"], "X-WC-Webhook-ID": str(hook_id),
            "X-WC-Webhook-Delivery-ID": self.delivery_id(hook_id),
            "X-WC-Webhook-Signature": sign(body, hook["secret"]),
        }
        return body, headers

    def _deliver(self, hook_id: int, topic: str, order: dict[str, Any], body: bytes, headers: dict[str, str]) -> None:
        with self.lock:
            url = str((self.hooks.get(hook_id) or {}).get("delivery_url", ""))
        code = self._post(url, body, headers) if url else 0
        with self.lock:
            stored = self.hooks.get(hook_id)
            self.sent.append({"webhook": hook_id, "topic": topic, "order": order.get("id"), "status": code,
                              "delivery_id": headers["X-WC-Webhook-Delivery-ID"]})
            if stored is None:
                return
            if 200 <= code < 303:  # WooCommerce counts 2xx, 301 and 302 as delivered
                stored["failure_count"] = 0
            elif stored["failure_count"] > MAX_FAILURES:
                stored["status"] = "disabled"
            else:
                stored["failure_count"] += 1

    @staticmethod
    def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except (OSError, ValueError):
            return 0  # unreachable: counts as a failed delivery

    # -- REST routes -----------------------------------------------------------------------

    def _render(self, hook: dict[str, Any]) -> dict[str, Any]:
        shown = dict(hook)
        shown["secret"] = hook["secret"]  # WooCommerce returns it to the key's owner
        return shown

    def _list(self, request: Request) -> Response:
        with self.lock:
            hooks = [self._render(hook) for hook in self.hooks.values()]
        return Response.json(200, hooks)

    def _get(self, request: Request) -> Response:
        with self.lock:
            hook = self.hooks.get(int(request.params["id"]))
            return Response.json(200, self._render(hook)) if hook else _invalid_id()

    def _create(self, request: Request) -> Response:
        try:
            data = request.json()
        except ValueError:
            return Response.json(400, {"code": "rest_invalid_json", "message": "Invalid JSON body passed."})
        topic, url = str(data.get("topic", "")), str(data.get("delivery_url", ""))
        if topic not in TOPICS or not url.startswith(("http://", "https://")):
            return Response.json(400, {"code": "rest_invalid_param", "message": "Invalid parameter(s): topic"})
        hook = self.create(url, topic, str(data.get("secret") or ""), str(data.get("status") or "active"))
        if data.get("name"):
            with self.lock:
                self.hooks[hook["id"]]["name"] = str(data["name"])
                hook = self.hooks[hook["id"]]
        return Response.json(201, self._render(hook))

    def _update(self, request: Request) -> Response:
        try:
            data = request.json()
        except ValueError:
            return Response.json(400, {"code": "rest_invalid_json", "message": "Invalid JSON body passed."})
        with self.lock:
            hook = self.hooks.get(int(request.params["id"]))
            if hook is None:
                return _invalid_id()
            for key in ("status", "delivery_url", "secret", "name"):
                if key in data:
                    hook[key] = str(data[key])
            if data.get("status") == "active":
                hook["failure_count"] = 0
            return Response.json(200, self._render(hook))

    def _delete(self, request: Request) -> Response:
        with self.lock:
            hook = self.hooks.pop(int(request.params["id"]), None)
        return Response.json(200, self._render(hook)) if hook else _invalid_id()


def _invalid_id() -> Response:
    return Response.json(404, {"code": "woocommerce_rest_webhook_invalid_id", "message": "Invalid ID."})
