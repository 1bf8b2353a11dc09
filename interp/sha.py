"""SHA-256 for interp's content hashes without loading hashlib's OpenSSL binding (about 2 ms of every start); the digests are the same."""

try:
    from _sha256 import sha256  # Python 3.11
except ImportError:
    try:
        from _sha2 import sha256  # Python 3.12+
    except ImportError:  # a Python without the builtin module
        from hashlib import sha256

__all__ = ["sha256"]
