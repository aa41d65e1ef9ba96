from sync_daemon.core.http import _reason
from sync_daemon.core.redaction import redact, register, safe_url


def test_registered_secrets_are_masked_everywhere():
    register("s3cr3t-value-xyz")
    assert redact("auth failed for s3cr3t-value-xyz at 12:00") == "auth failed for *** at 12:00"


def test_credential_shapes_are_masked_even_unregistered():
    text = (
        "GET /orders?consumer_key=ck_abc&consumer_secret=cs_0123456789abcdef0123456789"
        " Authorization: Basic Zm9vOmJhcg=="
    )
    masked = redact(text)
    assert "cs_0123456789abcdef0123456789" not in masked
    assert "Zm9vOmJhcg==" not in masked
    assert "security_token=***" in redact("aff_lsr?offer_id=1&security_token=070a632e2b574ca894d90610c7da97bc")


def test_safe_url_drops_query_and_userinfo():
    url = "https://user:pw@shop.example.com:8443/wp-json/wc/v3/orders?oauth_signature=abc&consumer_secret=x"
    assert safe_url(url) == "https://shop.example.com:8443/wp-json/wc/v3/orders"


def test_network_error_reason_has_no_url():
    error = Exception(
        "HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: "
        "/orders?oauth_signature=abc (Caused by NewConnectionError('<x>: Failed to establish a new connection: "
        "[Errno 111] Connection refused'))"
    )
    assert _reason(error) == "connection refused"


def test_config_locations_are_not_mistaken_for_values():
    message = "woocommerce.consumer_secret: required; shopback.security_token: required"
    assert redact(message) == message


def test_library_log_records_are_json_and_masked():
    import io
    import json
    import logging

    from sync_daemon.core import logs

    stream = io.StringIO()
    logs.configure("info", "json", stream=stream)
    try:
        register("lib-secret-0123456789")
        logging.getLogger("urllib3.connectionpool").warning("Retrying /orders?token=lib-secret-0123456789")
        logging.getLogger("apscheduler.scheduler").warning(
            'Execution of job "poll" skipped: maximum number of running instances reached (1)'
        )
    finally:
        logs.configure("info", "console", stream=io.StringIO())
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 1  # the scheduler's deliberate skip is not a warning worth a line
    assert lines[0]["logger"] == "urllib3.connectionpool" and lines[0]["level"] == "warning"
    assert "lib-secret-0123456789" not in stream.getvalue() and "***" in lines[0]["event"]


def test_sessions_read_the_environment_once_unless_a_proxy_is_set(monkeypatch):
    from sync_daemon.core.http import build_session

    for name in [key for key in __import__("os").environ if key.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/shop-ca.pem")
    session = build_session()
    assert session.trust_env is False and session.verify == "/etc/ssl/certs/shop-ca.pem"
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    proxied = build_session()
    assert proxied.trust_env is True  # requests applies no_proxy per host itself
