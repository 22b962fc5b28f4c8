"""The live chat guard in Chromium against ``nunchi up``: a Twitch watch (started with
``nunchi chat watch``, the adapter pointed at a loopback server speaking Twitch's IRC over
WebSocket as documented in "Twitch IRC: tags") shows the chat live on the broadcast's page,
profanity masked on its exact spans, a reveal toggle per message and one for all, hostile
names and text shown as text, new messages pushed without a reload; and the same through
loopback servers speaking YouTube's web live chat and Chzzk's chat."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from websockets.sync.server import ServerConnection

from tests.e2e.test_browser import EVIL, Server, browser, open_tab, running_up  # noqa: F401
from tests.fixtures.processes import nunchi_command, wait_for
from tests.integration.chat.sources.support import (
    HttpServer,
    hold_open,
    twitch_login,
    twitch_privmsg,
    ws_server,
)

pytestmark = pytest.mark.timeout(180)


def privmsg(i: int, author: str, text: str) -> str:
    """Message ``i`` of the e2e channel as Twitch sends it."""
    return twitch_privmsg(f"e2e-{i}", f"v{i}", author, text, "nunchi_e2e", 1764583200000 + i)


class Twitch:
    """Answers the login, sends the first chat, then more when ``more`` is set."""

    def __init__(self) -> None:
        self.more = threading.Event()

    def __call__(self, ws: ServerConnection) -> None:
        twitch_login(ws)
        ws.send(":tmi.twitch.tv 001 justinfan1 :Welcome, GLHF!\r\n")
        ws.send(privmsg(1, "시청자", "안녕하세요 오늘 방송 재밌다"))
        ws.send(privmsg(2, "욕쟁이", "ㅅㅂ 진짜 개노잼"))
        ws.send(privmsg(3, EVIL, EVIL))
        self.more.wait(60)
        ws.send(privmsg(4, "늦은시청자", "시1발 늦었다"))
        hold_open(ws, 30)


@pytest.fixture(scope="module")
def server(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:  # noqa: F811
    with running_up(
        tmp_path_factory.mktemp("chat-up"),
        auth_disabled="true",
        outbound_allow_hosts='["127.0.0.1/32"]',
    ) as up:
        yield up


def test_live_chat_is_masked_with_reveal_toggles(
    browser: Browser,  # noqa: F811
    server: Server,
    tmp_path: Path,
) -> None:
    twitch = Twitch()
    with ws_server(twitch) as irc, open_tab(browser, server.url, fence=False) as tab:
        broadcast = start_watch(
            server, "https://www.twitch.tv/nunchi_e2e", {"url": f"ws://127.0.0.1:{irc.port}"}
        )
        page = tab.page
        tab.open(f"/chat/live/{broadcast}")
        messages = page.locator("#chat-messages li.msg")
        expect(messages).to_have_count(3, timeout=20_000)
        profane = page.locator("#chat-messages li.msg.profane")
        expect(profane).to_have_count(1)
        swear = profane.first
        expect(swear.locator(".masked")).to_be_visible()
        expect(swear.locator(".masked")).to_have_text("** 진짜 개노잼")
        expect(swear.locator(".original")).to_be_hidden()
        assert "ㅅㅂ" not in page.locator("#chat-messages").inner_text()

        swear.locator("button.reveal").click()  # reveal this one
        expect(swear.locator(".original")).to_be_visible()
        expect(swear.locator(".original mark")).to_have_text("ㅅㅂ")
        expect(swear.locator(".masked")).to_be_hidden()
        swear.locator("button.reveal").click()  # and hide it again
        expect(swear.locator(".original")).to_be_hidden()

        evil = messages.nth(2)  # names and text arrive as text, never as markup
        expect(evil.locator(".author")).to_have_text(EVIL)
        expect(evil.locator(".plain")).to_have_text(EVIL)
        assert page.locator("#chat-messages img, #chat-messages script").count() == 0

        twitch.more.set()  # a new message is pushed to the open page
        expect(messages).to_have_count(4, timeout=20_000)
        expect(profane).to_have_count(2)
        late = profane.nth(1)
        expect(late.locator(".masked")).to_be_visible()
        page.locator("#chat-originals").check()  # reveal every message at once
        expect(late.locator(".original")).to_be_visible()
        expect(swear.locator(".original")).to_be_visible()
        page.locator("#chat-originals").uncheck()
        expect(swear.locator(".original")).to_be_hidden()

        tab.assert_clean()


def start_watch(server: Server, url: str, endpoints: dict[str, str]) -> str:
    """``nunchi chat watch URL --endpoint ...``; the broadcast once the watch is live."""
    args = [*nunchi_command(), "chat", "watch", url]
    for name, value in endpoints.items():
        args += ["--endpoint", f"{name}={value}"]
    done = subprocess.run(
        args, env=server.env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    watch_id = done.stdout.split()[1]

    def live() -> Any:
        r = server.api.get(f"/chat/watches/{watch_id}")
        return r.status_code == 200 and r.json()["broadcast"]

    wait_for(live, 30, "the watch to go live", alive=[server.proc])
    return str(server.api.get(f"/chat/watches/{watch_id}").json()["broadcast"])


def test_youtube_chat_reaches_the_live_page(browser: Browser, server: Server) -> None:  # noqa: F811
    """A loopback server answering as YouTube's web client does (the watch page's
    ytInitialData and InnerTube's ``get_live_chat``, recorded shapes of tests/fixtures)."""
    from tests.integration.chat.sources.test_youtube import VIDEO, WebYouTube

    with (
        HttpServer(WebYouTube()) as http,
        open_tab(browser, server.url, fence=False) as tab,
    ):
        url = f"https://www.youtube.com/watch?v={VIDEO}"
        broadcast = start_watch(server, url, {"base_url": http.base})
        tab.open(f"/chat/live/{broadcast}")
        page = tab.page
        chat = page.locator("#chat-messages")
        expect(chat).to_contain_text("안녕하세요 😀", timeout=20_000)
        expect(chat).to_contain_text("슈퍼챗 감사!")
        expect(chat.locator("li.msg.kind-donation")).not_to_have_count(0)
        tab.assert_clean()


def test_chzzk_chat_reaches_the_live_page(browser: Browser, server: Server) -> None:  # noqa: F811
    """Loopback servers answering as Chzzk does (live-status, access token and the chat
    WebSocket's cmd 100 / 93101 / 93102 / 94008 frames of tests/fixtures/chat/chzzk)."""
    from tests.integration.chat.sources.test_chzzk import CHANNEL, Chzzk

    platform = Chzzk()
    with (
        HttpServer(platform.http) as http,
        ws_server(platform.chat) as chat_server,
        open_tab(browser, server.url, fence=False) as tab,
    ):
        endpoints = {
            "api_base": http.base,
            "game_base": http.base,
            "chat_url": f"ws://127.0.0.1:{chat_server.port}/chat",
        }
        broadcast = start_watch(server, f"https://chzzk.naver.com/live/{CHANNEL}", endpoints)
        tab.open(f"/chat/live/{broadcast}")
        chat = tab.page.locator("#chat-messages")
        expect(chat).to_contain_text("방송 시작했다!", timeout=20_000)
        expect(chat).to_contain_text("항상 응원합니다")
        tab.assert_clean()
