"""Where a device is and how to talk to it: address, SNMP version and credentials.

Also parses the `--device` URL forms:

    snmp://COMMUNITY@HOST[:PORT]                        SNMP v2c (the default)
    snmp://HOST[:PORT]                                  v2c with community "public"
    snmpv1://COMMUNITY@HOST[:PORT]                      SNMP v1
    snmpv3://USER:AUTHKEY:PRIVKEY@HOST[:PORT]?auth=sha&priv=aes&context=NAME
                                                        SNMP v3 authPriv (default SHA + AES-128);
                                                        USER:AUTHKEY@ is authNoPriv, USER@ noAuthNoPriv

Keys and communities are percent-decoded, so `%40` stands for `@` and `%3A` for `:`.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Literal

import msgspec

from agent.snmp.errors import DeviceUrlError

AuthProtocol = Literal["none", "md5", "sha", "sha224", "sha256", "sha384", "sha512"]
PrivProtocol = Literal["none", "des", "3des", "aes", "aes192", "aes256"]


class Auth(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Credentials of one `[snmp.auth.NAME]` table; secrets may be given as `*_env` variable names."""

    version: Literal["1", "2c", "3"] = "2c"
    community: str = "public"
    community_env: str = ""
    user: str = ""
    auth_protocol: AuthProtocol = "sha"
    auth_key: str = ""
    auth_key_env: str = ""
    priv_protocol: PrivProtocol = "aes"
    priv_key: str = ""
    priv_key_env: str = ""
    context: str = ""

    def resolved(self) -> Auth:
        """This auth with every `*_env` secret read from the environment (KeyError names a missing one)."""
        changes: dict[str, str] = {}
        for name in ("community", "auth_key", "priv_key"):
            env = getattr(self, f"{name}_env")
            if env:
                if env not in os.environ:
                    raise DeviceUrlError(f"environment variable {env} (for {name}) is not set")
                changes[name] = os.environ[env]
                changes[f"{name}_env"] = ""
        return msgspec.structs.replace(self, **changes) if changes else self

    @property
    def level(self) -> str:
        """The v3 security level the keys allow: authPriv, authNoPriv or noAuthNoPriv."""
        if not self.auth_key or self.auth_protocol == "none":
            return "noAuthNoPriv"
        return "authPriv" if self.priv_key and self.priv_protocol != "none" else "authNoPriv"


class Target(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One device to poll and how patiently."""

    host: str
    port: int = 161
    auth: Auth = Auth()
    timeout_seconds: float = 2.0
    retries: int = 1
    max_repetitions: int = 25

    @property
    def address(self) -> str:
        """host, or host:port when the port is not the standard 161."""
        return self.host if self.port == 161 else f"{self.host}:{self.port}"


_SCHEMES = {"snmp": "2c", "snmpv2c": "2c", "snmpv1": "1", "snmpv3": "3"}


def parse_device_url(url: str) -> Target:
    """A `--device` URL -> Target; DeviceUrlError with the reason when it is malformed."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or 161
    except ValueError as err:
        raise DeviceUrlError(f"{url!r}: {err}") from None
    version = _SCHEMES.get(parts.scheme.lower())
    if version is None:
        raise DeviceUrlError(f"{url!r}: scheme must be one of {', '.join(_SCHEMES)}")
    if not parts.hostname:
        raise DeviceUrlError(f"{url!r}: no host")
    if parts.path not in ("", "/"):
        raise DeviceUrlError(f"{url!r}: unexpected path {parts.path!r}")
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    secrets = [urllib.parse.unquote(s) for s in userinfo.split(":")] if userinfo else []
    if version != "3":
        if len(secrets) > 1 or query:
            raise DeviceUrlError(f"{url!r}: v1/v2c URLs carry only COMMUNITY@HOST[:PORT]")
        auth = Auth(version=version, community=secrets[0] if secrets else "public")  # type: ignore[arg-type]
    else:
        if not secrets or not secrets[0] or len(secrets) > 3:
            raise DeviceUrlError(f"{url!r}: v3 URLs need USER[:AUTHKEY[:PRIVKEY]]@HOST")
        unknown = set(query) - {"auth", "priv", "context"}
        if unknown:
            raise DeviceUrlError(f"{url!r}: unknown parameter(s) {', '.join(sorted(unknown))}")
        try:
            auth = msgspec.convert(
                {
                    "version": "3",
                    "user": secrets[0],
                    "auth_key": secrets[1] if len(secrets) > 1 else "",
                    "priv_key": secrets[2] if len(secrets) > 2 else "",
                    "auth_protocol": query.get("auth", "sha").lower(),
                    "priv_protocol": query.get("priv", "aes").lower(),
                    "context": query.get("context", ""),
                },
                type=Auth,
            )
        except msgspec.ValidationError as err:
            raise DeviceUrlError(f"{url!r}: {err}") from None
    return Target(host=parts.hostname, port=port, auth=auth)
