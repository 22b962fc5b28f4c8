"""The pure parse_* functions of each adapter, one platform per section."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from nunchi.apps.chat.sources._money import micros_to_minor, parse_display_amount
from nunchi.apps.chat.sources.base import ChatDeletion, ChatMessage, ParseError
from nunchi.apps.chat.sources.chzzk_official import parse_socketio_packet, socketio_url
from nunchi.apps.chat.sources.chzzk_parse import (
    chat_server_url,
    chzzk_message_id,
    parse_chzzk_frame,
    parse_chzzk_item,
    parse_live_status,
)
from nunchi.apps.chat.sources.soop import (
    build_soop_packet,
    parse_player_live,
    parse_soop_event,
    parse_soop_packet,
)
from nunchi.apps.chat.sources.twitch import (
    parse_irc_line,
    parse_twitch_frame,
    parse_twitch_line,
    unescape_tag_value,
)
from nunchi.apps.chat.sources.youtube_parse import (
    extract_json_after,
    parse_live_chat_response,
    parse_watch_page,
    runs_text,
)
from tests.integration.chat.sources.support import FIXTURES

KW = {"channel": "c", "broadcast": "b"}


# --- Twitch -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (r"a\sb", "a b"),
        (r"a\:b", "a;b"),
        (r"a\\b", "a\\b"),
        (r"a\rb\nc", "a\rb\nc"),
        ("trailing\\", "trailing"),
        (r"\q", "q"),
        ("", ""),
        ("플레인", "플레인"),
    ],
)
def test_tag_unescape(raw: str, value: str) -> None:
    assert unescape_tag_value(raw) == value


def test_irc_line_parts() -> None:
    line = parse_irc_line(r"@a=1;b=x\sy;c :nick!nick@host PRIVMSG #chan :hello :world")
    assert line.tags == {"a": "1", "b": "x y", "c": ""}
    assert (line.nick, line.command, line.params) == ("nick", "PRIVMSG", ["#chan", "hello :world"])
    assert parse_irc_line("PING :tmi.twitch.tv").params == ["tmi.twitch.tv"]
    for bad in ("", "@only-tags", ":prefix-only", "\x00\x01 junk"):
        with pytest.raises(ParseError):
            parse_irc_line(bad)


def test_twitch_clearchat_without_user_clears_everything() -> None:
    event = parse_twitch_line(
        "@room-id=1;tmi-sent-ts=1700000000000 :tmi.twitch.tv CLEARCHAT #c", **KW
    )
    assert isinstance(event, ChatDeletion)
    assert (event.message_id, event.author_id, event.reason) == (None, None, "chat cleared")


def test_twitch_bad_time_is_a_parse_error_and_other_lines_survive() -> None:
    frame = (
        "@id=1;tmi-sent-ts=soon;user-id=5 :a!a@a PRIVMSG #c :x\r\n"
        "@id=2;tmi-sent-ts=1700000000000;user-id=6 :b!b@b PRIVMSG #c :y\r\n"
        ":tmi.twitch.tv 372 me :motd\r\n"
    )
    events = parse_twitch_frame(frame, **KW)
    assert isinstance(events[0], ParseError) and "tmi-sent-ts" in str(events[0])
    assert isinstance(events[1], ChatMessage) and events[1].text == "y"
    assert len(events) == 2  # the numeric is of no interest


def test_twitch_login_failure_notice() -> None:
    event = parse_twitch_line(":tmi.twitch.tv NOTICE * :Login authentication failed", **KW)
    assert event is not None and getattr(event, "kind", None) == "auth_failed"


# --- Chzzk ------------------------------------------------------------------------------


def test_chzzk_server_and_ids_are_deterministic() -> None:
    assert (
        chat_server_url("N1AbCd")
        == f"wss://kr-ss{sum(map(ord, 'N1AbCd')) % 9 + 1}.chat.naver.com/chat"
    )
    assert chzzk_message_id("u", 1) == chzzk_message_id("u", 1) != chzzk_message_id("u", 2)


def test_chzzk_item_short_and_long_keys_agree() -> None:
    profile = json.dumps({"nickname": "닉", "userRoleCode": "streamer", "verifiedMark": True})
    short = {
        "uid": "u1",
        "msg": "hi",
        "msgTypeCode": 1,
        "msgTime": 1717000000000,
        "profile": profile,
        "extras": "{}",
        "msgStatusType": "HIDDEN",
    }
    long = {
        "userId": "u1",
        "content": "hi",
        "messageTypeCode": 1,
        "messageTime": 1717000000000,
        "profile": profile,
        "extras": None,
    }
    a = parse_chzzk_item(short, **KW)
    b = parse_chzzk_item(long, **KW)
    assert a is not None and b is not None and a.message_id == b.message_id
    assert a.badges == ("role/streamer", "verified", "status/HIDDEN")
    assert a.sent_at == datetime.fromtimestamp(1717000000, UTC)
    with pytest.raises(ParseError, match="payAmount"):
        parse_chzzk_item({**short, "msgTypeCode": 10}, **KW)


def test_chzzk_status_and_frames() -> None:
    assert parse_live_status({"code": 200, "content": None}) is None
    status = parse_live_status({"code": 200, "content": {"status": "CLOSE", "chatChannelId": None}})
    assert status is not None and not status.is_live
    with pytest.raises(ParseError):
        parse_chzzk_frame("[1, 2]", **KW)
    assert parse_chzzk_frame('{"cmd": 10100, "bdy": {"sid": "s"}}', **KW).sid == "s"
    frame = parse_chzzk_frame('{"cmd": 93101, "bdy": [{"uid": "x"}]}', **KW)
    assert frame.messages == [] and len(frame.failures) == 1


def test_socketio_packets() -> None:
    assert parse_socketio_packet('0{"sid":"s","pingInterval":25000}').kind == "open"
    assert parse_socketio_packet("3").kind == "pong"
    event = parse_socketio_packet('42/chat,["CHAT","{\\"a\\":1}"]')
    assert (event.kind, event.event, event.data) == ("event", "CHAT", {"a": 1})
    with pytest.raises(ParseError):
        parse_socketio_packet("x")
    url = socketio_url("https://ssio08.nchat.naver.com:443?auth=T")
    assert url == "wss://ssio08.nchat.naver.com:443/socket.io/?auth=T&EIO=3&transport=websocket"


# --- SOOP -------------------------------------------------------------------------------


def test_soop_packet_round_trip_and_uuid_variant() -> None:
    raw = build_soop_packet(5, ["메시지", "id(2)", "0", "0", "0", "닉", "1|0", "-1"])
    assert raw.startswith(b"\x1b\t0005") and raw[12:14] == b"00"
    packet = parse_soop_packet(raw)
    assert packet.service == 5 and packet.fields[0] == "메시지"
    body = raw[14:]
    with_uuid = raw[:14] + b"00000000-0000-0000-0000-000000000000" + body
    assert parse_soop_packet(with_uuid).fields == packet.fields
    message = parse_soop_event(packet, **KW, received_at=datetime(2024, 1, 1, tzinfo=UTC))
    assert message is not None and message.author_id == "id" and message.author_name == "닉"
    with pytest.raises(ParseError):
        parse_soop_packet(b"\x1b\tabcd0000xx00")
    assert parse_player_live({"CHANNEL": {"RESULT": 0}}).result == 0
    with pytest.raises(ParseError):
        parse_player_live({"CHANNEL": {"RESULT": 1}})


# --- YouTube ----------------------------------------------------------------------------


def test_runs_text_and_amounts() -> None:
    runs = {
        "runs": [
            {"text": "a "},
            {"emoji": {"emojiId": "😀", "shortcuts": [":g:"]}},
            {"emoji": {"emojiId": "UC/x", "shortcuts": [":yt:"], "isCustomEmoji": True}},
        ]
    }
    assert runs_text(runs) == "a 😀:yt:"
    assert runs_text({"simpleText": "s"}) == "s" and runs_text(None) == ""
    assert parse_display_amount("₩10,000") == (10000, "KRW")
    assert parse_display_amount("$4.99") == (499, "USD")
    assert parse_display_amount("¥1,000") == (1000, "JPY")
    assert parse_display_amount("€1.234,50") == (123450, "EUR")
    assert parse_display_amount("CA$20.00") == (2000, "CAD")
    assert parse_display_amount("free") is None
    assert micros_to_minor(4_990_000, "USD") == 499
    assert micros_to_minor(5_000_000_000, "KRW") == 5000


def test_watch_page_picks_live_chat_over_top_chat() -> None:
    html = (FIXTURES / "youtube" / "watch.html").read_text(encoding="utf-8")
    page = parse_watch_page(html)
    assert (page.video_id, page.is_live, page.api_key) == ("dQw4w9WgXcQ", True, "AIzaTestKey")
    assert page.continuation == "ALL-CHAT-0"
    assert parse_watch_page(html, all_messages=False).continuation == "TOP-CHAT-0"
    ended = parse_watch_page((FIXTURES / "youtube" / "watch_ended.html").read_text("utf-8"))
    assert ended.continuation is None and not ended.is_live
    assert ended.chat_unavailable == "Chat is disabled for this live stream."
    assert extract_json_after('x = {"a": [1, "}"]};', "x =") == {"a": [1, "}"]}
    with pytest.raises(ParseError):
        extract_json_after("nothing here", "ytInitialData")


def test_live_chat_response_end_and_shape() -> None:
    assert parse_live_chat_response({"responseContext": {}}, **KW).continuation is None
    with pytest.raises(ParseError):
        parse_live_chat_response({"unexpected": 1}, **KW)


# --- the interface ----------------------------------------------------------------------


def test_message_json_round_trip_and_validation() -> None:
    message = ChatMessage(
        "chzzk",
        "c",
        "b",
        "m",
        "a",
        "닉",
        '안녕 "q"',
        datetime(2024, 5, 29, 12, tzinfo=UTC),
        kind="donation",
        amount=1000,
        currency="KRW",
        badges=("x",),
    )
    raw = message.to_json()
    assert json.loads(raw)["sent_at"] == "2024-05-29T12:00:00+00:00" and "안녕" in raw.decode()
    assert ChatMessage.from_json(raw) == message
    deletion = ChatDeletion("twitch", "c", "b", datetime(2024, 1, 1, tzinfo=UTC), author_id="u")
    assert ChatDeletion.from_json(deletion.to_json()) == deletion
    from nunchi.errors import InvalidInput

    with pytest.raises(InvalidInput, match="time zone"):
        ChatMessage("p", "c", "b", "m", "a", "n", "t", datetime(2024, 1, 1))
    with pytest.raises(InvalidInput, match="kind"):
        ChatMessage(
            "p", "c", "b", "m", "a", "n", "t", datetime(2024, 1, 1, tzinfo=UTC), kind="shout"  # type: ignore[arg-type]
        )
    with pytest.raises(InvalidInput, match="sent_at"):
        ChatMessage.from_json(json.dumps({**json.loads(raw), "sent_at": "yesterday"}))
    with pytest.raises(InvalidInput, match="missing"):
        ChatMessage.from_json(b'{"platform": "x"}')
