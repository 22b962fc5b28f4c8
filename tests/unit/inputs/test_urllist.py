"""read_url_list: url,tag CSVs with or without a header, bad rows reported and left out."""

from __future__ import annotations

import pytest

from nunchi.errors import InvalidInput
from nunchi.inputs.urllist import UrlItem, read_url_list


def test_a_headed_list_in_cp949_with_korean_column_names() -> None:
    data = "분류,주소\n고양이,https://img.example/1.jpg\n강아지,ftp://x\n,\n".encode("cp949")
    listed = read_url_list(data)
    assert listed.items == (UrlItem(1, "https://img.example/1.jpg", "고양이"),)
    assert listed.errors == ("row 2: 'ftp://x' is not an http:// or https:// URL", "row 3: no URL")


def test_a_list_without_a_header_and_without_tags() -> None:
    listed = read_url_list(b"https://a.example/1.jpg\nhttp://b.example/2.png\n")
    assert [(i.url, i.tag) for i in listed.items] == [
        ("https://a.example/1.jpg", None), ("http://b.example/2.png", None),
    ]  # fmt: skip
    tagged = read_url_list(b"https://a.example/1.jpg,cat\n")
    assert tagged.items[0].tag == "cat"


def test_a_list_without_a_url_column_says_how_to_name_it() -> None:
    with pytest.raises(InvalidInput, match="no 'url' column"):
        read_url_list(b"name,where\ncat,somewhere\n")


@pytest.mark.parametrize("data", [b",", b",\n,\n", b",,\n", b" , \n", b"\n\n"])
def test_a_list_without_values_says_what_to_fix(data: bytes) -> None:
    # found by the API fuzzer: b"," used to end in an IndexError (a 500)
    with pytest.raises(InvalidInput, match=r"empty cells|no rows|no 'url' column"):
        read_url_list(data)
