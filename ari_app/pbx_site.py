"""The site's dialplan numbers, rendered from the service's TOML config (issue 15).

Adding a queue number or a provider DID is one change to the service config and a restart of the
Asterisk container, never an image rebuild: at every start the container renders
``/etc/asterisk/extensions_site.conf`` from the same TOML file the service reads, and
``dialplan/extensions.conf`` includes it (``#include extensions_site.conf``).

The config keys (every other key of the file is the service's and ignored here):

* ``[ari] app`` (default ``callcenter``) → ``CC_APP``, the Stasis app of every ``Stasis()`` call;
* ``[trunk] caller_id`` (digits; absent = the trunk's own) → ``CC_OUTBOUND_CID``, the caller ID of
  agents' ``9<number>`` calls;
* ``[trunk] endpoint`` (a PJSIP endpoint name, default ``trunk``) → ``CC_TRUNK``, the provider trunk
  agents' outside calls go through (the service's ``[trunk] dial`` defaults to
  ``PJSIP/{number}@<endpoint>`` too);
* ``[queues.<name>] number`` (digits, e.g. ``"600"``) → ``[site-numbers]``: dialling it enters the
  queue; ``voicemail_number`` (e.g. ``"690"``) → leave a voicemail for the queue at once (R-VM).
  ``[from-callers]`` includes ``[site-numbers]``, and ``[from-agents]`` includes ``[from-callers]``;
* ``[dids]``: ``"<called number>" = "<queue>"`` → ``[site-dids]``, which ``[from-trunk]`` (the
  provider trunk's context) includes. Each DID is matched with and without a leading ``+``
  (``"+862155550100"`` and ``"862155550100"`` are the same DID) since providers differ. A trunk call
  to any other number hears the invalid-number prompt: a provider never reaches internal numbers.

Rules (``check``; ``ari-app check-config`` reports them too, ``config.parse`` calls ``check``): numbers
are 1-20 digits, a number is used once (queue numbers and voicemail numbers together), never starts
with 9 (agents dial ``9<number>`` for an outside line: ``_9XXX.`` in ``[from-agents]`` would shadow it)
and is not an agent ID; a DID is 1-20 digits with an optional leading ``+``, listed once (with or
without ``+``) and names an existing queue; the endpoint is 1-40 letters, digits, ``_ . -``. Every
value written into the dialplan passes one of these patterns, so nothing else (a newline, ``,``,
``&``, ``${``, ``;``) can reach the file.

Standard library only: this file is copied alone into the Asterisk image and run there::

    python3 /usr/local/lib/ari-app/pbx_site.py render --config /etc/ari-app/config.toml \\
        --out /etc/asterisk/extensions_site.conf

The same as ``python3 -m ari_app.pbx_site render …`` and ``ari-app pbx-render --config … --out …``.
``check --config FILE`` only validates. Exit status: 0 done, 2 invalid config (every problem listed,
one line each), 1 the output could not be written.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

__all__ = ["Site", "SiteError", "check", "main", "read_site", "render", "render_file", "toml_key",
           "write_atomic"]

# Every value that reaches the rendered file matches one of these (fullmatch).
NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")  # a queue or Stasis app name (config._NAME)
DIGITS = re.compile(r"[0-9]{1,20}")  # a number, a caller ID
DID = re.compile(r"\+?[0-9]{1,20}")  # a called number as a provider sends it
ENDPOINT = re.compile(r"[A-Za-z0-9_.-]{1,40}")  # a PJSIP endpoint name
_SAFE = re.compile(r"[A-Za-z0-9_.+/-]*")  # the last line of defence in render()

OUTBOUND_PREFIX = "9"  # [from-agents]: exten => _9XXX.,1,Goto(callcenter-outbound,${EXTEN:1},1)
VOICEMAIL_DIR = "/var/spool/asterisk/recording/callcenter-fallback"  # ari_app.flows.desk.FALLBACK_DIR
DEFAULT_APP = "callcenter"
DEFAULT_ENDPOINT = "trunk"
NUMBERS_CONTEXT = "site-numbers"
DIDS_CONTEXT = "site-dids"
SCRIPT = "pbx_site.py"

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


class SiteError(ValueError):
    """The config cannot be rendered; ``errors`` lists every problem, one line each (as ConfigError)."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors
        super().__init__(f"{source}: invalid configuration:\n" + "\n".join(f"  {e}" for e in errors))


