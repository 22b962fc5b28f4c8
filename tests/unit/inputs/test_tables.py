"""read_table: formats and encodings judged from the content, header and ragged-row rules,
limits, JSON lines, Excel workbooks, refusals that say what to fix."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import openpyxl
import pytest

from nunchi.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from nunchi.inputs.tables import Renamed, read_table

pytestmark = pytest.mark.timeout(60)

KOREAN_CSV = (
    "시군구,업종명,매출액\n서울특별시 강남구,한식 음식점,12500\n부산광역시 해운대구,카페,8300\n"
)


# --- encodings ---------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["cp949", "euc-kr"])
def test_korean_public_data_in_cp949_or_euc_kr(codec: str) -> None:
    table = read_table(KOREAN_CSV.encode(codec), name="상권.csv")
    assert table.encoding == "cp949" and table.format == "csv" and table.delimiter == ","
    assert table.columns == ("시군구", "업종명", "매출액")
    assert table.rows[1] == ["부산광역시 해운대구", "카페", "8300"]


def test_cp949_only_characters_are_read() -> None:
    # 똠 and 햏 are outside EUC-KR's 2,350 syllables: only CP949 (UHC) encodes them.
    table = read_table("이름\n똠방각하\n햏\n".encode("cp949"))
    assert [r[0] for r in table.rows] == ["똠방각하", "햏"]


def test_utf8_with_bom_drops_the_bom_from_the_first_name() -> None:
    table = read_table(("\ufeff" + KOREAN_CSV).encode("utf-8"))
    assert table.encoding == "utf-8-sig" and table.columns[0] == "시군구"


def test_utf16_with_bom_as_excel_unicode_text() -> None:
    text = KOREAN_CSV.replace(",", "\t")
    table = read_table(text.encode("utf-16"), name="export.txt")
    assert (table.encoding, table.format, table.delimiter) == ("utf-16-le", "tsv", "\t")
    assert table.rows[0] == ["서울특별시 강남구", "한식 음식점", "12500"]


def test_utf16_big_endian_without_bom() -> None:
    table = read_table("name,city\nKim,Seoul\nLee,Busan\n".encode("utf-16-be"))
    assert table.encoding == "utf-16-be" and table.rows == [["Kim", "Seoul"], ["Lee", "Busan"]]


def test_an_explicit_encoding_wins_and_a_wrong_one_is_explained() -> None:
    data = KOREAN_CSV.encode("cp949")
    assert read_table(data, encoding="cp949").columns[0] == "시군구"
    with pytest.raises(InvalidInput, match=r"not valid utf-8 text: .* at byte 0 \(line 1"):
        read_table(data, encoding="utf-8")
    with pytest.raises(InvalidInput, match="unknown text encoding 'klingon'"):
        read_table(data, encoding="klingon")


def test_text_in_no_known_encoding_lists_what_was_tried() -> None:
    data = b"a,b\n" + bytes([0x80, 0xFF, 0x41, 0xC8, 0x20]) * 3
    with pytest.raises(InvalidInput) as e:
        read_table(data)
    message = str(e.value)
    assert "not UTF-8" in message and "CP949/EUC-KR" in message and "line 2" in message


# --- delimiters and quoting ----------------------------------------------------------------


def test_tab_semicolon_and_pipe_are_recognised() -> None:
    assert read_table(b"a\tb\n1\t2\n").format == "tsv"
    semicolon = read_table(b"name;price\nmilk;1,5\nbread;2,25\n")
    assert semicolon.delimiter == ";" and semicolon.rows[0] == ["milk", "1,5"]
    assert read_table(b"a|b\n1|2\n").delimiter == "|"


def test_quoted_delimiters_and_newlines_stay_in_their_cell() -> None:
    data = b'id;note\n1;"one, two; three"\n2;"line 1\nline 2"\n3;plain\n'
    table = read_table(data)
    assert table.delimiter == ";"
    assert table.rows == [["1", "one, two; three"], ["2", "line 1\nline 2"], ["3", "plain"]]


def test_a_single_column_file() -> None:
    table = read_table(b"url\nhttps://a.example/1.jpg\nhttps://b.example/2.jpg")
    assert table.columns == ("url",) and len(table.rows) == 2


def test_formula_like_cells_are_plain_data() -> None:
    table = read_table(b'a,b\n"=HYPERLINK(""http://x"",""y"")",+1\n@SUM(A1),-2\n')
    assert table.rows == [['=HYPERLINK("http://x","y")', "+1"], ["@SUM(A1)", "-2"]]


# --- header and ragged rows ----------------------------------------------------------------


def test_empty_and_repeated_names_are_made_unique_and_reported() -> None:
    table = read_table(b" name ,,name,name_2\n1,2,3,4\n")
    assert table.columns == ("name", "column_2", "name_3", "name_2")
    assert table.renamed == (Renamed(2, "", "column_2"), Renamed(3, "name", "name_3"))
    assert any("column 3 repeats the name 'name'" in n for n in table.notes)


def test_short_rows_are_padded_and_reported_with_their_lines() -> None:
    table = read_table(b"a,b,c\n1,2,3\n4,5\n\n6\n")
    assert table.rows == [["1", "2", "3"], ["4", "5", None], ["6", None, None]]
    assert any("2 rows had fewer cells" in n and "lines 3, 5" in n for n in table.notes)


def test_trailing_delimiters_are_dropped() -> None:
    table = read_table(b"a,b,\n1,2,\n3,4,,\n")
    assert table.columns == ("a", "b") and table.rows == [["1", "2"], ["3", "4"]]


def test_a_row_with_a_value_past_the_header_is_refused_with_its_line() -> None:
    # The multi-line cell on lines 2-3 makes the bad row start on physical line 4.
    data = b'name,city\n"Kim\nJr.",Seoul\nLee,Busan,extra\n'
    with pytest.raises(InvalidInput) as e:
        read_table(data)
    message = str(e.value)
    assert message.startswith("line 4 has 3 cells but the header names 2 columns")
    assert "'extra'" in message and "quote values" in message


def test_without_a_header_the_first_row_is_data() -> None:
    table = read_table(b"1,2\n3,4\n", header=False)
    assert table.columns == ("column_1", "column_2") and table.rows == [["1", "2"], ["3", "4"]]


# --- limits --------------------------------------------------------------------------------


def test_row_byte_cell_and_column_limits_are_413_and_name_the_limit() -> None:
    with pytest.raises(PayloadTooLarge, match="more than 2 data rows"):
        read_table(b"a\n1\n2\n3\n", max_rows=2)
    assert len(read_table(b"a\n1\n2\n", max_rows=2).rows) == 2
    with pytest.raises(PayloadTooLarge, match=r"limit is 0\.0 MiB"):
        read_table(b"a\n1\n", max_bytes=3)
    with pytest.raises(PayloadTooLarge, match="line 3, column 'b': a cell of 11 characters"):
        read_table(b"a,b\n1,2\n3,xxxxxxxxxxx\n", max_cell_chars=10)
    with pytest.raises(PayloadTooLarge, match="at most 3 columns"):
        read_table(b"a,b,c,d\n", max_columns=3)


def test_an_unclosed_quote_is_explained() -> None:
    data = b'a,b\n1,"never closed\n' + b"x" * 140_000 + b"\n"
    with pytest.raises(PayloadTooLarge, match="never closed"):
        read_table(data)


def test_refusals_of_what_is_not_a_table() -> None:
    with pytest.raises(InvalidInput, match="is empty"):
        read_table(b"", name="empty.csv")
    with pytest.raises(UnsupportedMediaType, match="a PDF document, not a table"):
        read_table(b"%PDF-1.4\n...", name="report.csv")
    html = "<html><body><table><tr><td>지역</td></tr></table></body></html>".encode()
    with pytest.raises(UnsupportedMediaType, match=r"HTML page.*save it as \.xlsx"):
        read_table(html, name="통계.xls")
    with pytest.raises(UnsupportedMediaType, match="a PNG image"):
        read_table(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)


# --- JSON ----------------------------------------------------------------------------------


def test_json_lines_with_keys_in_any_order_and_types_as_text() -> None:
    data = (
        b'{"name": "\xea\xb9\x80", "age": 30, "ok": true}\n\n'
        b'{"age": 2.5, "tags": ["a", 1], "name": null, "city": "Seoul"}\n'
    )
    table = read_table(data)
    assert table.format == "jsonl" and table.columns == ("name", "age", "ok", "tags", "city")
    assert table.rows == [["김", "30", "true", None, None], [None, "2.5", None, '["a",1]', "Seoul"]]


def test_a_bad_json_line_is_refused_with_its_number() -> None:
    data = b'{"a": 1}\n{"a": 2}\n{"a": 3,,}\n{"a": 4}\n'
    with pytest.raises(InvalidInput, match=r"^line 3 is not valid JSON .*fix or remove that line"):
        read_table(data)
    with pytest.raises(InvalidInput, match="line 2 is a JSON array, not an object"):
        read_table(b'{"a": 1}\n[1, 2]\n')


def test_json_arrays_and_a_data_go_kr_style_envelope() -> None:
    table = read_table('[{"지역": "서울", "값": 1}, {"지역": "부산"}]'.encode())
    assert table.format == "json" and table.rows == [["서울", "1"], ["부산", None]]
    envelope = b'{"page": 1, "perPage": 2, "totalCount": 9,\n "data": [{"a": 1}, {"a": 2}]}'
    table = read_table(envelope)
    assert table.rows == [["1"], ["2"]] and "'data' array" in table.notes[0]


def test_json_values_that_cannot_be_stored_are_refused() -> None:
    with pytest.raises(InvalidInput, match="NaN"):
        read_table(b'[{"a": NaN}]')
    with pytest.raises(InvalidInput, match="appears twice"):
        read_table(b'{"a": 1, "a": 2}\n')
    with pytest.raises(InvalidInput, match="array element 2 is a JSON number"):
        read_table(b'[{"a": 1}, 2]')


# --- Excel ---------------------------------------------------------------------------------


def _workbook() -> bytes:
    book = openpyxl.Workbook()
    sales = book.active
    assert sales is not None
    sales.title = "매출"
    sales.append(["품목", "수량", "단가", "합계", "날짜", "확인"])
    sales.append(["사과", 3, 1200, "=B2*C2", dt.datetime(2024, 1, 5), True])
    sales.append(["배", 2, 0.5, "=B3*C3", dt.datetime(2024, 1, 6, 13, 30), False])
    sales.append(["=1/0", None, None, "=SUM(D2:D3)", None, None])
    other = book.create_sheet("메모")
    other.append(["메모"])
    other.append(["두 번째 시트"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _with_cached_values(data: bytes, values: dict[str, str]) -> bytes:
    """``data`` with the formula cells' saved values filled in, as Excel would have saved."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                text = content.decode()
                for ref, value in values.items():
                    cell = re.compile(rf'<c r="{ref}"([^>]*)><f>([^<]*)</f><v\s*/?>(</v>)?')
                    kind = ' t="e"' if value.startswith("#") else ""
                    text, n = cell.subn(rf'<c r="{ref}"\1{kind}><f>\2</f><v>{value}</v>', text)
                    assert n == 1, ref
                content = text.encode()
            target.writestr(info, content)
    return out.getvalue()


