"""Session keys: load an OpenSSH private key, give its public blob, and make SSH signatures with it.

The only module that imports ``cryptography``.  Supports RSA (ssh-rsa, rsa-sha2-256, rsa-sha2-512),
Ed25519 and ECDSA on nistp256/384/521 -- what ``ssh-keygen -t rsa|ed25519|ecdsa`` makes.  Also checks the
one-line public host keys that go into known_hosts.

The key text arrives in a request buffer that the agent zeroes.  This module decodes it into bytearrays
that it zeroes too, and gives cryptography only DER made in such a bytearray (or, for Ed25519, a view of
the seed).  cryptography's own loaders are not given the text: they copy it, or what it decodes to, into
``bytes`` objects, and a freed object's memory keeps its contents until something reuses it
(load_ssh_private_key makes ``bytes(data)`` of a memoryview in cryptography 51, and every version keeps the
decoded key in a ``bytes`` from binascii.a2b_base64).  So nothing secret goes through bytes(),
int.from_bytes() (which makes a bytes of any other buffer first) or a bytearray slice assignment (which
copies anything but a bytearray first): copies are memoryview assignments, and the decoding arithmetic
stays within the small ints Python makes once for all.  One exception: an RSA key's CRT exponents
(d mod (p - 1), d mod (q - 1)) need int arithmetic, so d, p and q pass through ints and the exponents
through bytes, neither of which can be wiped.
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
# Searched in place (re reads the buffer; only start() and end() are asked, never the text).
_BEGIN = re.compile(rb"-----BEGIN (OPENSSH |RSA |EC |)PRIVATE KEY-----\r?\n")
_END = re.compile(rb"-----END (OPENSSH |RSA |EC |)PRIVATE KEY-----")
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_PAD, _BAD = 64, 255
_SEXTETS = bytes(_BASE64.find(byte) if byte in _BASE64 else _PAD if byte == ord("=") else _BAD for byte in range(256))
# Four sextets a b c d make the bytes a << 2 | b >> 4, (b & 15) << 4 | c >> 2 and (c & 3) << 6 | d: each
# shifted part is made for all groups at once by bytearray.translate with one of these tables.
_A_HIGH = bytes(value << 2 & 255 for value in range(256))
_B_LOW = bytes(value >> 4 for value in range(256))
_B_HIGH = bytes(value << 4 & 255 for value in range(256))
_C_LOW = bytes(value >> 2 for value in range(256))
_C_HIGH = bytes(value << 6 & 255 for value in range(256))
_OPENSSH_MAGIC = b"openssh-key-v1\0"
_SEC1 = {  # SSH key type -> (its curve's SSH name, private key length, DER of the curve's OID)
    "ecdsa-sha2-nistp256": ("nistp256", 32, bytes.fromhex("06082a8648ce3d030107")),
    "ecdsa-sha2-nistp384": ("nistp384", 48, bytes.fromhex("06052b81040022")),
    "ecdsa-sha2-nistp521": ("nistp521", 66, bytes.fromhex("06052b81040023")),
}
_DOES_NOT_LOAD = "the private key does not load (not an unencrypted OpenSSH or PEM key)"


class KeyFormatError(ValueError):
    """A key that cannot be used; the message never contains key material."""


class SigningKey:
    """A loaded private key: ``key_type`` ("ssh-ed25519", ...), ``blob`` (public key blob) and sign()."""

    __slots__ = ("_key", "_public", "key_type", "blob")

    def __init__(self, key, key_type: str) -> None:
        self._key = key
        self._public = key.public_key()
        self.key_type = key_type
        self.blob = _public_blob(self._public, key_type)

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


def _public_blob(public, key_type: str) -> bytes:
    """The SSH public key blob (what ``ssh-keygen`` base64-encodes in a .pub file)."""
    if isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        return wire.string(key_type) + wire.mpint(numbers.e) + wire.mpint(numbers.n)
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return wire.string(key_type) + wire.string(raw)
    point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return wire.string(key_type) + wire.string(_SEC1[key_type][0]) + wire.string(point)


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

    *data* may be any buffer; it is read in place, so the caller can zero a bytearray afterwards, and what
    it decodes to is zeroed here: no copy of the key text or of the key stays behind in Python's memory
    (but see the module's doc for RSA).
    """
    begin = _BEGIN.search(data)
    end = _END.search(data, begin.end()) if begin else None
    if end is None or end.group(1) != begin.group(1):
        raise KeyFormatError(_DOES_NOT_LOAD)
    decoded = bytearray()
    try:
        decoded = _base64(memoryview(data)[begin.end():end.start()])
        if begin.group(1) == b"OPENSSH ":
            key, public = _openssh_key(memoryview(decoded))
        else:  # PKCS#1, SEC1 or PKCS#8 DER
            key, public = _from_der(memoryview(decoded)), None
        loaded = SigningKey(key, _key_type(key))
    except KeyFormatError:
        raise
    except (ValueError, TypeError, UnsupportedAlgorithm):  # wire.WireError is a ValueError
        raise KeyFormatError(_DOES_NOT_LOAD) from None
    finally:
        wipe(decoded)
    if public is not None and loaded.blob != public:
        raise KeyFormatError("the private key does not match the public key stored with it")
    return loaded


