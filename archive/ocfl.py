"""The cleaned layer: OCFL 1.1 objects (one per cable) in a flat-direct storage root."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
from typing import Any

from archive.fsutil import (
    atomic_write,
    fsync_dir,
    remove_tmp_files,
    write_bytes,
)

OCFL_VERSION = "1.1"
ROOT_NAMASTE = "0=ocfl_1.1"
ROOT_NAMASTE_CONTENT = b"ocfl_1.1\n"
OBJECT_NAMASTE = "0=ocfl_object_1.1"
OBJECT_NAMASTE_CONTENT = b"ocfl_object_1.1\n"
INVENTORY = "inventory.json"
SIDECAR = "inventory.json.sha512"
DIGEST_ALGORITHM = "sha512"
INVENTORY_TYPE = "https://ocfl.io/1.1/spec/#inventory"
LAYOUT_FILE = "ocfl_layout.json"
LAYOUT_EXTENSION = "0002-flat-direct-storage-layout"
# What a storage root may hold besides its objects (the spec's declaration, layout, extensions, spec copy).
ROOT_ENTRIES = frozenset({ROOT_NAMASTE, LAYOUT_FILE, "extensions", "ocfl_1.1.txt"})


def digest(data: bytes) -> str:
    """The OCFL content digest (sha512, lower-case hex)."""
    return hashlib.sha512(data).hexdigest()


def init_root(path: str) -> None:
    """Create an empty OCFL 1.1 storage root using the flat-direct layout extension."""
    os.makedirs(path, exist_ok=True)
    atomic_write(os.path.join(path, ROOT_NAMASTE), ROOT_NAMASTE_CONTENT)
    layout = {
        "extension": LAYOUT_EXTENSION,
        "description": "Flat direct storage layout: the object id is the object's folder name.",
    }
    atomic_write(os.path.join(path, LAYOUT_FILE), (json.dumps(layout, indent=2) + "\n").encode())
    # No extensions/0002-flat-direct-storage-layout/config.json: the extension has no
    # parameters, and ocfl-py's validator fails on a config for it.


def vname(number: int) -> str:
    """The version directory name of a version number (v1, v2, ...; not zero-padded)."""
    return f"v{number}"


def vnum(name: str) -> int:
    """The number of a version directory name; ValueError if it is not one."""
    if not name.startswith("v") or not name[1:].isdigit() or name[1:].startswith("0"):
        raise ValueError(f"not a version directory name: {name!r}")
    return int(name[1:])


def inventory_bytes(inv: dict[str, Any]) -> bytes:
    """Serialise an inventory (compact JSON: inventories are read by programs)."""
    return (json.dumps(inv, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


def sidecar_bytes(inv_data: bytes) -> bytes:
    """The sidecar line of an inventory: its digest, two spaces, the file name."""
    return f"{digest(inv_data)}  {INVENTORY}\n".encode("ascii")


def load_inventory(obj_dir: str) -> dict[str, Any] | None:
    """The object's root inventory, or None when there is none (not yet or no longer an object)."""
    try:
        with open(os.path.join(obj_dir, INVENTORY), "rb") as fh:
            return json.loads(fh.read())
    except FileNotFoundError:
        return None


def load_inventory_quiet(obj_dir: str) -> dict[str, Any] | None:
    """The object's root inventory, or None when it is missing or cannot be read as JSON."""
    try:
        inv = load_inventory(obj_dir)
    except (OSError, ValueError):
        return None
    return inv if isinstance(inv, dict) and "head" in inv else None


def head_number(inv: dict[str, Any]) -> int:
    """The head version number of an inventory."""
    return vnum(inv["head"])


def version_state(inv: dict[str, Any], number: int | None = None) -> dict[str, str]:
    """The logical state of a version (default: head) as {logical path: digest}."""
    name = inv["head"] if number is None else vname(number)
    state = inv["versions"][name]["state"]
    return {path: d for d, paths in state.items() for path in paths}


def content_path(inv: dict[str, Any], d: str) -> str:
    """Where (relative to the object) the content with digest d is stored."""
    return inv["manifest"][d][0]


def read_logical(obj_dir: str, inv: dict[str, Any], path: str, number: int | None = None) -> bytes:
    """The bytes of one logical file at a version (default: head)."""
    d = version_state(inv, number)[path]
    with open(os.path.join(obj_dir, content_path(inv, d)), "rb") as fh:
        return fh.read()


