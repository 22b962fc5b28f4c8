"""POST /api/v1/text/analyze: the text analyzers through the API, with limits and auth."""

from __future__ import annotations

from fastapi.testclient import TestClient

from nunchi.web.keys import KeyService


def test_profanity_is_masked_at_the_original_positions(open_client: TestClient) -> None:
    text = "야 시1발 진짜"
    r = open_client.post("/api/v1/text/analyze", json={"texts": [text], "tasks": ["profanity"]})
    assert r.status_code == 200, r.text
    [result] = r.json()["results"]
    assert result["text"] == text
    assert set(result) == {"text", "profanity"}
    prof = result["profanity"]
    assert prof["profane"] is True
    assert prof["masked"] == "야 *** 진짜"
    assert prof["spans"] == [[2, 5]]


def test_innocent_words_pass_and_results_keep_input_order(open_client: TestClient) -> None:
    texts = ["시발역에서 만나요", "새끼 고양이 귀여워"]
    r = open_client.post("/api/v1/text/analyze", json={"texts": texts, "tasks": ["profanity"]})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["text"] for x in results] == texts
    assert [x["profanity"]["profane"] for x in results] == [False, False]


def test_keywords_are_nouns(open_client: TestClient) -> None:
    r = open_client.post(
        "/api/v1/text/analyze", json={"texts": ["오늘 방송 음악 최고"], "tasks": ["keywords"]}
    )
    assert r.status_code == 200, r.text
    assert {"방송", "음악"} <= set(r.json()["results"][0]["keywords"])


def test_too_many_texts_is_a_413_that_says_the_limit(open_client: TestClient) -> None:
    r = open_client.post("/api/v1/text/analyze", json={"texts": ["a"] * 1001})
    assert r.status_code == 413
    error = r.json()["error"]
    assert error["code"] == "payload_too_large"
    assert "1000" in error["message"]


def test_too_long_text_is_a_413_naming_the_item(open_client: TestClient) -> None:
    r = open_client.post("/api/v1/text/analyze", json={"texts": ["ok", "가" * 5001]})
    assert r.status_code == 413
    assert "texts[1]" in r.json()["error"]["message"]


def test_unknown_task_and_empty_texts_are_422(open_client: TestClient) -> None:
    r = open_client.post("/api/v1/text/analyze", json={"texts": ["a"], "tasks": ["summary"]})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_input"
    r = open_client.post("/api/v1/text/analyze", json={"texts": []})
    assert r.status_code == 422
    assert "at least one text" in r.json()["error"]["message"]


def test_needs_a_key_with_submit_scope(client: TestClient, keys: KeyService) -> None:
    body = {"texts": ["안녕"], "tasks": ["profanity"]}
    assert client.post("/api/v1/text/analyze", json=body).status_code == 401
    _, read_key = keys.create("reader", ["read"])
    r = client.post(
        "/api/v1/text/analyze", json=body, headers={"Authorization": f"Bearer {read_key}"}
    )
    assert r.status_code == 403
    _, submit_key = keys.create("submitter", ["submit"])
    r = client.post(
        "/api/v1/text/analyze", json=body, headers={"Authorization": f"Bearer {submit_key}"}
    )
    assert r.status_code == 200
