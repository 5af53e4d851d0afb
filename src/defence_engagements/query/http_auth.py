"""Credentials for remote SPARQL services: Basic, Digest or a bearer-style token.

Secrets never appear on a command line: the user names an environment variable
that holds the password or token, and this module reads it.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass
from enum import Enum

import httpx

from defence_engagements.errors import ConfigurationError


class AuthScheme(Enum):
    BASIC = "basic"  # Fuseki, GraphDB, Neptune behind a proxy
    DIGEST = "digest"  # Virtuoso's /sparql-graph-crud-auth


class TokenAuth(httpx.Auth):
    """``Authorization: <scheme> <token>`` on every request (Bearer, GraphDB's GDB, …)."""

    def __init__(self, token: str, scheme: str = "Bearer") -> None:
        self._header = f"{scheme} {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


@dataclass(frozen=True, kw_only=True)
class RemoteCredentials:
    """What the user asked for; ``to_auth`` resolves the secret from the environment."""

    user: str | None = None
    password_env: str | None = None
    token_env: str | None = None
    token_scheme: str = "Bearer"
    scheme: AuthScheme = AuthScheme.BASIC

    def to_auth(self) -> httpx.Auth | None:
        if self.token_env and (self.user or self.password_env):
            raise ConfigurationError("use either --user/--password-env or --token-env, not both")
        if self.token_env:
            return TokenAuth(_secret(self.token_env), self.token_scheme)
        if self.password_env and not self.user:
            raise ConfigurationError("--password-env needs --user")
        if self.user is None:
            return None
        password = _secret(self.password_env) if self.password_env else ""
        if self.scheme is AuthScheme.DIGEST:
            return httpx.DigestAuth(self.user, password)
        return httpx.BasicAuth(self.user, password)


def _secret(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise ConfigurationError(f"environment variable {variable} is not set or empty")
    return value