def wipe(buffer: bytearray) -> None:
    """Zero a bytearray in place (also while memoryviews of it exist)."""
    buffer[:] = bytearray(len(buffer))  # a bytearray: any other value would be copied into one first


def _base64(text: memoryview) -> bytearray:
    """Decode *text* (base64 in lines) into a new bytearray, which the caller zeroes; what is made on the way
    is zeroed here."""
    chars = bytearray(text)
    sextets = bytearray()
    streams: list = []
    try:
        # translate() makes its result as long as its input and shortens it in place by what it deletes,
        # unless that is more than half (then it moves it, leaving the old buffer unwiped)
        if 2 * (chars.count(b"\n") + chars.count(b"\r")) >= len(chars):
            raise ValueError("no base64")
        sextets = chars.translate(_SEXTETS, b"\r\n")
        pad = 2 if sextets.endswith(b"\x40\x40") else 1 if sextets.endswith(b"\x40") else 0  # _PAD: "=" or "=="
        if len(sextets) % 4 or _BAD in sextets or sextets.find(_PAD, 0, len(sextets) - pad) >= 0:
            raise ValueError("not base64")
        for index in range(len(sextets) - pad, len(sextets)):
            sextets[index] = 0
        a, b, c, d = streams = [sextets[first::4] for first in range(4)]
        streams += [a.translate(_A_HIGH), b.translate(_B_LOW), b.translate(_B_HIGH), c.translate(_C_LOW),
                    c.translate(_C_HIGH)]
        decoded = bytearray(3 * len(a))
        for at, a_high, b_low, b_high, c_low, c_high, d_low in zip(range(0, len(decoded), 3), *streams[4:], d):
            decoded[at] = a_high | b_low  # every value here is below 256: no int is made
            decoded[at + 1] = b_high | c_low
            decoded[at + 2] = c_high | d_low
        if pad:  # the bytes the padding stands for: zeroed, then dropped (less than half: the buffer stays)
            for index in range(len(decoded) - pad, len(decoded)):
                decoded[index] = 0
            del decoded[len(decoded) - pad:]
        return decoded
    finally:
        for buffer in (chars, sextets, *streams):
            wipe(buffer)


