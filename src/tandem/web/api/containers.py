"""Containers from the web (MG-2 Containers, MG-3: the seed's VZCC and VZPP): list,
create, configure, start, stop, back up, restore, resources, action log, and installing
OS templates, on the real container API (tandem.containers, the same as `tandem ve`).

Containers live on this node's /vz. Until the service group (failover) exists, the pages
manage the containers of the node they are served by. Each check of the form runs on its
own first (the same validate functions `tandem ve` uses), so an error stands beside its
field; long operations (template install, backup, restore) are jobs with live output.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tandem.containers import actionlog, host, samples, templates, validate
from tandem.containers import backup as backups
from tandem.containers.errors import ContainerError, InvalidRequest
from tandem.containers.ids import parse_veid
from tandem.containers.layout import Layout
from tandem.containers.manager import Changes, Containers
from tandem.containers.progress import Event
from tandem.errors import TandemError
from tandem.web.api.errors import field_error
from tandem.web.context import Web, translator, web_of
from tandem.web.jobs import Busy

router = APIRouter(prefix="/api", tags=["containers"])
Text = Annotated[str, Field(max_length=253)]
Texts = Annotated[list[Text], Field(max_length=16)]


class Form(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateForm(Form):
    veid: Text
    ostemplate: Text
    sample: Text
    hostname: Text = ""
    addresses: Texts = []
    onboot: bool = False


class ConfigureForm(Form):
    hostname: Text
    addresses: Texts = []
    nameservers: Texts = []
    searchdomains: Texts = []
    onboot: bool = False
    memory: Text = ""
    numproc: Text = ""
    cpuunits: Text = ""
    cpulimit: Text = ""
    diskspace: Text = ""


class RestoreForm(Form):
    archive: Text
    as_veid: Text = ""
    drop_ip: bool = False


class TemplateForm(Form):
    name: Text


def manager(request: Request) -> Containers:
    return manager_of(web_of(request))


def manager_of(web: Web) -> Containers:
    """The container API on this node's /vz, with the facts of this web's configuration."""
    cfg = web.cfg()
    facts = host.from_config(cfg, cfg.node(web.me).hostname)
    return Containers(Layout(web.settings.vz_dir), facts)


def overview(containers: Containers) -> dict[str, Any]:
    """Everything the Containers page lists; "not available" while /vz is not here."""
    try:
        containers.ready()
    except (ContainerError, OSError) as exc:
        return {"available": False, "reason": str(exc)}
    return {
        "available": True,
        "containers": [i.to_dict() for i in containers.listing(include_stopped=True)],
        "templates": [t.to_dict() for t in templates.cached(containers.layout)],
        "samples": samples.available(containers.layout.samples),
        "backups": [b.to_dict() for b in backups.listing(containers)],
    }


def details(containers: Containers, veid: int) -> dict[str, Any]:
    status = containers.status(veid).to_dict()
    entries = actionlog.read(containers.layout.actions(veid), 100)
    status["log"] = [e.to_dict() for e in reversed(entries)]
    status["backups"] = [b.to_dict() for b in backups.listing(containers) if b.veid == veid]
    return status


def _refusal(exc: TandemError) -> JSONResponse:
    return JSONResponse({"message": str(exc)}, status_code=409)


@router.get("/containers", summary="Containers, OS templates, samples and backups of this node")
async def list_containers(request: Request) -> dict[str, Any]:
    return await asyncio.to_thread(overview, manager(request))


@router.post("/containers", summary="Create a container from a cached OS template")
async def create(request: Request, form: CreateForm) -> JSONResponse:
    _ = translator(request)
    containers = manager(request)
    checks: list[tuple[str, Callable[[], object]]] = [
        ("veid", lambda: parse_veid(form.veid)),
        ("hostname", lambda: form.hostname.strip() and validate.hostname(form.hostname)),
        ("ostemplate", lambda: templates.require(containers.layout, form.ostemplate)),
        ("sample", lambda: samples.load(containers.layout.samples, form.sample)),
        ("addresses", lambda: containers.check_addresses(form.addresses, probe=False)),
    ]
    for field, check in checks:
        try:
            await asyncio.to_thread(check)
        except (InvalidRequest, ContainerError) as exc:
            return field_error(_, field, str(exc))
    try:
        defn = await asyncio.to_thread(
            containers.create, form.veid, form.ostemplate, form.sample,
            form.hostname.strip() or None, form.addresses, None, None, form.onboot,
        )  # fmt: skip
    except TandemError as exc:
        return _refusal(exc)
    return JSONResponse({
        "message": _.gettext("Container {veid} created.").format(veid=defn.veid),
        "veid": defn.veid,
    })  # fmt: skip


@router.get("/containers/{veid}", summary="A container's settings, resources, log and backups")
async def get_container(request: Request, veid: int) -> JSONResponse:
    try:
        return JSONResponse(await asyncio.to_thread(details, manager(request), veid))
    except TandemError as exc:
        return JSONResponse({"message": str(exc)}, status_code=404)


@router.put("/containers/{veid}", summary="Change a container's settings (kept, as --save)")
async def configure(request: Request, veid: int, form: ConfigureForm) -> JSONResponse:
    _ = translator(request)
    containers = manager(request)
    try:
        current = await asyncio.to_thread(containers.definition, veid)
    except TandemError as exc:
        return JSONResponse({"message": str(exc)}, status_code=404)
    old = {str(a) for a in current.addresses}
    new = [a.strip() for a in form.addresses if a.strip()]
    checks: list[tuple[str, Callable[[], object]]] = [
        ("hostname", lambda: validate.hostname(form.hostname)),
        ("addresses", lambda: containers.check_addresses(
            [a for a in new if a not in old], besides=veid, probe=False)),
        ("nameservers", lambda: [validate.ipv4(a, "name server") for a in form.nameservers]),
        ("searchdomains", lambda: [validate.domain(d) for d in form.searchdomains]),
    ]  # fmt: skip
    for field, check in checks:
        try:
            await asyncio.to_thread(check)
        except (InvalidRequest, ContainerError) as exc:
            return field_error(_, field, str(exc))
    changes = Changes(
        onboot=form.onboot,
        hostname=form.hostname,
        ipadd=tuple(a for a in new if a not in old),
        ipdel=tuple(a for a in sorted(old) if a not in new),
        nameservers=tuple(form.nameservers),
        searchdomains=tuple(form.searchdomains),
        **{k: (getattr(form, k).strip() or None)
           for k in ("memory", "numproc", "cpuunits", "cpulimit", "diskspace")},
    )  # fmt: skip
    try:
        sentences = await asyncio.to_thread(containers.set, veid, changes, True)
    except InvalidRequest as exc:
        limit = next((k for k in ("memory", "numproc", "cpuunits", "cpulimit", "diskspace")
                      if k in str(exc)), None)  # fmt: skip
        if limit is not None:
            return field_error(_, limit, str(exc))
        return _refusal(exc)
    except TandemError as exc:
        return _refusal(exc)
    message = _.gettext("Container {veid} changed.").format(veid=veid)
    return JSONResponse({"message": message, "lines": sentences, "complete": True})


def _reporter(say: Callable[[str], None]) -> Callable[[Event], None]:
    last: dict[str, int] = {}

    def report(event: Event) -> None:
        if event.total:
            percent = int(100 * (event.done or 0) / event.total)
            if last.get(event.phase) == percent // 10:
                return  # one line per tenth is progress enough
            last[event.phase] = percent // 10
            say(f"{event.phase}: {percent} %")
        else:
            say(event.phase)

    return report


def _job(request: Request, title: str, work: Callable[[Callable[[str], None]], str], lock: str
         ) -> JSONResponse:  # fmt: skip
    web = web_of(request)
    try:
        job = web.jobs.start_call(title, work, lock)
    except Busy as exc:
        return _refusal(exc)
    return JSONResponse({"node": web.me, **job.view()})


@router.post("/containers/{veid}/backup", summary="Back a container up (a job with progress)")
async def backup(request: Request, veid: int) -> JSONResponse:
    containers = manager(request)

    def work(say: Callable[[str], None]) -> str:
        path = backups.backup(containers, veid, report=_reporter(say))
        return f"backed up to {path}"

    return _job(request, f"backup of container {veid}", work, f"ve{veid}")


@router.post("/backups/restore", summary="Restore a container from one of the listed backups")
async def restore(request: Request, form: RestoreForm) -> JSONResponse:
    _ = translator(request)
    containers = manager(request)
    known = {b.path for b in await asyncio.to_thread(backups.listing, containers)}
    archive = Path(form.archive)
    if archive not in known:
        return field_error(_, "archive", _.gettext("Choose one of the listed backups."))
    target = form.as_veid.strip() or None
    if target is not None:
        try:
            parse_veid(target)
        except InvalidRequest as exc:
            return field_error(_, "as_veid", str(exc))

    def work(say: Callable[[str], None]) -> str:
        defn = backups.restore(containers, archive, target, form.drop_ip, report=_reporter(say))
        return f"restored as container {defn.veid}"

    return _job(request, f"restore of {archive.name}", work, "restore")


def cache_backups(containers: Containers) -> list[dict[str, Any]]:
    """The template cache backups in /vz/backups/templatecache, newest first."""
    folder = containers.layout.template_cache_backups
    if not folder.is_dir():
        return []
    found = sorted(folder.glob("templatecache-*.tar"), reverse=True)
    return [{"path": str(p), "size": p.stat().st_size} for p in found]


@router.post("/template-cache/backup", summary="Back up the template cache (a job)")
async def backup_cache(request: Request) -> JSONResponse:
    containers = manager(request)

    def work(say: Callable[[str], None]) -> str:
        path = backups.backup_template_cache(containers, report=_reporter(say))
        return f"template cache backed up to {path}"

    return _job(request, "backup of the template cache", work, "template cache")


@router.post("/templates", summary="Install (build) an OS template into the cache")
async def install_template(request: Request, form: TemplateForm) -> JSONResponse:
    _ = translator(request)
    containers = manager(request)
    try:
        templates.check_name(form.name)
    except TandemError as exc:
        return field_error(_, "name", str(exc))

    def work(say: Callable[[str], None]) -> str:
        containers.ready()
        template = templates.build(containers.layout, form.name, report=_reporter(say))
        return f"template {template.name} is in the cache ({template.size} bytes)"

    return _job(request, f"install of template {form.name}", work, f"template {form.name}")


# After /containers/{veid}/backup: the first route whose path matches is the one taken.
@router.post("/containers/{veid}/{action}", summary="Start, stop or restart a container")
async def act(
    request: Request, veid: int, action: Literal["start", "stop", "restart"]
) -> JSONResponse:
    _ = translator(request)
    containers = manager(request)
    operations: dict[str, Callable[[int], float]] = {
        "start": containers.start,
        "stop": containers.stop,
        "restart": containers.restart,
    }
    operation = operations[action]
    try:
        seconds = await asyncio.to_thread(operation, veid)
    except TandemError as exc:
        return _refusal(exc)
    messages = {
        "start": _.gettext("Container {veid} started in {s} s."),
        "stop": _.gettext("Container {veid} stopped in {s} s."),
        "restart": _.gettext("Container {veid} restarted in {s} s."),
    }
    message = messages[action].format(veid=veid, s=f"{seconds:.1f}")
    return JSONResponse({"message": message, "complete": True})
