"""collector.toml: the example loads, errors name the file and key, flags override."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from collector import config
from collector.broker import broker_address
from collector.cli import main
from collector.config import CollectorConfig
from collector.errors import ConfigError
from tests.support.services import DEPLOY


def test_example_config_loads_and_documents_every_default() -> None:
    example = DEPLOY / "collector.toml"
    assert config.load(example) == CollectorConfig()
    uncommented = "\n".join(
        line[2:] if line.startswith("# ") and "=" in line else line
        for line in example.read_text().splitlines()
        if not line.startswith("##")
    )
    documented = tomllib.loads(uncommented)
    assert config.load_text(uncommented.encode(), "example") == CollectorConfig()
    for section, struct in config.sections():
        assert set(documented[section]) == set(struct.__struct_fields__), section


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[mqtt]\nmax_inflight = "many"',
            "collector.toml: Expected `int`, got `str` - at `$.mqtt.max_inflight`",
        ),
        ("[mqtt]\nbrokr = 'x'", "collector.toml: Object contains unknown field `brokr` - at `$.mqtt`"),
        ("[mqtt]\nbroker = 'tcp://x'", "collector.toml: mqtt.broker must be mqtt://HOST[:PORT]"),
        ("[http]\nlisten = '9108'", "collector.toml: http.listen must be HOST:PORT, got '9108'"),
        ("[metrics]\ntoken_env = 'DESKWATCH_NOT_SET_ANYWHERE'", "collector.toml: metrics.token_env names"),
        ("[mqtt", "collector.toml: not valid TOML"),
        (
            '[http]\ntls_cert_file = "/etc/ssl/c.pem"',
            "collector.toml: http.tls_cert_file and http.tls_key_file go",
        ),
        (
            '[http]\ntls_cert_file = "/nonexistent/c.pem"\ntls_key_file = "/nonexistent/k.pem"',
            "collector.toml: http.tls_cert_file '/nonexistent/c.pem' cannot be read",
        ),
        (
            '[http]\ninternal_listen = "127.0.0.1:9108"',
            "collector.toml: http.internal_listen must differ from http.listen (127.0.0.1:9108)",
        ),
        (
            '[http]\ninternal_listen = "9109"',
            "collector.toml: http.internal_listen must be HOST:PORT, got '9109'",
        ),
        (
            '[incidents.webhooks.it]\nurl = "http://h/x"\nsecret_env = "DESKWATCH_TEST_SECRET"\n'
            '[incidents.email.it]\nhost = "m"\nsender = "a@b"\nrecipients = ["c@d"]\n',
            "collector.toml: incidents.webhooks.it and incidents.email.it share the name 'it'",
        ),
        (
            '[incidents.webhooks.hd]\nurl = "http://h/x"\nsecret_env = "DESKWATCH_NOT_SET_ANYWHERE"\n',
            "collector.toml: incidents.webhooks.hd.secret_env names $DESKWATCH_NOT_SET_ANYWHERE, "
            "which is not set or empty",
        ),
        (
            '[incidents.webhooks.hd]\nurl = "http://h/x"\nsecret_env = "DESKWATCH_TEST_EMPTY"\n',
            "collector.toml: incidents.webhooks.hd.secret_env names $DESKWATCH_TEST_EMPTY, which is not set",
        ),
        (
            '[[incidents.routes]]\nconnector = "helpdsk"\n',
            "collector.toml: incidents.routes[0].connector 'helpdsk' is no webhook or e-mail connector",
        ),
    ],
)
def test_bad_config_names_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.setenv("DESKWATCH_TEST_SECRET", "s3cret")
    monkeypatch.setenv("DESKWATCH_TEST_EMPTY", "")
    path = tmp_path / "collector.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert str(err.value).startswith(str(tmp_path / message)) or message in str(err.value)


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "collector.toml"
    path.write_text('[mqtt]\nbroker = "mqtt://a:1"\n[http]\nlisten = "0.0.0.0:1"\n')
    loaded = config.with_overrides(
        config.load(path), broker="mqtts://b", listen="127.0.0.1:2", db="sqlite://"
    )
    assert (loaded.mqtt.broker, loaded.http.listen, loaded.store.url) == (
        "mqtts://b",
        "127.0.0.1:2",
        "sqlite://",
    )
    assert broker_address(loaded.mqtt) == ("b", 8883, True)


def test_cli_reports_a_bad_config_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "collector.toml"
    path.write_text("[mqtt]\nport = 1\n")
    assert main(["deadletter", "list", "--config", str(path)]) == 2
    assert "unknown field `port`" in capsys.readouterr().err
