"""msgpack packing with one reusable Packer per thread.

`msgpack.packb` builds a new Packer (and its buffer) on every call; the flow
runtime packs several small objects per step, so each thread keeps its own.
"""

import threading

import msgpack

_local = threading.local()


def packb(x):
    """msgpack bytes of x: bin type for bytes, lone surrogates in str kept."""
    p = getattr(_local, "packer", None)
    if p is None:
        p = _local.packer = msgpack.Packer(use_bin_type=True, unicode_errors="surrogatepass")
    return p.pack(x)  # resets its buffer, also when packing fails
