"""lockpin: pin everything a container build depends on.

The public API. Names are imported lazily so that ``lockpin --version`` and
``import lockpin`` stay fast; ``from lockpin import compile`` works as usual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

__all__ = [
    "AptCompileResult",
    "AptLock",
    "AptVerifyResult",
    "BaseImage",
    "CheckAllResult",
    "CheckResult",
    "Event",
    "HashResult",
    "HttpConfig",
    "IndexConfig",
    "InputError",
    "Lock",
    "LockedPackage",
    "LockpinError",
    "NetworkError",
    "PinResult",
    "Record",
    "RecordDiff",
    "Reporter",
    "ResolutionError",
    "ResolvedImage",
    "Snippet",
    "Target",
    "VerifyResult",
    "__version__",
    "apt_compile",
    "apt_export",
    "apt_verify",
    "check_all",
    "check_dockerfile",
    "compile",
    "dockerfile_snippet",
    "hash_requirements",
    "parse_target",
    "pin_dockerfile",
    "read_base",
    "record_add",
    "record_diff",
    "record_show",
    "resolve_image",
    "verify",
]

_LAZY = {
    "apt_compile": ".apt.compile",
    "AptCompileResult": ".apt.compile",
    "apt_verify": ".apt.verify",
    "AptVerifyResult": ".apt.verify",
    "apt_export": ".apt.api",
    "AptLock": ".apt.lock",
    "compile": ".python.compile",
    "Lock": ".python.lock",
    "LockedPackage": ".python.lock",
    "hash_requirements": ".python.hashverify",
    "verify": ".python.hashverify",
    "HashResult": ".python.hashing",
    "VerifyResult": ".python.hashing",
    "HttpConfig": ".net.config",
    "IndexConfig": ".python.index",
    "Target": ".python.target",
    "parse_target": ".python.target",
    "LockpinError": ".errors",
    "InputError": ".errors",
    "NetworkError": ".errors",
    "ResolutionError": ".errors",
    "Event": ".progress",
    "Reporter": ".progress",
    "resolve_image": ".image.resolve",
    "ResolvedImage": ".image.resolve",
    "pin_dockerfile": ".image.pin",
    "check_dockerfile": ".image.check",
    "check_all": ".checkall",
    "CheckAllResult": ".checkall",
    "CheckResult": ".checkall",
    "PinResult": ".image.pin",
    "read_base": ".image.base",
    "BaseImage": ".image.base",
    "dockerfile_snippet": ".image.snippet",
    "Snippet": ".image.snippet",
    "record_add": ".image.record",
    "record_show": ".image.record",
    "record_diff": ".image.record",
    "Record": ".image.record",
    "RecordDiff": ".image.record",
}

if TYPE_CHECKING:
    from .apt.api import apt_export
    from .apt.compile import AptCompileResult, apt_compile
    from .apt.lock import AptLock
    from .apt.verify import AptVerifyResult, apt_verify
    from .checkall import CheckAllResult, CheckResult, check_all
    from .errors import InputError, LockpinError, NetworkError, ResolutionError
    from .image.base import BaseImage, read_base
    from .image.check import check_dockerfile
    from .image.pin import PinResult, pin_dockerfile
    from .image.record import Record, RecordDiff, record_add, record_diff, record_show
    from .image.resolve import ResolvedImage, resolve_image
    from .image.snippet import Snippet, dockerfile_snippet
    from .net.config import HttpConfig
    from .progress import Event, Reporter
    from .python.compile import compile_lock as compile
    from .python.hashing import HashResult, VerifyResult
    from .python.hashverify import hash_requirements, verify
    from .python.index import IndexConfig
    from .python.lock import Lock, LockedPackage
    from .python.target import Target, parse_target


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lockpin' has no attribute {name!r}")
    import importlib

    attr = "compile_lock" if name == "compile" else name
    value = getattr(importlib.import_module(module, __name__), attr)
    globals()[name] = value
    return value
