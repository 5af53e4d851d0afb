"""Credentials for remote stores: which header each choice sends, and what is refused."""

from __future__ import annotations

import base64

import httpx
import pytest

from defence_engagements.errors import ConfigurationError
from defence_engagements.query.http_auth import AuthScheme, RemoteCredentials


def authorization(credentials: RemoteCredentials) -> str | None:
    auth = credentials.to_auth()
    request = httpx.Request("GET", "http://127.0.0.1/sparql")
    if auth is None:
        return None
    return next(auth.sync_auth_flow(request)).headers.get("Authorization")


def test_each_scheme_sends_its_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORE_PASSWORD", "s3cret")
    monkeypatch.setenv("STORE_TOKEN", "t0ken")
    basic = authorization(RemoteCredentials(user="admin", password_env="STORE_PASSWORD"))
    assert basic == "Basic " + base64.b64encode(b"admin:s3cret").decode()
    assert authorization(RemoteCredentials(token_env="STORE_TOKEN")) == "Bearer t0ken"
    assert authorization(RemoteCredentials(token_env="STORE_TOKEN", token_scheme="GDB")) == (
        "GDB t0ken"
    )
    # Digest answers a challenge: nothing is sent before the server asks.
    digest = RemoteCredentials(user="dba", password_env="STORE_PASSWORD", scheme=AuthScheme.DIGEST)
    assert isinstance(digest.to_auth(), httpx.DigestAuth)
    assert authorization(digest) is None
    assert authorization(RemoteCredentials()) is None


def test_missing_or_conflicting_secrets_are_configuration_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STORE_TOKEN", raising=False)
    monkeypatch.setenv("STORE_PASSWORD", "s3cret")
    with pytest.raises(ConfigurationError, match="STORE_TOKEN is not set"):
        RemoteCredentials(token_env="STORE_TOKEN").to_auth()
    with pytest.raises(ConfigurationError, match="not both"):
        RemoteCredentials(user="a", token_env="STORE_PASSWORD").to_auth()
    with pytest.raises(ConfigurationError, match="needs --user"):
        RemoteCredentials(password_env="STORE_PASSWORD").to_auth()
