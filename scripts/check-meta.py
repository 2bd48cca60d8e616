#!/usr/bin/python3
"""check-meta.py -- validate META.json against the PGXN Meta Spec 1.0.x
(https://pgxn.org/meta/spec.txt), and check that the versions agree.

    scripts/check-meta.py [META.json]

Spec rules checked: the required keys (name, version, abstract, maintainer,
license, provides, meta-spec) and their types; SemVer versions; Terms (no
slash, backslash, space or control character, at least two characters);
tags; license shortcuts, lists and name => URI objects; provides entries
(file and version required, known keys only); prereqs phases, relationships
and version ranges; resources, bugtracker and repository; no_index;
release_status; meta-spec version 1.0.x; custom keys only as x_/X_.

Project rules: the provided files exist; the distribution and the mtmcp
extension have the version of mtmcp.control's default_version (1.1 = 1.1.0)
and of debian/changelog's upstream version.  Exits 1 listing every problem.
"""
import json
import os
import re
import sys

SEMVER = (r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
          r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
          r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?")
SEMVER_RE = re.compile("^" + SEMVER + "$")
RANGE_ITEM_RE = re.compile(r"^(?:(?:[=!]=|[<>]=?)\s*)?(?:" + SEMVER + r"|0)$")
TERM_RE = re.compile(r"^[^/\\\s\x00-\x1f\x7f]{2,}$")
TAG_RE = re.compile(r"^[^/\\\x00-\x1f\x7f]{2,255}$")
CUSTOM_RE = re.compile(r"^[xX]_.")
URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
LICENSES = {
    "agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd",
    "freebsd", "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1",
    "lgpl_3_0", "mit", "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5",
    "postgresql", "qpl_1_0", "ssleay", "sun", "zlib", "open_source",
    "restricted", "unrestricted", "unknown",
}
PHASES = {"configure", "build", "test", "runtime", "develop"}
RELATIONS = {"requires", "recommends", "suggests", "conflicts"}

errors = []


def err(path, msg):
    errors.append(f"{path}: {msg}")


def is_str(v, path, min_len=1):
    if not isinstance(v, str) or len(v) < min_len:
        err(path, f"must be a string of at least {min_len} character(s)")
        return False
    return True


def known_keys(obj, path, allowed):
    for k in obj:
        if k not in allowed and not CUSTOM_RE.match(k):
            err(f"{path}.{k}", "unknown key (custom keys must start with x_ or X_)")


def check_obj(v, path):
    if not isinstance(v, dict):
        err(path, "must be an object")
        return False
    return True


def check_term(v, path):
    if is_str(v, path, 2) and not TERM_RE.match(v):
        err(path, f"{v!r} is not a Term (no slash, backslash, space or control character)")


def check_version(v, path):
    if is_str(v, path) and not SEMVER_RE.match(v):
        err(path, f"{v!r} is not a semantic version (X.Y.Z)")


def check_path(v, path):
    if is_str(v, path, 2) and (v.startswith("/") or "\\" in v or ".." in v.split("/")):
        err(path, f"{v!r} is not a relative path in unix convention")


def check_range(v, path):
    if v == 0 and not isinstance(v, bool):
        return
    if not isinstance(v, str):
        err(path, "a version range must be 0 or a string")
        return
    for item in v.split(","):
        if not RANGE_ITEM_RE.match(item.strip()):
            err(path, f"{v!r} is not a version range")
            return


def check_uri(v, path):
    if is_str(v, path) and not URI_RE.match(v):
        err(path, f"{v!r} is not a URI")


def validate(meta):
    if not check_obj(meta, "META"):
        return
    for k in ("name", "version", "abstract", "maintainer", "license", "provides", "meta-spec"):
        if k not in meta:
            err(k, "required key is missing")
    known_keys(meta, "META", {
        "name", "version", "abstract", "maintainer", "license", "provides",
        "meta-spec", "description", "generated_by", "tags", "no_index",
        "prereqs", "release_status", "resources"})

    if "name" in meta:
        check_term(meta["name"], "name")
    if "version" in meta:
        check_version(meta["version"], "version")
    for k in ("abstract", "description", "generated_by"):
        if k in meta:
            is_str(meta[k], k)

    m = meta.get("maintainer")
    if m is not None:
        if isinstance(m, list):
            if not m or len(set(map(str, m))) != len(m):
                err("maintainer", "must be a non-empty list of unique strings")
            for i, x in enumerate(m):
                is_str(x, f"maintainer[{i}]")
        else:
            is_str(m, "maintainer")

    lic = meta.get("license")
    if lic is not None:
        if isinstance(lic, str):
            if lic not in LICENSES:
                err("license", f"{lic!r} is not a known license shortcut")
        elif isinstance(lic, list):
            if not lic:
                err("license", "an empty list")
            for i, x in enumerate(lic):
                if x not in LICENSES:
                    err(f"license[{i}]", f"{x!r} is not a known license shortcut")
        elif isinstance(lic, dict):
            if not lic:
                err("license", "an empty object")
            for k, v in lic.items():
                check_uri(v, f"license.{k}")
        else:
            err("license", "must be a string, a list or an object")

    prov = meta.get("provides")
    if prov is not None and check_obj(prov, "provides"):
        if not prov:
            err("provides", "must name at least one extension")
        for name, ext in prov.items():
            p = f"provides.{name}"
            check_term(name, p + " (name)")
            if not check_obj(ext, p):
                continue
            for k in ("file", "version"):
                if k not in ext:
                    err(f"{p}.{k}", "required key is missing")
            known_keys(ext, p, {"file", "version", "abstract", "docfile"})
            if "file" in ext:
                check_path(ext["file"], f"{p}.file")
            if "docfile" in ext:
                check_path(ext["docfile"], f"{p}.docfile")
            if "version" in ext:
                check_version(ext["version"], f"{p}.version")
            if "abstract" in ext:
                is_str(ext["abstract"], f"{p}.abstract")

    ms = meta.get("meta-spec")
    if ms is not None and check_obj(ms, "meta-spec"):
        known_keys(ms, "meta-spec", {"version", "url"})
        v = ms.get("version")
        if not isinstance(v, str) or not re.match(r"^1\.0\.\d+$", v):
            err("meta-spec.version", "must be 1.0.x")
        if "url" in ms and ms["url"] not in ("https://pgxn.org/meta/spec.txt", "http://pgxn.org/meta/spec.txt"):
            err("meta-spec.url", "must be https://pgxn.org/meta/spec.txt")

    tags = meta.get("tags")
    if tags is not None:
        if not isinstance(tags, list) or not tags or len(set(map(str, tags))) != len(tags):
            err("tags", "must be a non-empty list of unique strings")
        else:
            for i, t in enumerate(tags):
                if not isinstance(t, str) or not TAG_RE.match(t):
                    err(f"tags[{i}]", f"{t!r}: 2 to 255 characters, no slash, backslash or control character")

    ni = meta.get("no_index")
    if ni is not None and check_obj(ni, "no_index"):
        known_keys(ni, "no_index", {"file", "directory"})
        if "file" not in ni and "directory" not in ni:
            err("no_index", "needs file or directory")
        for k in ("file", "directory"):
            if k in ni:
                v = ni[k]
                items = v if isinstance(v, list) else [v]
                if isinstance(v, list) and (not v or len(set(map(str, v))) != len(v)):
                    err(f"no_index.{k}", "must be a non-empty list of unique paths")
                for i, x in enumerate(items):
                    check_path(x, f"no_index.{k}[{i}]")

    pre = meta.get("prereqs")
    if pre is not None and check_obj(pre, "prereqs"):
        if not pre:
            err("prereqs", "an empty object")
        known_keys(pre, "prereqs", PHASES)
        for phase in PHASES & set(pre):
            pp = f"prereqs.{phase}"
            if not check_obj(pre[phase], pp):
                continue
            known_keys(pre[phase], pp, RELATIONS)
            if not RELATIONS & set(pre[phase]):
                err(pp, "needs requires, recommends, suggests or conflicts")
            for rel in RELATIONS & set(pre[phase]):
                rp = f"{pp}.{rel}"
                if not check_obj(pre[phase][rel], rp):
                    continue
                if not pre[phase][rel]:
                    err(rp, "an empty object")
                for name, rng in pre[phase][rel].items():
                    check_term(name, f"{rp}.{name} (name)")
                    check_range(rng, f"{rp}.{name}")

    rs = meta.get("release_status")
    if rs is not None and rs not in ("stable", "testing", "unstable"):
        err("release_status", "must be stable, testing or unstable")

    res = meta.get("resources")
    if res is not None and check_obj(res, "resources"):
        known_keys(res, "resources", {"homepage", "bugtracker", "repository"})
        if not {"homepage", "bugtracker", "repository"} & set(res):
            err("resources", "needs homepage, bugtracker or repository")
        if "homepage" in res:
            check_uri(res["homepage"], "resources.homepage")
        bt = res.get("bugtracker")
        if bt is not None and check_obj(bt, "resources.bugtracker"):
            known_keys(bt, "resources.bugtracker", {"web", "mailto"})
            if "web" not in bt and "mailto" not in bt:
                err("resources.bugtracker", "needs web or mailto")
            if "web" in bt:
                check_uri(bt["web"], "resources.bugtracker.web")
            if "mailto" in bt and not (isinstance(bt["mailto"], str) and EMAIL_RE.match(bt["mailto"])):
                err("resources.bugtracker.mailto", "not an email address")
        repo = res.get("repository")
        if repo is not None and check_obj(repo, "resources.repository"):
            known_keys(repo, "resources.repository", {"url", "web", "type"})
            if not ({"url", "type"} <= set(repo) or "web" in repo):
                err("resources.repository", "needs url and type, or web")
            for k in ("url", "web"):
                if k in repo:
                    check_uri(repo[k], f"resources.repository.{k}")
            if "type" in repo and not (isinstance(repo["type"], str) and re.match(r"^[a-z]+$", repo["type"])):
                err("resources.repository.type", "must be lower case letters")


def semver_of(v):
    """A control-file version (1.1, 1.1.0) as X.Y.Z."""
    parts = v.split(".")
    while len(parts) < 3:
        parts.append("0")
    return ".".join(parts)


def project_checks(meta, root):
    for name, ext in (meta.get("provides") or {}).items():
        for k in ("file", "docfile"):
            f = ext.get(k) if isinstance(ext, dict) else None
            if isinstance(f, str) and not os.path.isfile(os.path.join(root, f)):
                err(f"provides.{name}.{k}", f"{f} is not in the distribution")

    control = os.path.join(root, "mtmcp.control")
    try:
        with open(control) as f:
            m = re.search(r"^\s*default_version\s*=\s*'([^']+)'", f.read(), re.M)
    except OSError as e:
        err("mtmcp.control", str(e))
        return
    if not m:
        err("mtmcp.control", "no default_version")
        return
    want = semver_of(m.group(1))
    if meta.get("version") != want:
        err("version", f"{meta.get('version')} but mtmcp.control's default_version is {m.group(1)} ({want})")
    ext = (meta.get("provides") or {}).get("mtmcp")
    if not isinstance(ext, dict):
        err("provides.mtmcp", "the mtmcp extension is not provided")
    else:
        if ext.get("version") != want:
            err("provides.mtmcp.version", f"{ext.get('version')} but mtmcp.control says {m.group(1)} ({want})")
        if ext.get("file") != f"mtmcp--{m.group(1)}.sql":
            err("provides.mtmcp.file", f"{ext.get('file')}: expected the default version's install script mtmcp--{m.group(1)}.sql")

    changelog = os.path.join(root, "debian", "changelog")
    if os.path.isfile(changelog):
        with open(changelog) as f:
            first = f.readline()
        cm = re.match(r"^\S+ \(([^)]+)\)", first)
        upstream = cm.group(1).rsplit("-", 1)[0] if cm else None
        if upstream != want:
            err("debian/changelog", f"upstream version {upstream} but mtmcp.control says {m.group(1)} ({want})")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "META.json"
    root = os.path.dirname(os.path.abspath(path))
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        print(f"check-meta: {path}: {e}", file=sys.stderr)
        return 1
    validate(meta)
    project_checks(meta, root)
    if errors:
        for e in errors:
            print(f"check-meta: {path}: {e}", file=sys.stderr)
        return 1
    print(f"check-meta: {path} is valid PGXN Meta Spec {meta['meta-spec']['version']}; "
          f"version {meta['version']} agrees with mtmcp.control and debian/changelog")
    return 0


if __name__ == "__main__":
    sys.exit(main())
