"""Everything one web process holds, built once at start from the settings."""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates

from tandem.config import ClusterConfig, NodeId, peer_of
from tandem.config.secrets import read_cluster_key
from tandem.web import i18n
from tandem.web.auth import PasswordFile
from tandem.web.changes import Changes
from tandem.web.jobs import Jobs
from tandem.web.journal import Journal
from tandem.web.peer import PeerClient
from tandem.web.peer_auth import Verifier
from tandem.web.settings import WebSettings, identify
from tandem.web.status import LocalStatus, StatusPoller
from tandem.web.store import ConfigStore
from tandem.web.sync import Sync
from tandem.web.throttle import LoginThrottle

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Web:
    settings: WebSettings
    me: NodeId
    store: ConfigStore
    journal: Journal
    peer: PeerClient
    verifier: Verifier
    changes: Changes
    sync: Sync
    local: LocalStatus
    poller: StatusPoller
    jobs: Jobs
    throttle: LoginThrottle
    passwords: PasswordFile
    templates: Jinja2Templates

    @property
    def peer_id(self) -> NodeId:
        return peer_of(self.me)

    def cfg(self) -> ClusterConfig:
        return self.store.load()


def build(settings: WebSettings) -> Web:
    """Raises ConfigError/InvalidConfig with what to fix when the node is not set up."""
    _, me = identify(settings)
    settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = ConfigStore(settings.config_file, settings.state_dir)
    key = read_cluster_key(settings.secrets.cluster_key)
    journal = Journal(settings.state_dir)
    peer = PeerClient(store.load, me, key, settings.secrets.tls_cert, settings.peer_timeout)
    changes = Changes(
        me, store, journal, peer, settings.node_socket, settings.system_root,
        settings.secrets.htpasswd,
    )  # fmt: skip
    sync = Sync(changes, journal, peer, store)
    local = LocalStatus(settings)
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.autoescape = True
    return Web(
        settings=settings,
        me=me,
        store=store,
        journal=journal,
        peer=peer,
        verifier=Verifier(key, peer_of(me)),
        changes=changes,
        sync=sync,
        local=local,
        poller=StatusPoller(me, local, peer, sync, settings.status_interval),
        jobs=Jobs(),
        throttle=LoginThrottle(),
        passwords=PasswordFile(settings.secrets.htpasswd),
        templates=templates,
    )


def web_of(request: Request) -> Web:
    web: Web = request.app.state.web
    return web


def language(request: Request) -> str:
    web = web_of(request)
    cfg = web.cfg()
    return i18n.choose(
        cfg.web.languages,
        cfg.web.default_language,
        request.session,
        request.cookies.get(i18n.COOKIE),
    )


def translator(request: Request) -> gettext.NullTranslations:
    return i18n.translations(language(request))
