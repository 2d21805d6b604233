"""Detached JWS: our signatures verify, and only in their one canonical spelling."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from advisor.audit.jws import JwsError, sign_detached, verify_detached
from advisor.audit.keys import SigningKey, b64url, b64url_decode


@pytest.fixture
def key() -> SigningKey:
    return SigningKey(Ed25519PrivateKey.generate())


def test_a_signature_verifies_and_names_its_key(key: SigningKey) -> None:
    detached = sign_detached(key, b'{"a":1}')
    assert verify_detached(detached, b'{"a":1}', {key.kid: key.private_key.public_key()}) == key.kid


def test_other_payload_or_key_is_refused(key: SigningKey) -> None:
    detached = sign_detached(key, b'{"a":1}')
    with pytest.raises(JwsError, match="bad signature"):
        verify_detached(detached, b'{"a":2}', {key.kid: key.private_key.public_key()})
    with pytest.raises(JwsError, match="unknown key"):
        verify_detached(detached, b'{"a":1}', {})


def test_a_second_spelling_of_the_same_signature_is_refused(key: SigningKey) -> None:
    header, _, signature = sign_detached(key, b"x").split(".")
    # The last base64url character of 64 bytes carries 4 unused bits: flipping one keeps the bytes.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    respelled = signature[:-1] + alphabet[last ^ 1]
    assert b64url_decode(respelled) == b64url_decode(signature)
    assert b64url(b64url_decode(respelled)) != respelled
    with pytest.raises(JwsError, match="bad signature"):
        verify_detached(f"{header}..{respelled}", b"x", {key.kid: key.private_key.public_key()})


def test_an_unpinned_algorithm_is_refused(key: SigningKey) -> None:
    header = b64url(b'{"alg":"none","kid":"' + key.kid.encode() + b'"}')
    with pytest.raises(JwsError, match="not accepted"):
        verify_detached(f"{header}..", b"x", {key.kid: key.private_key.public_key()})
