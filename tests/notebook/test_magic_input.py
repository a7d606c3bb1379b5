"""What the magics accept on their line: secrets never echoed, quotes and -o names."""

from __future__ import annotations

import json

import pytest
from IPython.core.error import UsageError

from tests.conftest import free_port
from tests.test_redaction import FORMS, IDS, assert_no_secret


# -- secrets -------------------------------------------------------------------------
@pytest.mark.parametrize("url", [u for u, _ in FORMS], ids=IDS)
def test_ms_config_errors_show_no_secret(shell, run, url):
    url = url.format(host=f"127.0.0.1:{free_port()}")
    with pytest.raises(UsageError) as caught:
        run(shell, "ms_config", f"--db postgresql --db-url {url}")
    assert_no_secret(str(caught.value))


# SQLite ignores query arguments (with a warning), which lets this run without a server.
@pytest.mark.filterwarnings("ignore:Query string argument")
def test_ms_config_shows_the_url_without_its_secrets(shell, run, tmp_path):
    url = f"sqlite:///{tmp_path}/team.db?password=Pw-query-2&sslpassword=Pw-ssl-3"
    config, captured = run(shell, "ms_config", f"--db-url {url}")
    assert config.data["db_url"] == f"sqlite:///{tmp_path}/team.db?password=***&sslpassword=***"
    assert_no_secret(config.to_text(), *(json.dumps(o.data) for o in captured.outputs))
