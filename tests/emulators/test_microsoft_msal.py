"""The Microsoft emulator's identity platform, driven by Microsoft's own client library (msal).

msal only talks to an ``https`` authority and reads the tenant's OIDC discovery document first,
so the emulator is served over TLS with a throwaway CA that only msal's session trusts.  If msal
can sign in, redeem the code, refresh (rotating the refresh token) and refresh silently from its
cache, the emulator speaks the protocol the way Microsoft's clients expect it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import msal
import pytest
import requests
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from parlay_emulators.microsoft import PERSONAL_TENANT, WORK_TENANT, create_app
from tests.providers.conftest import free_port

CLIENT = "0d5c7a3e-parlay-msal-test"
SECRET = "msal-test-secret"
REDIRECT = "http://localhost/oauth/microsoft/callback"
SCOPES = ["Calendars.ReadWrite", "User.Read"]

# msal recommends response_mode=form_post; Parlay's callback (like this test) reads the query.
pytestmark = pytest.mark.filterwarnings("ignore:response_mode:UserWarning")


@dataclass(frozen=True)
class Tls:
    ca: Path
    cert: Path
    key: Path


def _cert(
    subject: x509.Name, issuer: x509.Name, public: Any, signer: Any, ca: bool
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public), critical=False
        )
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A one-off CA and a certificate for 127.0.0.1 signed by it."""
    folder = tmp_path_factory.mktemp("tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Parlay test CA")])
    ca = _cert(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    leaf = _cert(leaf_name, ca_name, key.public_key(), ca_key, ca=False)
    paths = Tls(folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture(scope="module")
def base_url(tls: Tls) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ssl_certfile=str(tls.cert),
        ssl_keyfile=str(tls.key),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"https://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def http(base_url: str, tls: Tls) -> Iterator[httpx.Client]:
    """The emulator, emptied, with one personal and one work account and our client."""
    context = ssl.create_default_context(cafile=str(tls.ca))
    with httpx.Client(base_url=base_url, verify=context, timeout=10) as client:
        assert client.post("/_emulator/reset").status_code == 204
        for upn, kind in (("alice@outlook.com", "personal"), ("bob@contoso.com", "work")):
            reply = client.post(
                "/_emulator/accounts",
                json={"userPrincipalName": upn, "displayName": upn.split("@")[0], "kind": kind},
            )
            assert reply.status_code == 201, reply.text
        registered = client.post(
            "/_emulator/clients",
            json={"client_id": CLIENT, "client_secret": SECRET, "redirect_uris": [REDIRECT]},
        )
        assert registered.status_code == 201
        yield client


def msal_app(base_url: str, tls: Tls, secret: str = SECRET) -> msal.ConfidentialClientApplication:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise replace our CA
    session.verify = str(tls.ca)
    return msal.ConfidentialClientApplication(
        CLIENT,
        client_credential=secret,
        authority=f"{base_url}/common",
        instance_discovery=False,  # no login.microsoftonline.com instance metadata here
        http_client=session,
    )


def consent(http: httpx.Client, auth_uri: str) -> dict[str, str]:
    """Follow msal's authorize URL through the consent page; the redirect's query."""
    page = http.get(auth_uri)
    assert page.status_code == 200, page.text
    form = {
        "request": re.search(r'name="request" value="([^"]+)"', page.text).group(1),  # type: ignore[union-attr]
        "account": re.search(r'name="account" value="([^"]+)" checked', page.text).group(1),  # type: ignore[union-attr]
        "action": "accept",
    }
    answer = http.post(urlsplit(auth_uri).path, data=form)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def sign_in(
    http: httpx.Client, app: msal.ConfidentialClientApplication, upn: str
) -> dict[str, Any]:
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT, login_hint=upn)
    result: dict[str, Any] = app.acquire_token_by_auth_code_flow(
        flow, consent(http, flow["auth_uri"])
    )
    return result


def test_msal_signs_in_with_the_code_flow_and_the_token_reads_graph(
    http: httpx.Client, base_url: str, tls: Tls
) -> None:
    app = msal_app(base_url, tls)
    flow = app.initiate_auth_code_flow(
        SCOPES, redirect_uri=REDIRECT, login_hint="alice@outlook.com"
    )
    asked = parse_qs(urlsplit(flow["auth_uri"]).query)
    assert {"offline_access", "openid", "profile", *SCOPES} <= set(asked["scope"][0].split())
    assert asked["code_challenge_method"] == ["S256"]

    result = app.acquire_token_by_auth_code_flow(flow, consent(http, flow["auth_uri"]))
    assert "error" not in result, result
    assert result["token_type"] == "Bearer" and result["refresh_token"]
    claims = result["id_token_claims"]  # msal has matched its nonce
    assert claims["preferred_username"] == "alice@outlook.com"
    assert claims["tid"] == PERSONAL_TENANT and claims["aud"] == CLIENT
    me = http.get("/v1.0/me", headers={"Authorization": f"Bearer {result['access_token']}"})
    assert me.status_code == 200 and me.json()["mail"] == "alice@outlook.com"


def test_a_work_account_gets_its_own_tenant(http: httpx.Client, base_url: str, tls: Tls) -> None:
    result = sign_in(http, msal_app(base_url, tls), "bob@contoso.com")
    assert "error" not in result, result
    claims = result["id_token_claims"]
    assert claims["tid"] == WORK_TENANT != PERSONAL_TENANT
    assert claims["iss"] == f"{base_url}/{WORK_TENANT}/v2.0"


def test_msal_refresh_rotates_the_refresh_token_and_the_old_one_is_refused(
    http: httpx.Client, base_url: str, tls: Tls
) -> None:
    app = msal_app(base_url, tls)
    first = sign_in(http, app, "alice@outlook.com")
    second = app.acquire_token_by_refresh_token(first["refresh_token"], scopes=SCOPES)
    assert "error" not in second, second
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    me = http.get("/v1.0/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.status_code == 200

    again = app.acquire_token_by_refresh_token(first["refresh_token"], scopes=SCOPES)
    assert again["error"] == "invalid_grant"
    assert again["error_codes"] and "AADSTS" in again["error_description"]


def test_msal_refreshes_silently_from_its_own_cache(
    http: httpx.Client, base_url: str, tls: Tls
) -> None:
    app = msal_app(base_url, tls)
    first = sign_in(http, app, "alice@outlook.com")
    (account,) = app.get_accounts()
    assert account["username"] == "alice@outlook.com"
    fresh = app.acquire_token_silent(SCOPES, account=account, force_refresh=True)
    assert fresh is not None and "error" not in fresh, fresh
    assert fresh["access_token"] != first["access_token"]


def test_a_wrong_client_secret_is_invalid_client(
    http: httpx.Client, base_url: str, tls: Tls
) -> None:
    result = sign_in(http, msal_app(base_url, tls, secret="not-the-secret"), "alice@outlook.com")
    assert result["error"] == "invalid_client"
    assert 7000215 in result["error_codes"]
