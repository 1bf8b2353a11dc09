"""Export and import of a whole flow store: the versioned, checksummed (and, with
a store key, authenticated) byte format that FlowRuntime.export_store writes and
FlowRuntime.import_store reads.

Format: STORE_MAGIC, the version (2 bytes, big-endian), the CRC-32 of the body
(4 bytes), then
  version 2: the msgpack body {"version": 2, "flows": [[id, snapshot, [journal entry, ...]], ...]};
  version 3: a 32-byte HMAC-SHA256, keyed by the store key, of the magic, the
             version and the body; then the body (its "version" is 3).
An export is version 3 when a store key is configured (export_store(key=...),
FlowRuntime(store_key=...) or the environment variable FLOWSCHEME_STORE_KEY),
else version 2. An import with a store key configured refuses a store without a
valid MAC (version 2, tampered with, or made with another key). Without a key
the MAC of a version 3 store cannot be checked: it is imported like version 2
(the checksum still catches corruption, not tampering).

An import trusts nothing: the body is bounded (max_bytes, and the memory the
decoded data takes, see flow.codec), every flow's data, journal and
continuation is decoded and validated against the loaded code (interp.frames)
before anything changes, nothing runs, and no symbol is interned; any problem
is a StoreFormatError (or CodeNotLoaded) and leaves the runtime as it was.
"""

import hashlib
import hmac
import os
import zlib

from . import codec
from .errors import CodeNotLoaded, FlowError, StoreAuthenticationError, StoreFormatError
from .model import DataNeedsCode, Flow, journal_entry_from_bytes, unpack_plain
from .packing import packb
from .store import StoredFlow

STORE_MAGIC = b"FLOWSCHEME-STORE"
STORE_VERSION = 2  # unauthenticated
STORE_VERSION_MAC = 3  # with an HMAC-SHA256 (a store key configured)
MAC_SIZE = 32
MAX_IMPORT_BYTES = 512 * 1024 * 1024
KEY_ENV = "FLOWSCHEME_STORE_KEY"
READ_CHUNK = 1 << 20


def store_key(rt=None, key=None):
    """The store key in force, as bytes, or None: `key` if given, else the
    runtime's (rt.store_key), else $FLOWSCHEME_STORE_KEY (unset or empty: none)."""
    if key is None and rt is not None:
        key = getattr(rt, "store_key", None)
    if key is None:
        key = os.environ.get(KEY_ENV) or None
    if key is None:
        return None
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray)):
        raise FlowError(f"a store key must be bytes or text, not {type(key).__name__}")
    if not key:
        raise FlowError("a store key must not be empty")
    return bytes(key)


def read_key_file(path):
    """A store key from a file: its bytes, surrounding whitespace removed."""
    with open(path, "rb") as f:
        key = f.read(1 << 16).strip()
    if not key:
        raise FlowError(f"the key file {path} is empty")
    return key


def _mac(key, version, body):
    h = hmac.new(key, digestmod=hashlib.sha256)
    h.update(STORE_MAGIC + version.to_bytes(2, "big"))
    h.update(body)
    return h.digest()


def export_store(rt, key=None):
    """Every flow (state and journal) as bytes: msgpack with a versioned header,
    authenticated with an HMAC when a store key is configured."""
    key = store_key(rt, key)
    version = STORE_VERSION if key is None else STORE_VERSION_MAC
    rt.store.refresh()
    flows = []
    for flow_id in rt.store.ids():
        s = rt.store.get(flow_id)
        flows.append([flow_id, s.snapshot, list(s.journal)])
    body = packb({"version": version, "flows": flows})
    head = STORE_MAGIC + version.to_bytes(2, "big") + zlib.crc32(body).to_bytes(4, "big")
    if key is not None:
        head += _mac(key, version, body)
    return head + body


def read_store(f, max_bytes=MAX_IMPORT_BYTES):
    """Read an exported store from the binary file object f, at most max_bytes
    (in chunks, so an endless or huge input is refused with bounded memory;
    input that does not start like a store is refused after its first bytes)."""
    m = len(STORE_MAGIC)
    data = bytearray()
    while len(data) < m + 2:
        chunk = f.read(m + 2 - len(data))
        if not chunk:
            return bytes(data)  # too short: parse_store says what is wrong
        data += chunk
        if not STORE_MAGIC.startswith(bytes(data[:m])):
            raise StoreFormatError("not a flowscheme flow store (bad magic)")
    while True:
        chunk = f.read(min(READ_CHUNK, max_bytes + 1 - len(data)))
        if not chunk:
            return bytes(data)
        data += chunk
        if len(data) > max_bytes:
            raise StoreFormatError(f"flow store too large (more than {max_bytes} bytes, the limit)")