def test_xlsx_reads_the_first_sheet_with_saved_formula_values() -> None:
    data = _with_cached_values(_workbook(), {"D2": "3600", "D3": "1", "A4": "#DIV/0!"})
    table = read_table(data, name="매출.xlsx")
    assert (table.format, table.sheet, table.sheets) == ("xlsx", "매출", ("매출", "메모"))
    assert table.columns == ("품목", "수량", "단가", "합계", "날짜", "확인")
    assert table.rows[0] == ["사과", "3", "1200", "3600", "2024-01-05", "true"]
    assert table.rows[1] == ["배", "2", "0.5", "1", "2024-01-06T13:30:00", "false"]
    assert table.rows[2] == ["#DIV/0!", None, None, None, None, None]  # D4 has no saved value
    assert any(n.startswith("1 formula cell has no saved value") for n in table.notes)


def test_xlsx_formulas_never_computed_read_as_empty_and_are_reported() -> None:
    table = read_table(_workbook())
    assert table.rows[0][3] is None and table.rows[1][3] is None
    assert len(table.rows) == 2  # row 4 held only formulas without values: nothing to read
    assert any(n.startswith("4 formula cells have no saved value") for n in table.notes)
    computed = read_table(_with_cached_values(_workbook(), {"D2": "3600", "D3": "1"}))
    assert any(n.startswith("2 formula cells") for n in computed.notes)


