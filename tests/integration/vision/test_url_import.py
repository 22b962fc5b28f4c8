"""A URL import against a loopback HTTP server, through the platform's guarded client (which
the test allows onto 127.0.0.1 only, as tests/integration/inputs/test_fetch.py does): a 404,
a timeout, a redirect to a disallowed address, a private address, a page that is not an
image and a row without a tag are each reported; the good photos are imported."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from nunchi.apps.vision.app import VISION_APP
from nunchi.apps.vision.imports import ImageImports, ImportLimits
from nunchi.assembly import Platform
from nunchi.errors import InvalidInput
from tests.integration.inputs.server import Reply, serving
from tests.integration.jobs.conftest import wait_for
from tests.integration.vision.conftest import photo

pytestmark = pytest.mark.timeout(120)


def test_each_bad_url_is_reported_and_the_rest_imported(
    open_vision: Callable[..., Platform],
) -> None:
    platform = open_vision(outbound_allow_hosts=["127.0.0.1/32"])
    vision = platform.services(VISION_APP)
    vision.imports = ImageImports(platform.core, ImportLimits(fetch_timeout=1.0))
    vision.create_project("web", recipe="fast")
    hold = threading.Event()
    routes = {
        "/red.jpg": Reply(body=photo("red", 1), headers={"Content-Type": "image/jpeg"}),
        "/blue.png": Reply(
            body=photo("blue", 1, fmt="PNG"), headers={"Content-Type": "text/plain"}
        ),
        "/red-again.jpg": Reply(body=photo("red", 1)),
        "/slow.jpg": Reply(body=photo("red", 2), hold=hold),
        "/page.jpg": Reply(body=b"<!doctype html><html>log in first</html>"),
        "/hop.jpg": Reply(302, headers={"Location": "http://127.0.0.2:9/cat.jpg"}),
    }
    with serving(routes) as server:  # type: ignore[arg-type]
        rows = [
            ("red.jpg", "빨강"),
            ("blue.png", "파랑"),
            ("red-again.jpg", "빨강"),
            ("missing.jpg", "빨강"),
            ("slow.jpg", "빨강"),
            ("page.jpg", "빨강"),
            ("hop.jpg", "빨강"),
            ("red.jpg", ""),
        ]
        lines = ["url,tag"] + [f"{server.url('/' + path)},{tag}" for path, tag in rows]
        lines.append("http://10.1.2.3/private.jpg,빨강")
        lines.append("not a url,빨강")
        csv = ("\n".join(lines) + "\n").encode("utf-8")
        platform.start(["jobs.vision.import_urls"])
        try:
            job, skipped = vision.submit_url_import("web", csv, "list.csv", "tester")
            assert skipped == ["row 10: 'not a url' is not an http:// or https:// URL"]
            wait_for(
                lambda: platform.jobs.get(job.id).status == "succeeded",
                timeout=60,
                what="the import job",
            )
        finally:
            hold.set()
            platform.stop()
    result = platform.jobs.get(job.id).result
    assert result is not None
    assert (result["added"], result["duplicates"]) == (2, 1)
    reasons = {f["item"].split(":", 1)[0]: f["reason"] for f in result["failed"]}
    assert reasons == {
        "row 4": "http_status",
        "row 5": "timeout",
        "row 6": "not_image",
        "row 7": "redirect_blocked",
        "row 8": "no_tag",
        "row 9": "blocked",
    }
    messages = {f["item"].split(":", 1)[0]: f["message"] for f in result["failed"]}
    assert "404" in messages["row 4"] and "127.0.0.2" in messages["row 7"]
    assert server.count("/hop.jpg") == 1  # the hop was asked for, its target never
    project = vision.project("web")
    assert {t.name: t.images for t in project.tags} == {"빨강": 1, "파랑": 1}
    sources = {i.source_url for i in vision.images("web").items}
    # the same photo at two URLs is stored once, from whichever arrived first
    assert server.url("/blue.png") in sources and len(sources) == 2
    assert sources - {server.url("/blue.png")} <= {
        server.url("/red.jpg"),
        server.url("/red-again.jpg"),
    }


def test_a_list_without_urls_is_refused_before_any_job(
    open_vision: Callable[..., Platform],
) -> None:
    platform = open_vision()
    vision = platform.services(VISION_APP)
    vision.create_project("web", recipe="fast")
    with pytest.raises(InvalidInput, match="no 'url' column"):
        vision.submit_url_import("web", b"name,tag\nx,y\n", "list.csv", None)
    assert platform.jobs.list(kind="vision.import_urls").items == []
