"""`tandem config`: check and show the cluster configuration, export and import its bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tandem import paths
from tandem.cli.output import console, err_console, fail, print_json
from tandem.config import InvalidConfig, load_config

app = typer.Typer(help="Check and show the cluster configuration (cluster.toml).")

FileArg = Annotated[
    Path | None,
    typer.Argument(help="Configuration file to read [default: /etc/tandem/cluster.toml]."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@app.command()
def check(file: FileArg = None, as_json: JsonOpt = False) -> None:
    """Print OK, or every error with its key, the bad value and what would be valid.

    Exit status 0 when the file is valid, 2 when it is not; nothing is ever changed.
    """
    path = file or paths.CONFIG_FILE
    try:
        load_config(path)
    except InvalidConfig as exc:
        if as_json:
            print_json(
                {
                    "file": str(path),
                    "ok": False,
                    "errors": [
                        {
                            "key": i.key,
                            "value": None if i.value is None else str(i.value),
                            "problem": i.problem,
                            "expected": i.expected,
                        }
                        for i in exc.issues
                    ],
                }
            )
        else:
            err_console.print(str(exc), soft_wrap=True, markup=False)
        raise typer.Exit(2) from None
    if as_json:
        print_json({"file": str(path), "ok": True, "errors": []})
    else:
        console.print(f"OK: {path}", markup=False)


@app.command()
def show(file: FileArg = None, as_json: JsonOpt = False) -> None:
    """Show the effective configuration, with the timing profile's values filled in."""
    path = file or paths.CONFIG_FILE
    try:
        cfg = load_config(path)
    except InvalidConfig as exc:
        err_console.print(str(exc), soft_wrap=True, markup=False)
        raise typer.Exit(2) from None
    data = cfg.model_dump(mode="json")
    timing = cfg.heartbeat.timing()
    data["heartbeat"].update(
        keepalive=timing.keepalive,
        warntime=timing.warntime,
        deadtime=timing.deadtime,
        initdead=timing.initdead,
    )
    data["ping"]["interval"] = cfg.ping_interval()
    if as_json:
        print_json(data)
        return
    for section, values in data.items():
        console.print(f"[bold]\\[{section}][/]")
        for key, value in values.items():
            if isinstance(value, dict):
                inner = ", ".join(f"{k}={v}" for k, v in value.items())
                console.print(f"  {key}: {inner}", markup=False)
            else:
                console.print(f"  {key} = {value}", markup=False)


DirOpt = Annotated[
    Path,
    typer.Option("--dir", help="The configuration folder.", show_default=True),
]
PassFileOpt = Annotated[
    Path | None,
    typer.Option("--passphrase-file", help="Read the bundle's passphrase from this file."),
]
PassStdinOpt = Annotated[
    bool, typer.Option("--passphrase-stdin", help="Read the bundle's passphrase from stdin.")
]


def _passphrase(file: Path | None, stdin: bool) -> str | None:
    import sys

    if file is not None and stdin:
        fail("give the passphrase one way: --passphrase-file or --passphrase-stdin")
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read the passphrase from {file}: {exc}")
        return text.splitlines()[0] if text.strip() else fail(f"{file} is empty")
    if stdin:
        line = sys.stdin.readline().rstrip("\n")
        return line or fail("no passphrase on stdin")
    return None


@app.command("export")
def export_(
    passphrase_file: PassFileOpt = None,
    passphrase_stdin: PassStdinOpt = False,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder to write the bundle into.")
    ] = Path(),
    etc_dir: DirOpt = paths.ETC_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Write the configuration bundle tandem_<cluster>_<YYYYMMDD_HHMMSS>.tar (OP-1).

    It holds cluster.toml and every secret (password hashes, cluster key, TLS key and
    certificate, SMTP password, support key); with a passphrase it is encrypted
    (scrypt + AES-256-GCM). Keep it where the cluster is not.
    """
    from tandem.bundle.install import export_bundle

    exported = export_bundle(etc_dir, output, _passphrase(passphrase_file, passphrase_stdin))
    if as_json:
        print_json({"file": str(exported.path), "cluster": exported.cluster,
                    "files": exported.files, "encrypted": exported.encrypted})  # fmt: skip
        return
    how = "encrypted" if exported.encrypted else "NOT encrypted: it holds the secrets in clear"
    console.print(f"wrote {exported.path} ({len(exported.files)} files, {how})", markup=False)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="The bundle, tandem_<cluster>_<time>.tar.")],
    passphrase_file: PassFileOpt = None,
    passphrase_stdin: PassStdinOpt = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the bundle and say what would change.")
    ] = False,
    foreign_ok: Annotated[
        bool,
        typer.Option("--foreign-ok", help="Replace a configuration of another cluster."),
    ] = False,
    etc_dir: DirOpt = paths.ETC_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Check a bundle as a whole, then install its files (OP-1, OP-2, OP-3).

    A truncated, changed, wrongly decrypted or foreign bundle is refused with the reason,
    and nothing changes. Restart the node's services afterwards (`systemctl restart
    tandem-node`), or let the supervisor notice the new configuration.
    """
    from tandem.bundle.install import install, plan_import

    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    plan = plan_import(
        data, etc_dir, _passphrase(passphrase_file, passphrase_stdin), foreign_ok=foreign_ok
    )
    kept_copy = None if dry_run else install(plan)
    if as_json:
        print_json({"file": str(file), "cluster": plan.bundle.cluster,
                    "created": plan.bundle.created, "created_on": plan.bundle.created_on,
                    "encrypted": plan.bundle.encrypted, "dry_run": dry_run,
                    "changes": plan.changes, "kept": plan.kept,
                    "replaced_copy": None if kept_copy is None else str(kept_copy)})  # fmt: skip
        return
    console.print(
        f"bundle of cluster {plan.bundle.cluster} from {plan.bundle.created_on}, "
        f"{plan.bundle.created}: valid",
        markup=False,
    )
    verb = "would be" if dry_run else "was"
    for rel, change in plan.changes.items():
        written = "" if change == "same" else f" ({verb} written)"
        console.print(f"  {etc_dir / rel}: {change}{written}", markup=False)
    for rel in plan.kept:
        console.print(f"  {etc_dir / rel}: not in the bundle, kept", markup=False)
    if kept_copy is not None:
        console.print(f"the replaced files are kept in {kept_copy}", markup=False)
    if dry_run:
        console.print("dry run: nothing was changed")