@dataclass(frozen=True)
class Site:
    """What the dialplan needs from the config, validated."""
    app: str = DEFAULT_APP
    outbound_cid: str = ""  # "" = the trunk's own caller ID
    trunk_endpoint: str = DEFAULT_ENDPOINT
    numbers: Mapping[str, str] | None = None  # queue number → queue
    voicemail_numbers: Mapping[str, str] | None = None  # direct voicemail number → queue
    dids: Mapping[str, str] | None = None  # DID as written in [dids] → queue


def toml_key(key: str) -> str:
    """A key as it is written in a dotted path: bare (``support``) or quoted (``"a b"``, ``"a\\nb"``),
    so an error about an odd key name stays one line and names the key exactly (config.py uses it too)."""
    if _BARE_KEY.fullmatch(key):
        return key
    return '"' + "".join(_ESCAPES.get(c) or (c if c.isprintable() else f"\\u{ord(c):04x}" if ord(c) < 0x10000
                                           else f"\\U{ord(c):08x}") for c in key) + '"'


def _number_order(number: str) -> tuple[int, str]:
    """Digit strings in numeric order (600 before 1000), a leading + ignored."""
    digits = number.lstrip("+")
    return (len(digits), digits)


def read_site(data: Any, *, shared: bool = True) -> tuple[Site, list[str]]:
    """The site's values from a parsed config, and every problem found (empty: it can be rendered).

    ``shared=False`` (``config.parse``): leave out the checks ``config.parse`` makes itself (the shape
    of ``[ari]``, ``[trunk]``, ``[queues]`` and ``[agents]``, queue names, ``ari.app``,
    ``trunk.caller_id``), so no problem is reported twice. The values of those keys are then taken
    only when they are valid."""
    errors: list[str] = []
    if not isinstance(data, Mapping):
        return Site(), ["config: must be a table of sections"]

    def table(name: str) -> Mapping[str, Any]:
        value = data.get(name, {})
        if isinstance(value, Mapping):
            return value
        if shared:
            errors.append(f"{name}: must be a table, got {value!r}")
        return {}

    def no_env(section: str, tbl: Mapping[str, Any], key: str) -> None:
        if shared and f"{key}_env" in tbl:
            errors.append(f"{section}.{key}_env: the dialplan is rendered where the service's environment "
                          f"is not; set {section}.{key} itself")

    ari = table("ari")
    app = ari.get("app", DEFAULT_APP)
    no_env("ari", ari, "app")
    if not (isinstance(app, str) and NAME.fullmatch(app)):
        if shared:
            errors.append(f"ari.app: must be a lower-case name, got {app!r}")
        app = DEFAULT_APP

    trunk = table("trunk")
    cid = trunk.get("caller_id", "")
    no_env("trunk", trunk, "caller_id")
    if not (isinstance(cid, str) and (cid == "" and "caller_id" not in trunk or DIGITS.fullmatch(cid))):
        if shared:
            errors.append(f"trunk.caller_id: must be digits (1-20), got {cid!r}")
        cid = ""
    endpoint = trunk.get("endpoint", DEFAULT_ENDPOINT)
    if not (isinstance(endpoint, str) and ENDPOINT.fullmatch(endpoint)):
        errors.append("trunk.endpoint: must be a PJSIP endpoint name (1-40 letters, digits, _ . -), "
                      f"got {endpoint!r}")
        endpoint = DEFAULT_ENDPOINT

    queue_tables = table("queues")
    if shared and not queue_tables and isinstance(data.get("queues", {}), Mapping):
        errors.append("queues: at least one queue is required, e.g. [queues.support]")
    queues: dict[str, Mapping[str, Any]] = {}
    for qname, qdata in queue_tables.items():
        path = f"queues.{toml_key(str(qname))}"
        if not (isinstance(qname, str) and NAME.fullmatch(qname)):
            if shared:
                errors.append(f"{path}: queue names are lower-case letters, digits, - and _, got {qname!r}")
        elif not isinstance(qdata, Mapping):
            if shared:
                errors.append(f"{path}: must be a table, got {qdata!r}")
        else:
            queues[qname] = qdata

    agent_ids = {a for a in table("agents") if isinstance(a, str) and DIGITS.fullmatch(a)}

    def routable(qname: str, where: str) -> bool:
        """[callcenter-queue] matches _[a-z]. : a queue reached by a number needs a 2-character name."""
        if len(qname) < 2:
            errors.append(f"{where}: queue {qname!r} is reached through [callcenter-queue] (_[a-z].), "
                          "which needs a name of 2 characters or more; rename the queue")
            return False
        return True

    taken: dict[str, str] = {}  # number → the key that has it
    numbers: dict[str, str] = {}
    voicemail_numbers: dict[str, str] = {}
    for qname in sorted(queues):
        for key, into in (("number", numbers), ("voicemail_number", voicemail_numbers)):
            if key not in queues[qname]:
                continue
            value, path = queues[qname][key], f"queues.{toml_key(qname)}.{key}"
            if not (isinstance(value, str) and DIGITS.fullmatch(value)):
                errors.append(f'{path}: must be a string of 1-20 digits, e.g. "600", got {value!r}')
            elif value.startswith(OUTBOUND_PREFIX):
                errors.append(f"{path}: must not start with {OUTBOUND_PREFIX} (agents dial "
                              f"{OUTBOUND_PREFIX}<number> for an outside line), got {value!r}")
            elif value in taken:
                errors.append(f"{path}: {value!r} is already {taken[value]}")
            elif value in agent_ids:
                errors.append(f"{path}: {value!r} is also agent {value}'s ID (transfers to {value} reach the "
                              "agent): pick another number")
            elif routable(qname, path):
                taken[value] = path
                into[value] = qname

    dids: dict[str, str] = {}
    raw_dids = data.get("dids", {})
    if not isinstance(raw_dids, Mapping):
        errors.append(f'dids: must be a table of "<called number>" = "<queue>", got {raw_dids!r}')
        raw_dids = {}
    seen_dids: dict[str, str] = {}  # the digits without + → the key that has them
    for did in sorted(raw_dids, key=lambda d: (_number_order(str(d)), str(d))):
        qname, path = raw_dids[did], f"dids.{toml_key(str(did))}"
        if not (isinstance(did, str) and DID.fullmatch(did)):
            errors.append(f"{path}: a DID is 1-20 digits with an optional leading +, got {did!r}")
        elif not isinstance(qname, str):
            errors.append(f"{path}: must be a queue name, got {qname!r}")
        elif qname not in queues:
            known = ", ".join(sorted(queues)) or "none"
            errors.append(f"{path}: unknown queue {qname!r} (queues: {known})")
        elif did.lstrip("+") in seen_dids:
            errors.append(f"{path}: the same DID as {seen_dids[did.lstrip('+')]} "
                          "(each DID is matched with and without +)")
        elif routable(qname, path):
            seen_dids[did.lstrip("+")] = path
            dids[did] = qname

    site = Site(app=app, outbound_cid=cid, trunk_endpoint=endpoint, numbers=numbers,
                voicemail_numbers=voicemail_numbers, dids=dids)
    return site, errors


