"""The keys that sign and verify audit seals (Ed25519).

The signing key is ``KAMENG_AUDIT_SEAL_KEY`` (a base64 32-byte seed) or, without it, the file
``KAMENG_AUDIT_SEAL_KEY_FILE`` (default ``var/audit-seal.key``), created with mode 0600 the
first time a key is needed. A key's id is derived from its public key, so a seal names the
key that can check it and no id can disagree with its key. Retired keys stay in
``KAMENG_AUDIT_VERIFY_KEYS`` as public keys only: their seals keep verifying, nobody can sign
with them any more.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from infra.settings import Settings, get_settings


class SealKeyError(RuntimeError):
    pass


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_text(public: Ed25519PublicKey) -> str:
    """The form ``KAMENG_AUDIT_VERIFY_KEYS`` takes."""
    return base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def _decode(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SealKeyError(f"{what} is not base64") from None
    if len(raw) != 32:
        raise SealKeyError(f"{what} must be 32 bytes, found {len(raw)}")
    return raw


def _key_file(path: Path, create: bool) -> bytes | None:
    """The seed in ``path``, written there first (0600, never overwritten) when it is missing
    and ``create`` says so."""
    if not path.exists():
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        seed = base64.b64encode(os.urandom(32)) + b"\n"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it meanwhile: use theirs
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(seed)
    return _decode(path.read_text(), f"the seal key file {path}")


def signing_key(settings: Settings | None = None) -> Ed25519PrivateKey:
    """The current key; the key file is created on first use."""
    key = _current(settings or get_settings(), create=True)
    assert key is not None
    return key


def _current(settings: Settings, *, create: bool) -> Ed25519PrivateKey | None:
    if settings.audit_seal_key:
        seed = _decode(settings.audit_seal_key, "KAMENG_AUDIT_SEAL_KEY")
    else:
        seed = _key_file(settings.resolved_audit_seal_key_file, create)
    return None if seed is None else Ed25519PrivateKey.from_private_bytes(seed)


def verification_keys(settings: Settings | None = None) -> dict[str, Ed25519PublicKey]:
    """Every key a seal may name: the current one and the retired ones, by key id.

    Verifying never creates a key file: a process without the signer's key reports its seals
    as signed with an unknown key rather than trusting a key of its own."""
    settings = settings or get_settings()
    keys = {}
    for text in filter(None, (t.strip() for t in settings.audit_verify_keys.split(","))):
        public = Ed25519PublicKey.from_public_bytes(_decode(text, "a KAMENG_AUDIT_VERIFY_KEYS entry"))
        keys[key_id(public)] = public
    current = _current(settings, create=False)
    if current is not None:
        keys[key_id(current.public_key())] = current.public_key()
    return keys


def signature_holds(message: bytes, kid: str, signature: str, keys: dict[str, Ed25519PublicKey]) -> str | None:
    """None when the signature holds, else why not."""
    public = keys.get(kid)
    if public is None:
        return f"signed with unknown key {kid}"
    try:
        public.verify(bytes.fromhex(signature), message)
    except (InvalidSignature, ValueError):
        return "signature does not verify"
    return None
