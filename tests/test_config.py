import pytest

from sync_daemon.config import load_settings
from sync_daemon.core.errors import ConfigurationError
from sync_daemon.core.redaction import redact

VALID = """
[woocommerce]
url = "https://shop.example.com/"
consumer_key = "ck_0123456789abcdef0123456789abcdef01234567"
consumer_secret = "cs_0123456789abcdef0123456789abcdef01234567"

[gotrack]
enabled = true
api_key = "fbc_123456789012"
api_secret = "gotrack-secret-value"
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("SYNC_DAEMON_CONFIG", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)


def write(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_valid_file_loads_with_defaults(tmp_path):
    settings = load_settings(write(tmp_path, VALID))
    assert settings.woocommerce.url == "https://shop.example.com"
    assert settings.woocommerce.statuses == ["processing", "on-hold"]
    assert settings.enabled_destinations() == ["gotrack"]
    assert settings.gotrack.phone_format == "local"
    assert redact("secret is gotrack-secret-value") == "secret is ***"


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNC_DAEMON_GOTRACK__API_SECRET", "from-the-environment")
    monkeypatch.setenv("SYNC_DAEMON_POLL_INTERVAL_SECONDS", "15")
    settings = load_settings(write(tmp_path, VALID))
    assert settings.gotrack.api_secret.get_secret_value() == "from-the-environment"
    assert settings.poll_interval_seconds == 15


def test_systemd_credentials_are_read_from_files(tmp_path, monkeypatch):
    credentials = tmp_path / "creds"
    credentials.mkdir()
    (credentials / "gotrack.api_secret").write_text("from-a-credential\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    settings = load_settings(write(tmp_path, VALID))
    assert settings.gotrack.api_secret.get_secret_value() == "from-a-credential"


def test_every_problem_is_reported_at_once(tmp_path):
    text = VALID.replace('url = "https://shop.example.com/"', 'url = "shop.example.com"')
    text += "\npoll_interval_seconds = 0\n"
    text = text.replace("[gotrack]", "[gotrack]\nphone_format = \"weird\"\nendpiont = \"x\"")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(write(tmp_path, text))
    message = str(caught.value)
    for fragment in ("woocommerce.url", "poll_interval_seconds", "gotrack.phone_format", "gotrack.endpiont"):
        assert fragment in message
    assert "gotrack-secret-value" not in message


def test_missing_credentials_and_bad_key_prefix(tmp_path):
    text = VALID.replace('api_key = "fbc_123456789012"', 'api_key = "abc"').replace(
        'consumer_secret = "cs_0123456789abcdef0123456789abcdef01234567"', "")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(write(tmp_path, text))
    assert "woocommerce.consumer_secret: required" in str(caught.value)
    assert "starts with 'fbc_'" in str(caught.value)


def test_gotrack_must_use_https_except_on_loopback(tmp_path):
    with pytest.raises(ConfigurationError, match="https"):
        load_settings(write(tmp_path, VALID + 'endpoint = "http://gotrack.example/api/v1/orders"\n'))
    settings = load_settings(write(tmp_path, VALID + 'endpoint = "http://127.0.0.1:8080/api/v1/orders"\n'))
    assert settings.gotrack.endpoint.startswith("http://127.0.0.1")


def test_broken_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_settings(write(tmp_path, "[woocommerce\n"))
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_state_dir_follows_systemd(tmp_path, monkeypatch):
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/sync-daemon:/other")
    settings = load_settings(write(tmp_path, VALID))
    assert str(settings.resolved_state_dir()) == "/var/lib/sync-daemon"


def test_example_config_documents_every_key_and_loads():
    """config.example.toml must stay true to the code: every setting appears, and it parses."""
    import re
    import tomllib
    from pathlib import Path

    from sync_daemon.config import Settings

    path = Path(__file__).parent.parent / "config.example.toml"
    text = path.read_text()
    Settings(**tomllib.loads(text))  # parses and validates as written
    sections = {"": text.split("\n[", 1)[0]}
    for block in text.split("\n[")[1:]:
        name, _, body = block.partition("]")
        sections[name] = body
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            assert name in sections, f"section [{name}] missing from config.example.toml"
            for key in annotation.model_fields:
                assert re.search(rf"^#? ?{key} =", sections[name], re.M), f"{name}.{key} is not documented"
        else:
            assert re.search(rf"^#? ?{name} =", sections[""], re.M), f"{name} is not documented"


def test_invalid_values_and_missing_credentials_are_reported_together(tmp_path, monkeypatch):
    # A format error used to hide the cross-field checks until it was fixed: one run, every problem.
    text = VALID.replace('api_key = "fbc_123456789012"', 'api_key = "abc"\nphone_format = 42').replace(
        'consumer_secret = "cs_0123456789abcdef0123456789abcdef01234567"', "")
    monkeypatch.setenv("SYNC_DAEMON_DELIVERY__BATCH_SIZE", "zero")  # an invalid value from the environment
    with pytest.raises(ConfigurationError) as caught:
        load_settings(write(tmp_path, text))
    message = str(caught.value)
    for fragment in ("gotrack.phone_format", "delivery.batch_size", "woocommerce.consumer_secret: required",
                     "starts with 'fbc_'"):
        assert fragment in message, message
    assert message.count("\n  - ") == 4, message


def test_a_section_left_out_as_invalid_does_not_add_a_misleading_problem(tmp_path):
    text = VALID.replace("[gotrack]\nenabled = true", '[gotrack]\nenabled = "maybe"')
    with pytest.raises(ConfigurationError) as caught:
        load_settings(write(tmp_path, text))
    assert "gotrack.enabled" in str(caught.value)
    assert "no platform is enabled" not in str(caught.value)


def test_checks_get_every_section_that_is_valid_and_the_problems_of_the_others(tmp_path):
    from sync_daemon.setup.offline import check_offline

    text = f'state_dir = "{tmp_path / "state"}"\n' + VALID.replace("shop.example.com", "shop.example.net") + (
        'endpoint = "http://gotrack.example/api/v1/orders"\n'
        '\n[shopback]\nenabled = true\noffer_id = "5120"\nsecurity_token = "0123456789abcdefABCDEF0123456789 "\n'
        "\n[delivery]\nbatch_size = 0\n"
    )
    report = check_offline(write(tmp_path, text))
    settings, problems = report.settings, {**report.by_section(), "": report.lines({""})}
    assert settings.woocommerce.consumer_key.get_secret_value().startswith("ck_")
    assert settings.gotrack.api_key.get_secret_value() == "fbc_123456789012"  # the rest of [gotrack] is kept
    assert problems["gotrack"] == ["gotrack.endpoint: must use https:// (credentials travel with every request)"]
    assert problems["shopback"] == [
        "shopback.security_token: has a space at the end (it came along with the paste): remove it"
    ]
    assert problems[""][0].startswith("delivery.batch_size:")
    assert "woocommerce" not in problems


def test_a_postgresql_ledger_is_checked_strictly(tmp_path, monkeypatch):
    url = 'url = "postgresql://sync@db.example.com/sync"'
    settings = load_settings(write(tmp_path, VALID + f"\n[ledger]\n{url}\n"))
    assert settings.ledger.shared and "lease_seconds" not in str(settings.problems())
    # A lease shorter than a request may take (2 × the 15 s timeout + 10 s) would let a second daemon
    # send a row whose request is still out.
    with pytest.raises(ConfigurationError, match=r"ledger.lease_seconds \(30\) must be at least twice"):
        load_settings(write(tmp_path, VALID + f"\n[ledger]\n{url}\nlease_seconds = 30\n"))
    for bad in ('"postgresql://sync:hunter2@db/sync"', '"postgresql://sync@db/sync?password=hunter2"'):
        with pytest.raises(ConfigurationError, match="holds a password") as raised:
            load_settings(write(tmp_path, VALID + f"\n[ledger]\nurl = {bad}\n"))
        assert "hunter2" not in str(raised.value)
    monkeypatch.setenv("SYNC_DAEMON_LEDGER__PASSWORD", "ledger-secret-value")
    settings = load_settings(write(tmp_path, VALID + f"\n[ledger]\n{url}\n"))
    assert "ledger-secret-value" in settings.secrets()
