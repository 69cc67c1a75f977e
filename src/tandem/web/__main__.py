"""`python -m tandem.web run`: the same command as `tandem web run`; the node supervisor
starts the web this way so that it depends on nothing but this package."""

from tandem.cli.web_cmd import app

app(prog_name="tandem web")