def _openssh_key(container: memoryview):
    """(the private key, the public key blob stored with it) from an unencrypted openssh-key-v1 container
    (OpenSSH's PROTOCOL.key); the secrets are read as views of *container*."""
    if container[:len(_OPENSSH_MAGIC)] != _OPENSSH_MAGIC:
        raise ValueError("not an openssh-key-v1 container")
    outer = wire.Reader(container[len(_OPENSSH_MAGIC):])
    if outer.string() != b"none" or outer.string() != b"none" or outer.string() != b"":
        raise KeyFormatError("the private key is encrypted (a session key never is)")
    if outer.u32() != 1:
        raise ValueError("not one key")
    public = outer.string()
    inner = wire.Reader(outer.view())
    outer.end()
    if inner.u32() != inner.u32():
        raise ValueError("the check numbers differ")
    key_type = inner.text()
    if key_type == "ssh-ed25519":
        point, pair = inner.view(), inner.view()
        if len(pair) != 64 or pair[32:] != point:
            raise ValueError("not an Ed25519 key pair")
        key = ed25519.Ed25519PrivateKey.from_private_bytes(pair[:32])
    elif key_type in _SEC1:
        curve, size, oid = _SEC1[key_type]
        if inner.text() != curve:
            raise ValueError("the curve is not the key type's")
        point = inner.view()
        key = _ecdsa_key(inner.view(), point, size, oid)
    elif key_type == "ssh-rsa":
        n, e, d, iqmp, p, q = (inner.view() for _ in range(6))
        key = _rsa_key(n, e, d, iqmp, p, q)
    else:
        raise KeyFormatError("unsupported private key type (want RSA, Ed25519 or ECDSA nistp256/384/521)")
    inner.string()  # the comment
    tail = inner.rest()
    if len(tail) > 255 or tail != bytes(range(1, len(tail) + 1)):
        raise ValueError("the padding is not 1, 2, 3, ...")
    return key, public


def _ecdsa_key(scalar: memoryview, point: memoryview, size: int, oid: bytes):
    """The ECDSA key with the private value *scalar* (an SSH mpint's bytes) and the public *point*, as SEC1
    DER (ec.derive_private_key would want an int).  OpenSSL checks that the point is the scalar's."""
    while len(scalar) and scalar[0] == 0:
        scalar = scalar[1:]
    if not 0 < len(scalar) <= size:
        raise ValueError("the private value does not fit the curve")
    head = b"\x02\x01\x01" + _der_head(0x04, size)  # version 1, then the private value, zeros before it
    tail = _der(0xA0, oid) + _der(0xA1, _der(0x03, b"\x00" + bytes(point)))  # the curve, the public key
    return _from_der(_der_sequence([head, memoryview(bytes(size - len(scalar))), scalar, tail]))


def _rsa_key(n: memoryview, e: memoryview, d: memoryview, iqmp: memoryview, p: memoryview, q: memoryview):
    """The RSA key from OpenSSH's numbers (SSH mpints, which are DER INTEGER contents too), as PKCS#1 DER.
    The CRT exponents are computed with ints: the one place a secret passes through an int."""
    secret, first, second = (int.from_bytes(value, "big") for value in (d, p, q))
    exponents = [value.to_bytes(value.bit_length() // 8 + 1, "big")
                 for value in (secret % (first - 1), secret % (second - 1))]
    fields = [b"\x00", n, e, d, p, q, *exponents, iqmp]  # version 0 first
    return _from_der(_der_sequence([part for field in fields for part in (_der_head(0x02, len(field)), field)]))


def _der_sequence(parts: list) -> bytearray:
    """A DER SEQUENCE of *parts* (already encoded) copied into a new bytearray, which _from_der zeroes."""
    head = _der_head(0x30, sum(map(len, parts)))
    sequence = bytearray(len(head) + sum(map(len, parts)))
    into, at = memoryview(sequence), 0
    for part in [head, *parts]:
        into[at:at + len(part)] = part
        at += len(part)
    return sequence


def _from_der(der: "bytearray | memoryview"):
    # RSA key validation costs 0.1-0.5 s for a 3072-bit key, on every connection.  It guards against signing
    # with a malformed key, which could reveal that key; a session key is made by the job's own starter,
    # which has it anyway, and authenticates only to that job's sshd, so there is nothing to guard.
    try:
        return serialization.load_der_private_key(der, None, unsafe_skip_rsa_key_validation=True)
    finally:
        if isinstance(der, bytearray):
            wipe(der)


def _der_head(tag: int, length: int) -> bytes:
    if length < 0x80:
        return bytes([tag, length])
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big")


def _der(tag: int, content: bytes) -> bytes:
    return _der_head(tag, len(content)) + content


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