def _mkdirs(path: str, made: set[str]) -> None:
    """mkdir a folder and its missing parents, remembering what exists."""
    parent = os.path.dirname(path)
    if parent not in made and not os.path.isdir(parent):
        _mkdirs(parent, made)
    os.mkdir(path)
    made.add(path)


def content_name(vdir: str, path: str, taken: set[str]) -> str:
    """Where a version stores new content of a logical path: `vN/content/<file name>`.

    Content is stored flat, under the last part of its logical path (sources/<key>.json
    becomes vN/content/<key>.json): every folder is one more file-system object to create
    and sync, and source keys never collide with cable.txt / cable.json. A name already
    taken in the version falls back to the whole logical path.
    """
    name = path.rsplit("/", 1)[-1]
    rel = f"{vdir}/content/{name}"
    if rel in taken:
        rel = f"{vdir}/content/{path}"
    taken.add(rel)
    return rel


def prepare_version(
    obj_dir: str,
    obj_id: str,
    inv: dict[str, Any] | None,
    files: dict[str, bytes | str],
    *,
    created: str,
    message: str,
    user: dict[str, str],
    digests: dict[str, str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Write a new version's folder (content and its inventory) without installing it.

    `files` is the whole logical state of the new version: bytes for content, or the
    digest (str) of content already in the manifest; `digests` may give the digests of
    the bytes already computed. Content already stored is not written again. Returns the
    new inventory and the paths written (files and new folders), for the caller to make
    durable before install_inventory() makes the version visible.
    """
    written: list[str] = []
    if inv is None:
        try:
            os.mkdir(obj_dir)
        except FileExistsError:
            pass  # an empty folder of that name (settle() removes any partial object first)
        written.append(os.path.dirname(obj_dir))
        namaste = os.path.join(obj_dir, OBJECT_NAMASTE)
        write_bytes(namaste, OBJECT_NAMASTE_CONTENT)
        written.append(namaste)
        inv = {
            "id": obj_id,
            "type": INVENTORY_TYPE,
            "digestAlgorithm": DIGEST_ALGORITHM,
            "head": vname(0),
            "manifest": {},
            "versions": {},
        }
        number = 1
    else:
        number = head_number(inv) + 1
    # Only the manifest and the version map gain entries: shallow copies keep the old
    # inventory intact without a JSON round trip of the whole history.
    new_inv = dict(inv)
    manifest = new_inv["manifest"] = dict(inv["manifest"])
    new_inv["versions"] = dict(inv["versions"])
    vdir = vname(number)
    state: dict[str, list[str]] = {}
    # A version folder left by an interrupted commit is settled before any new one is
    # prepared, so these folders are new: plain mkdir, no existence checks.
    vpath = os.path.join(obj_dir, vdir)
    os.mkdir(vpath)
    made_dirs: set[str] = {vpath}
    taken: set[str] = set()
    for path in sorted(files):
        data = files[path]
        if isinstance(data, str):
            if data not in manifest:
                raise ValueError(f"{obj_id}: {path} refers to content not in the manifest")
            state.setdefault(data, []).append(path)
            continue
        d = (digests or {}).get(path) or digest(data)
        state.setdefault(d, []).append(path)
        if d in manifest:
            continue
        rel = content_name(vdir, path, taken)
        full = os.path.join(obj_dir, rel)
        parent = os.path.dirname(full)
        if parent not in made_dirs:
            _mkdirs(parent, made_dirs)
        write_bytes(full, data)
        written.append(full)
        manifest[d] = [rel]
    new_inv["head"] = vdir
    new_inv["versions"][vdir] = {
        "created": created,
        "message": message,
        "user": user,
        "state": state,
    }
    data = inventory_bytes(new_inv)
    inv_path = os.path.join(obj_dir, vdir, INVENTORY)
    write_bytes(inv_path, data)
    write_bytes(os.path.join(obj_dir, vdir, SIDECAR), sidecar_bytes(data))
    written += [inv_path, os.path.join(obj_dir, vdir, SIDECAR), *sorted(made_dirs), obj_dir]
    return new_inv, written


def install_inventory(obj_dir: str, vdir: str, *, sync: bool) -> None:
    """Make a prepared version visible: the root inventory, then its sidecar, become copies of the version's.

    Each root file is written as a copy (temp file, rename), never a link: OCFL 1.1 forbids
    hard and symbolic links in a storage root (E090), and the head version's inventory must
    equal the root one. With sync=False the caller makes the copies durable (one os.sync()).
    """
    for name in (INVENTORY, SIDECAR):
        src = os.path.join(obj_dir, vdir, name)
        with open(src, "rb") as fh:
            data = fh.read()
        atomic_write(os.path.join(obj_dir, name), data, sync=sync)
    if sync:
        fsync_dir(obj_dir)


def is_link(path: str) -> str | None:
    """How a path is a link ("symbolic link", "hard link with N names"), or None when it is a plain file or folder."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return "symbolic link"
    if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
        return f"hard link with {st.st_nlink} names"
    return None


def head_version_inventory(obj_dir: str) -> tuple[str, bytes] | None:
    """(version name, inventory bytes) of the newest version folder whose inventory is whole, or None.

    Whole: its sidecar matches, it names itself as head and lists every version up to it.
    This is the redundant copy of an object's root inventory (they must be identical).
    """
    try:
        names = os.listdir(obj_dir)
    except OSError:
        return None
    numbers = sorted((vnum(n) for n in names if _is_vname(n)), reverse=True)
    for number in numbers:
        vdir = os.path.join(obj_dir, vname(number))
        try:
            with open(os.path.join(vdir, INVENTORY), "rb") as fh:
                data = fh.read()
            with open(os.path.join(vdir, SIDECAR), "rb") as fh:
                side = fh.read()
            inv = json.loads(data)
            whole = (
                side == sidecar_bytes(data)
                and inv.get("head") == vname(number)
                and set(inv.get("versions") or {}) == {vname(n) for n in range(1, number + 1)}
            )
        except (OSError, ValueError, AttributeError):
            continue
        if whole:
            return vname(number), data
    return None


def _is_vname(name: str) -> bool:
    try:
        vnum(name)
    except ValueError:
        return False
    return True


def roll_forward(obj_dir: str, old_head: int | None, new_head: int) -> str:
    """Install a prepared version a commit had decided on (its files are durable); "forward" when done.

    Used by recovery once the commit journal says the versions are complete: the root
    inventory is made the new version's. A version folder that turns out missing or
    damaged cannot be installed: the object is settled back ("back") instead.
    """
    remove_tmp_files(obj_dir)
    inv = None
    with contextlib.suppress(ValueError, OSError):
        inv = load_inventory(obj_dir)
    if inv is None or inv.get("head") != vname(new_head):
        vdir = os.path.join(obj_dir, vname(new_head))
        try:
            with open(os.path.join(vdir, INVENTORY), "rb") as fh:
                data = fh.read()
            with open(os.path.join(vdir, SIDECAR), "rb") as fh:
                side = fh.read()
            ok = side == sidecar_bytes(data) and json.loads(data).get("head") == vname(new_head)
        except (OSError, ValueError):
            ok = False
        if not ok:
            return settle(obj_dir, old_head, new_head)
        install_inventory(obj_dir, vname(new_head), sync=False)
    return settle(obj_dir, old_head, new_head)


def settle(obj_dir: str, old_head: int | None, new_head: int) -> str:
    """Bring an object an interrupted commit left behind to its old or its new version.

    Returns "forward" (the new inventory was installed: the sidecar is made to match),
    "back" (the new version folder is removed; a new object is removed whole) or "clean".
    """
    remove_tmp_files(obj_dir)
    inv = None
    with contextlib.suppress(ValueError, OSError):
        inv = load_inventory(obj_dir)
    if inv is not None and inv.get("head") == vname(new_head):
        data = open(os.path.join(obj_dir, INVENTORY), "rb").read()  # noqa: SIM115
        side = sidecar_bytes(data)
        side_path = os.path.join(obj_dir, SIDECAR)
        try:
            current = open(side_path, "rb").read()  # noqa: SIM115
        except FileNotFoundError:
            current = b""
        if current != side:
            atomic_write(side_path, side)
        return "forward"
    vdir = os.path.join(obj_dir, vname(new_head))
    if old_head is None and inv is None:
        if os.path.isdir(obj_dir):
            shutil.rmtree(obj_dir)
            with contextlib.suppress(OSError):
                fsync_dir(os.path.dirname(obj_dir))
            return "back"
        return "clean"
    if os.path.isdir(vdir):
        shutil.rmtree(vdir)
        with contextlib.suppress(OSError):
            fsync_dir(obj_dir)
        return "back"
    return "clean"