def import_store(rt, data, max_bytes=None, key=None):
    """Replace rt's flows with those in `data` (bytes from export_store, or a
    binary file object to read them from).

    Nothing runs. Truncated, malformed, oversized, unauthenticated (when a store
    key is configured) or wrong-version data, a continuation the loaded code
    could not have made, or a flow whose defflow is not loaded, raise a
    FlowError and change nothing."""
    max_bytes = MAX_IMPORT_BYTES if max_bytes is None else max_bytes
    if hasattr(data, "read") and not isinstance(data, (bytes, bytearray, memoryview)):
        data = read_store(data, max_bytes)
    flows = parse_store(data, max_bytes, store_key(rt, key))
    trust = codec.Trust(granted=getattr(rt, "granted", frozenset()), foreign=True)
    for flow_id, stored in flows.items():
        check_flow(rt, flow_id, stored, trust)
    rt.store.replace_all(flows)
    return len(flows)


def check_flow(rt, flow_id, stored, trust):
    """Decode and validate one imported flow (nothing is kept or interned)."""
    f = Flow.from_snapshot(stored.snapshot, rt.cenv, trust=trust, journal=stored.journal)
    if f.id != flow_id:
        raise StoreFormatError(f"flow {flow_id!r}: snapshot names another flow ({f.id!r})")
    for blob in stored.journal:
        try:
            journal_entry_from_bytes(blob, rt.cenv, trust)
        except codec.MissingUnit as e:  # an answer or payload holding a procedure
            raise DataNeedsCode(f.id, f.name, e.unit_hash, e.filename) from None
    waiting = f.waiting if isinstance(getattr(type(f), "waiting", None), property) else f.status == "suspended"
    if waiting and f.name not in rt.defs:
        h, fn = f.def_unit or ("?", "?")
        raise CodeNotLoaded(f.id, f.name, h, fn)
    if f.k_blob is not None:  # check the continuation (nothing runs), whatever the status says
        try:
            f.decode_continuation(rt.cenv, trust)
        except codec.MissingUnit:
            pass  # its code changed: resume will replay the journal (its names were checked)
        except codec.CodecError as e:
            raise StoreFormatError(f"flow {f.id!r}: {e}") from None


def parse_store(data, max_bytes=MAX_IMPORT_BYTES, key=None):
    """{flow id: StoredFlow} of an exported store; key: the store key in force."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise StoreFormatError(f"a flow store must be bytes, not {type(data).__name__}")
    if len(data) > max_bytes:
        raise StoreFormatError(f"flow store too large ({len(data)} bytes; the limit is {max_bytes})")
    data = bytes(data)
    m = len(STORE_MAGIC)
    if not data.startswith(STORE_MAGIC):
        if data and STORE_MAGIC.startswith(data):
            raise StoreFormatError(f"flow store is truncated (only {len(data)} bytes)")
        raise StoreFormatError("not a flowscheme flow store (bad magic)")
    if len(data) < m + 2:
        raise StoreFormatError(f"flow store is truncated (a {len(data)}-byte header)")
    version = int.from_bytes(data[m : m + 2], "big")
    if version not in (STORE_VERSION, STORE_VERSION_MAC):
        raise StoreFormatError(
            f"flow store format version {version} is not supported "
            f"(this flowscheme reads versions {STORE_VERSION} and {STORE_VERSION_MAC})"
        )
    head = m + 6 + (MAC_SIZE if version == STORE_VERSION_MAC else 0)
    if len(data) < head:
        raise StoreFormatError(f"flow store is truncated (a {len(data)}-byte header)")
    body = memoryview(data)[head:]
    if key is not None:
        if version != STORE_VERSION_MAC:
            raise StoreAuthenticationError(
                f"flow store is not authenticated (format version {version} has no MAC) and a store key "
                "is configured: refused"
            )
        if not hmac.compare_digest(data[m + 6 : head], _mac(key, version, body)):
            raise StoreAuthenticationError(
                "flow store authentication failed (its MAC does not match: tampered with, or made with "
                "another store key): refused"
            )
    if zlib.crc32(body) != int.from_bytes(data[m + 2 : m + 6], "big"):
        raise StoreFormatError("flow store is truncated or corrupt (checksum mismatch)")
    body = unpack_plain(body, "flow store")
    try:
        if not isinstance(body, dict) or type(body.get("version")) is not int:
            raise ValueError("not a map with a version")
        if body["version"] != version:
            raise ValueError("version mismatch between header and body")
        entries = body["flows"]
        if type(entries) is not list:
            raise ValueError("flows is not a list")
        flows = {}
        for entry in entries:
            if type(entry) is not list or len(entry) != 3:
                raise ValueError("bad flow entry")
            flow_id, snapshot, journal = entry
            if not isinstance(flow_id, str) or not isinstance(snapshot, bytes):
                raise ValueError("bad flow entry")
            if type(journal) is not list or not all(isinstance(b, bytes) for b in journal):
                raise ValueError("bad journal")
            if flow_id in flows:
                raise ValueError(f"flow {flow_id!r} appears twice")
            flows[flow_id] = StoredFlow(snapshot, list(journal))
    except (KeyError, TypeError, ValueError) as e:
        raise StoreFormatError(f"flow store is malformed ({e})") from None
    return flows
