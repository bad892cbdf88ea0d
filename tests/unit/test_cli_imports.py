"""``autopilot run`` imports what the controller runs, not the other commands' machinery.

Every module imported at start costs the controller time before its first apply
and resident memory for its whole life. The check runs the real entry point in a
fresh interpreter (``autopilot run --help``, which imports the command and
everything it imports at module level) and lists ``sys.modules`` when it ends, so a
new eager import anywhere on the way (the dispatcher, a command module, the
controller) fails it.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from autopilot import cli

PROJECT = Path(__file__).resolve().parents[2]

# What the other commands need and the controller never does.
NOT_FOR_RUN = (
    "autopilot.olm",  # `autopilot csv`: the OLM bundle generator
    "autopilot.plan",  # `autopilot plan`
    "autopilot.explain",
    "autopilot.demo",
    "autopilot.golden.rbacgen",  # `autopilot rbac`
    "autopilot.golden.rbacdocs",
    "autopilot.golden.rbaccheck",
    "kubesim",  # the demo's API server
    "kubernetes_asyncio",  # its generated models alone are tens of MB
    # About 1.5-2 MB resident: libyaml reads what the controller reads (autopilot.yamlload)
    # and writes what templates write (autopilot.golden.yamlwrite); ruamel reads only
    # the rare text the fast path leaves, or serves a debug page.
    "ruamel",
    # About 0.3 MB: needed only by a patch annotation (autopilot.engine.patch imports
    # them when it applies one), which most clusters never carry.
    "jsonpatch",
    "jsonpointer",
)


# The real dispatcher in a fresh interpreter; the module names on stdout when it ends.
MARK = "-- modules --"
PROBE = f"""
import sys
MARK = {MARK!r}
from autopilot import cli
try:
    cli.main(sys.argv[1:])
except SystemExit:
    pass
sys.stdout.write("\\n" + MARK + "\\n" + "\\n".join(sorted(sys.modules)))
"""


def imported_by(*argv: str) -> set[str]:
    """Modules a fresh ``autopilot ARGV`` has imported when it ends."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(done.stdout.rpartition(MARK)[2].split())


def test_run_imports_only_the_run_path() -> None:
    names = imported_by("run", "--help")
    assert "autopilot.commands.run" in names
    assert "autopilot.controller.wiring" in names  # the check reads a real import set
    other_commands = {f"autopilot.commands.{c}" for c in cli.COMMANDS if c != "run"}
    unwanted = sorted(
        name for name in names
        if name in other_commands or name.split(".")[0] in NOT_FOR_RUN
        or any(name == p or name.startswith(p + ".") for p in NOT_FOR_RUN)
    )
    assert unwanted == [], f"`autopilot run` imports {unwanted}"


