"""Session keys: load an OpenSSH private key, give its public blob, and make SSH signatures with it.

The only module that imports ``cryptography``.  Supports RSA (ssh-rsa, rsa-sha2-256, rsa-sha2-512),
Ed25519 and ECDSA on nistp256/384/521 -- what ``ssh-keygen -t rsa|ed25519|ecdsa`` makes.  Also checks the
one-line public host keys that go into known_hosts.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Tuple, Union

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from . import wire

_ECDSA = {  # curve name -> (SSH key type, hash)
    "secp256r1": ("ecdsa-sha2-nistp256", hashes.SHA256),
    "secp384r1": ("ecdsa-sha2-nistp384", hashes.SHA384),
    "secp521r1": ("ecdsa-sha2-nistp521", hashes.SHA512),
}
_RSA_ALGORITHMS = (  # checked in this order, as OpenSSH's agent does
    (wire.RSA_SHA2_256, "rsa-sha2-256", hashes.SHA256),
    (wire.RSA_SHA2_512, "rsa-sha2-512", hashes.SHA512),
)
_RSA_VERIFY = {"ssh-rsa": hashes.SHA1, "rsa-sha2-256": hashes.SHA256, "rsa-sha2-512": hashes.SHA512}
_KEY_TYPE = re.compile(r"[a-z0-9][a-z0-9@.-]{0,63}")
_OPENSSH_PEM = re.compile(rb"-----BEGIN OPENSSH PRIVATE KEY-----")  # searched in place: no copy of the text


class KeyFormatError(ValueError):
    """A key that cannot be used; the message never contains key material."""


class SigningKey:
    """A loaded private key: ``key_type`` ("ssh-ed25519", ...), ``blob`` (public key blob) and sign()."""

    __slots__ = ("_key", "_public", "key_type", "blob")

    def __init__(self, key, key_type: str) -> None:
        self._key = key
        self._public = key.public_key()
        self.key_type = key_type
        openssh = self._public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        self.blob = base64.b64decode(openssh.split()[1])

    def __repr__(self) -> str:
        return f"<SigningKey {self.key_type}>"

    def wipe(self) -> None:
        """Let go of the private key.  cryptography keeps it in OpenSSL, which clears it when freed."""
        self._key = None

    def sign(self, data: bytes, flags: int = 0) -> bytes:
        """The SSH signature blob (string algorithm, string signature) over *data*."""
        key = self._key
        if key is None:
            raise KeyFormatError("the key was wiped")
        if isinstance(key, rsa.RSAPrivateKey):
            algorithm, digest = "ssh-rsa", hashes.SHA1
            for flag, name, hash_type in _RSA_ALGORITHMS:
                if flags & flag:
                    algorithm, digest = name, hash_type
                    break
            return wire.string(algorithm) + wire.string(key.sign(data, padding.PKCS1v15(), digest()))
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return wire.string(self.key_type) + wire.string(key.sign(data))
        _, digest = _ECDSA[key.curve.name]
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest())))
        return wire.string(self.key_type) + wire.string(wire.mpint(r) + wire.mpint(s))


    def made(self, signature: bytes, data: bytes) -> bool:
        """Is *signature* (an SSH signature blob: string algorithm, string signature) this key's over *data*?

        The job's sshd signs each key exchange's hash with its host key, which is this same key pair
        (DESIGN §1.3): so a relay that saw the signature can show which connection a session id belongs to."""
        try:
            reader = wire.Reader(signature)
            algorithm, raw = reader.text(), reader.string()
            reader.end()
            public = self._public
            if isinstance(public, rsa.RSAPublicKey):
                if algorithm not in _RSA_VERIFY:
                    return False
                public.verify(raw, data, padding.PKCS1v15(), _RSA_VERIFY[algorithm]())
            elif algorithm != self.key_type:
                return False
            elif isinstance(public, ed25519.Ed25519PublicKey):
                public.verify(raw, data)
            else:
                numbers = wire.Reader(raw)
                r, s = int.from_bytes(numbers.string(), "big"), int.from_bytes(numbers.string(), "big")
                numbers.end()
                public.verify(encode_dss_signature(r, s), data, ec.ECDSA(_ECDSA[public.curve.name][1]()))
        except (InvalidSignature, ValueError):  # WireError is a ValueError
            return False
        return True


def _key_type(key) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "ssh-rsa"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ssh-ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in _ECDSA:
        return _ECDSA[key.curve.name][0]
    raise KeyFormatError("unsupported private key type (want RSA, Ed25519 or ECDSA nistp256/384/521)")


def load_private_key(data: Union[bytes, bytearray, memoryview]) -> SigningKey:
    """Load an unencrypted OpenSSH private key (or a PEM one, as ``ssh-keygen -m PEM`` writes).

    *data* may be any buffer; it is read in place, so the caller can zero a bytearray afterwards and no
    copy of the key text stays behind in Python's memory.
    """
    # RSA key validation costs 0.1-0.5 s for a 3072-bit key, on every connection.  It guards against
    # signing with a malformed key, which could reveal that key; a session key is made by the job's own
    # starter, which has it anyway, and authenticates only to that job's sshd, so there is nothing to guard.
    try:
        if _OPENSSH_PEM.search(data):
            key = serialization.load_ssh_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
        else:
            key = serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyFormatError("the private key does not load (not an unencrypted OpenSSH or PEM key)") from None
    return SigningKey(key, _key_type(key))


def parse_public_key(line: str) -> Tuple[str, bytes]:
    """Check a one-line public key ``<type> <base64>`` (no comment); return (type, blob).

    The blob must decode and start with the same type name, so the line is safe to write to known_hosts.
    """
    parts = line.split(" ")
    if len(parts) != 2 or not _KEY_TYPE.fullmatch(parts[0]):
        raise KeyFormatError("the host key is not one line of '<type> <base64>'")
    key_type, encoded = parts
    try:
        blob = base64.b64decode(encoded, validate=True)
        inner = wire.Reader(blob).text()
    except (binascii.Error, ValueError):
        raise KeyFormatError("the host key's base64 part does not decode to an SSH public key") from None
    if inner != key_type:
        raise KeyFormatError(f"the host key says {key_type} but holds a {inner[:64]!r} key")
    return key_type, blob