def check(data: Any, *, shared: bool = True) -> list[str]:
    """Every problem that stops ``data`` (a parsed config) being rendered; ``shared``: see ``read_site``."""
    return read_site(data, shared=shared)[1]


def _safe(value: str) -> str:
    if not _SAFE.fullmatch(value):  # unreachable after read_site; kept so nothing else ever slips through
        raise ValueError(f"refusing to write {value!r} into the dialplan")
    return value


def _shown(text: str) -> str:
    return text if text.isprintable() else repr(text)


def render(data: Any, source: str) -> str:
    """``extensions_site.conf`` for the parsed config ``data`` read from ``source`` (named in the header).
    The same config gives the same text, byte for byte. Raises ``SiteError`` listing every problem."""
    site, errors = read_site(data)
    if errors:
        raise SiteError(source, errors)
    numbers, voicemail, dids = site.numbers or {}, site.voicemail_numbers or {}, site.dids or {}
    out = [
        f"; generated from {_shown(source)} by {SCRIPT}; do not edit",
        "; (ari-app pbx-render, or pbx_site.py render in the Asterisk container at every start). The values",
        "; come from the service config: [ari] app, [trunk] caller_id and endpoint, [queues.<name>] number",
        "; and voicemail_number, [dids]. extensions.conf includes this file; see ari_app/pbx_site.py.",
        "",
        "[globals]",
        f"CC_APP = {_safe(site.app)}",
        f"CC_VOICEMAIL_DIR = {_safe(VOICEMAIL_DIR)}",
        "; agents' outside calls (9<number>): the caller ID customers see (empty: the trunk's own) and",
        "; the PJSIP endpoint of the provider trunk",
        f"CC_OUTBOUND_CID = {_safe(site.outbound_cid)}".rstrip(),
        f"CC_TRUNK = {_safe(site.trunk_endpoint)}",
        "",
        "; Queue numbers and direct voicemail numbers: [from-callers] includes this context, and",
        "; [from-agents] includes [from-callers].",
        f"[{NUMBERS_CONTEXT}]",
    ]
    if not numbers and not voicemail:
        out.append("; (no queue has a number)")
    for number in sorted(numbers, key=_number_order):
        out.append(f"exten => {_safe(number)},1,Goto(callcenter-queue,{_safe(numbers[number])},1)")
    for number in sorted(voicemail, key=_number_order):
        out.append(f"exten => {_safe(number)},1,Set(CC_QUEUE={_safe(voicemail[number])})")
        out.append(" same => n,Goto(callcenter-voicemail,s,1)")
    out += [
        "",
        "; Provider DIDs, each with and without a leading +: [from-trunk] includes this context; any other",
        "; number called through a trunk hears the invalid-number prompt.",
        f"[{DIDS_CONTEXT}]",
    ]
    if not dids:
        out.append("; (no [dids])")
    for did in sorted(dids, key=_number_order):
        digits = did.lstrip("+")
        for form in (f"+{digits}", digits):
            out.append(f"exten => {_safe(form)},1,Goto(callcenter-queue,{_safe(dids[did])},1)")
    return "\n".join(out) + "\n"