def test_xlsx_sheets_by_name_or_index_and_a_missing_one_is_explained() -> None:
    data = _workbook()
    assert read_table(data, sheet="메모").rows == [["두 번째 시트"]]
    assert read_table(data, sheet=1).sheet == "메모"
    with pytest.raises(InvalidInput, match="no sheet 'Sheet1'; its sheets are '매출', '메모'"):
        read_table(data, sheet="Sheet1")
    with pytest.raises(InvalidInput, match="no sheet number 5"):
        read_table(data, sheet=5)


def test_old_xls_is_refused_with_what_to_do() -> None:
    xls = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    with pytest.raises(UnsupportedMediaType) as e:
        read_table(xls, name="통계.xls")
    assert e.value.status == 415 and "save it as .xlsx or as CSV" in str(e.value)


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, content in files.items():
            z.writestr(name, content)
    return out.getvalue()


def test_zips_that_are_not_workbooks_are_refused_by_kind() -> None:
    with pytest.raises(UnsupportedMediaType, match="a zip archive, not an Excel workbook"):
        read_table(_zip({"a.csv": b"a\n1\n"}))
    docx = _zip({"[Content_Types].xml": b"...wordprocessingml.document.main+xml..."})
    with pytest.raises(UnsupportedMediaType, match="a Word document"):
        read_table(docx)
    ods = _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"})
    with pytest.raises(UnsupportedMediaType, match=r"OpenDocument spreadsheet \(\.ods\)"):
        read_table(ods)


def test_a_damaged_workbook_is_a_422() -> None:
    data = _with_cached_values(_workbook(), {})
    broken = _zip({"[Content_Types].xml": zipfile.ZipFile(io.BytesIO(data)).read(
        "[Content_Types].xml")})  # fmt: skip
    with pytest.raises(InvalidInput, match=r"cannot be read|damaged"):
        read_table(broken)


def test_a_workbook_that_unpacks_to_too_much_is_refused_before_parsing() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", b"spreadsheetml.sheet.main+xml")
        z.writestr("xl/worksheets/sheet1.xml", b" " * (80 << 20))  # 80 MiB of spaces
    with pytest.raises(PayloadTooLarge, match=r"unpacks to 80\.0 MiB"):
        read_table(out.getvalue())


@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("data", [b",", b",,\nx,y\n", b"\t\t\n"])
def test_a_first_row_of_only_delimiters_is_refused(data: bytes, header: bool) -> None:
    # b"," once read as a table of no columns with one row of no cells (an IndexError later)
    with pytest.raises(InvalidInput, match="line 1 holds only empty cells"):
        read_table(data, name="t.csv", header=header)