def test_run_maps_no_cplusplus_runtime() -> None:
    # libstdc++ is about 0.9 MB resident, loaded for a C++ extension (frozenlist's,
    # under aiohttp) the controller does not need: its pure-Python twin is used.
    probe = PROBE + "\nsys.stdout.write('\\n' + open('/proc/self/maps').read())"
    done = subprocess.run([sys.executable, "-c", probe, "run", "--help"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "frozenlist" in done.stdout  # aiohttp's dependency was imported
    assert "libstdc++" not in done.stdout


# What the controller reads at start, in a fresh interpreter: its golden state, a
# kubeconfig, the exclusions annotation, then every asset rendered.
READS = r"""
import sys
from pathlib import Path
from autopilot.engine.exclusions import parse_disabled_resources
from autopilot.golden.catalog import load_golden_state
from autopilot.golden.render import RenderError, render_asset
from autopilot.golden.kinds import all_on_contexts
from autopilot.golden.lookups import OfflineLookups
from autopilot.kube.kubeconfig import load_kubeconfig
golden = load_golden_state(Path("golden_state"))
path = Path(sys.argv[1])
path.write_text(
    "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
    "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:6443'}}]\n"
    "users: [{name: u, user: {token: abc}}]\n"
    "contexts: [{name: c, context: {cluster: k, user: u}}]\n")
assert load_kubeconfig([path]).host == "https://127.0.0.1:6443"
assert len(parse_disabled_resources("- {kind: ConfigMap, name: x}")) == 1
print("before rendering:", sorted(m for m in sys.modules if m.split(".")[0] == "ruamel"))
ctx = all_on_contexts(golden)[0]
for asset in golden.assets:
    try:
        render_asset(golden, asset, ctx, lookups=OfflineLookups())
    except RenderError:  # the LokiStack refuses a cluster without a default StorageClass
        pass
    if "ruamel" in sys.modules:
        print("loaded by:", asset.path)
        break
"""


def test_the_controllers_reads_leave_ruamel_unloaded(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", READS, str(tmp_path / "kubeconfig")], cwd=PROJECT,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert "before rendering: []" in lines, done.stdout[-2000:]
    # Nor does rendering: a template writing YAML (``to_yaml``) writes it with libyaml.
    writers = {str(p.relative_to(PROJECT / "golden_state"))
               for p in (PROJECT / "golden_state").rglob("*.j2") if "to_yaml(" in p.read_text()}
    assert writers, "no template writes YAML any more: this check reads nothing"
    loaded_by = [line.split(": ", 1)[1] for line in lines if line.startswith("loaded by: ")]
    assert loaded_by == [], loaded_by


def test_help_without_a_command_still_lists_every_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in cli.COMMANDS:
        assert f"    {command} " in out, out


def test_a_mistyped_command_is_told_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["rnu"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'rnu'" in err and all(f"'{c}'" in err for c in cli.COMMANDS)


# After `run`'s dispatch: SSL_CERT_FILE as it was, and aiohttp's default verified
# context (built when it was imported) with no CA loaded from the bundle.
TLS_PROBE = """
import os, ssl, sys
from autopilot import cli
try:
    cli.main(sys.argv[1:])
except SystemExit:
    pass
import aiohttp.connector as connector
default = getattr(connector, "_SSL_CONTEXT_VERIFIED", None)
print("env:", os.environ.get("SSL_CERT_FILE", "(unset)"))
print("aiohttp default CAs:", default.cert_store_stats()["x509_ca"] if default else "n/a")
print("a context built after:", ssl.create_default_context().cert_store_stats()["x509_ca"])
"""


def a_ca_bundle() -> str | None:
    """A CA bundle file of this machine, or None."""
    paths = ssl.get_default_verify_paths()
    for candidate in (os.environ.get("SSL_CERT_FILE"), paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.mark.parametrize("set_before", [False, True])
def test_run_imports_aiohttp_without_the_ca_bundle_and_restores_the_environment(
    set_before: bool,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SSL_CERT_FILE"}
    bundle = a_ca_bundle()
    if set_before:
        if bundle is None:
            pytest.skip("no CA bundle file on this machine")
        env["SSL_CERT_FILE"] = bundle
    done = subprocess.run([sys.executable, "-c", TLS_PROBE, "run", "--help"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert f"env: {bundle if set_before else '(unset)'}" in lines, lines
    assert "aiohttp default CAs: 0" in lines or "aiohttp default CAs: n/a" in lines, lines
    if set_before:  # a context built afterwards trusts the bundle again, whole
        assert "a context built after: 0" not in lines, lines


def test_aiohttp_still_loads_the_bundle_at_import_so_the_early_import_is_worth_it() -> None:
    """Imported plainly, aiohttp's connector builds a verified context holding the bundle.
    Should aiohttp stop doing so (a lazy context), ``cli._import_early`` saves nothing
    and goes: this fails then, where the test above would go on passing."""
    bundle = a_ca_bundle()
    if bundle is None:
        pytest.skip("no CA bundle file on this machine")
    probe = ("import aiohttp.connector as c\n"
             "print(c._SSL_CONTEXT_VERIFIED.cert_store_stats()['x509_ca'])")
    env = {**os.environ, "SSL_CERT_FILE": bundle}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) > 0, done.stdout