def write_atomic(path: str, text: str) -> None:
    """``text`` into ``path`` by a rename: Asterisk never reads half a file."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".extensions_site.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_toml(path: str) -> dict[str, Any]:
    """The TOML file as a dict; a missing, unreadable, non-UTF-8 or invalid file is a ``SiteError``."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise SiteError(path, ["file not found"]) from None
    except UnicodeDecodeError as e:
        raise SiteError(path, [f"not UTF-8 text: {e}"]) from None
    except (OSError, ValueError) as e:
        raise SiteError(path, [f"cannot read it: {e.strerror if isinstance(e, OSError) else e}"]) from None
    try:
        return tomllib.loads(text)
    except (ValueError, RecursionError) as e:
        reason = "nested too deeply" if isinstance(e, RecursionError) else str(e)
        raise SiteError(path, [f"not valid TOML: {reason}"]) from None


def render_file(config_path: str) -> str:
    """The rendered text for the config file at ``config_path``."""
    return render(read_toml(config_path), config_path)


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """``render --config FILE --out FILE`` (``--out -``: standard output) or ``check --config FILE``."""
    parser = argparse.ArgumentParser(prog=prog or SCRIPT, description="The dialplan's site numbers "
                                     "(extensions_site.conf) from the service's TOML config.")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="write extensions_site.conf")
    r.add_argument("--config", "-c", required=True, help="the service's TOML config")
    r.add_argument("--out", "-o", required=True, help="the file to write (atomically); - for standard output")
    c = sub.add_parser("check", help="validate the config's dialplan keys and exit")
    c.add_argument("--config", "-c", required=True, help="the service's TOML config")
    args = parser.parse_args(argv)
    try:
        text = render_file(args.config)
    except SiteError as e:
        print(e, file=sys.stderr)
        return 2
    if args.command == "check":
        print(f"{args.config}: ok (dialplan numbers)")
        return 0
    if args.out == "-":
        sys.stdout.write(text)
        return 0
    try:
        write_atomic(args.out, text)
    except OSError as e:
        print(f"{parser.prog}: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(f"{parser.prog}: wrote {args.out} from {args.config}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
