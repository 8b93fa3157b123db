"""Card-sales files (VAN, card-sales portal and POS exports) read into ``import_card_sales`` rows.

CONNECTORS.md §3 defines the canonical CSV; Korean headers from the portals and POS exports are
mapped onto it. Accepted: CSV in UTF-8 (with or without BOM), CP949/EUC-KR or UTF-16 (comma,
tab or semicolon separated), .xlsx (recognised by content, read with openpyxl in read-only
mode) and the HTML tables some portals save with an .xls name. The header may sit below a
title block and may span two rows (a merged group label above the column names). Total rows
(합계/소계/총계), rows with no date and declined transactions are skipped and counted; any
other row that cannot be read rejects the whole file with the file's row number and the
column as its header writes it. Full card numbers are masked before they leave this module.
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser
import io
import math
import re
from typing import Any, Final
import unicodedata
import zipfile
from zoneinfo import ZoneInfo

from ..errors import ValidationError
from ..fields import EARLIEST_YEAR, LATEST_YEAR, MAX_MAGNITUDE, check_text, to_iso
from ..privacy import mask_card_number

KOREA: Final = ZoneInfo("Asia/Seoul")
_HEADER_SCAN: Final = 50  # rows searched for the header (title blocks sit above it)

# canonical key -> the headers that name it, best first (normalised by _norm before use)
ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "approved_at": ("approved_at", "승인일시", "거래일시", "매출일시", "결제일시"),
    "approved_date": ("approved_date", "승인일자", "거래일자", "매출일자", "결제일자", "승인일"),
    "approved_time": ("approved_time", "승인시각", "승인시간", "거래시각", "거래시간", "매출시간"),
    # the POS's business day: the date of last resort
    "business_date": ("영업일자",),
    "approval_no": ("approval_no", "승인번호", "매출번호", "거래번호"),
    "amount": ("amount", "승인금액", "거래금액", "매출금액", "이용금액", "결제금액", "금액"),
    "status": (
        "status",
        "승인구분",
        "취소여부",
        "거래구분",
        "상태",
        "거래상태",
        "승인상태",
        "처리구분",
    ),
    "issuer": ("issuer", "카드사", "발급사", "카드사명", "발급사명", "발급카드사"),
    "acquirer": ("acquirer", "매입사", "매입사명", "매입카드사"),
    "card_no_masked": ("card_no_masked", "카드번호"),
    "installment_months": (
        "installment_months",
        "할부개월수",
        "할부개월",
        "할부",
        "할부기간",
        "할부구분",
    ),
    "terminal_id": ("terminal_id", "단말기번호", "포스번호", "단말번호", "단말기id", "catid"),
    "merchant_no": ("merchant_no", "가맹점번호"),
    "original_approved_date": ("original_approved_date", "원거래일자", "원승인일자"),
    "vat": ("vat", "부가세", "부가가치세"),
    "service_charge": ("service_charge", "봉사료"),
    "source": ("source",),
}
# how a missing required column is named in the error
_REQUIRED_NAMES: Final = {
    "approved_at": "승인일시 (approved_at)",
    "approval_no": "승인번호 (approval_no)",
    "amount": "승인금액 (amount)",
}
_DATE_KEYS: Final = ("approved_at", "approved_date", "business_date")
_TEXT_KEYS: Final = ("issuer", "acquirer", "terminal_id", "merchant_no", "source")
_MONEY_KEYS: Final = ("vat", "service_charge")

_APPROVED: Final = frozenset(
    {"승인", "정상", "approved", "approval", "approve", "승인완료", "정상승인", "n", "매출", "결제"}
)
_CANCELLED: Final = frozenset(
    {"취소", "y", "cancelled", "canceled", "cancel", "취소승인", "승인취소", "취소완료", "매출취소"}
)
_DECLINED: Final = frozenset({"거절", "실패", "오류", "declined", "failed", "error", "rejected"})
_TOTAL_PREFIXES: Final = ("합계", "소계", "총계", "누계")
_TOTAL_WORDS: Final = frozenset({"계", "total", "subtotal", "grandtotal", "sum"})
_TOTAL_FIRST: Final = frozenset("tTsSgG")
_TOTAL_HINT: Final = re.compile(r"(?i)total|sum")

_EXPECT_MOMENT: Final = "YYYY-MM-DD HH:MM:SS"
_EXPECT_DATE: Final = "YYYY-MM-DD"
_EXPECT_TIME: Final = "HH:MM:SS"
_EXPECT_MONEY: Final = "whole number"
_EXPECT_STATUS: Final = "승인/취소 (approved/cancelled)"
_EXPECT_APPROVAL: Final = "승인번호 (approval number)"
_EXPECT_TEXT: Final = "text (no NUL, whole Unicode, at most 10,000 characters)"

_DATE_RE: Final = re.compile(
    r"(?P<y>\d{4}|\d{2})\s*[-./년]\s*(?P<m>\d{1,2})\s*[-./월]\s*(?P<d>\d{1,2})\s*일?\.?"
    r"(?:(?:\s+|T)(?P<time>.+))?"
)
_COMPACT_RE: Final = re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:[ T]?(?P<time>\d{4,6}))?")
_TIME_RE: Final = re.compile(
    r"(?:(?P<pre>오전|오후|am|pm)\s*)?(?P<h>\d{1,2}):?(?P<mi>\d{2})(?::?(?P<s>\d{2})"
    r"(?:\.(?P<f>\d{1,6})\d*)?)?\s*(?P<post>am|pm)?\s*(?P<tz>z|[+-]\d{2}:?\d{2})?"
)
_CARD_RUN: Final = re.compile(r"\d[\d -]{10,}\d")
_EXCEL_EPOCH: Final = datetime(1899, 12, 30)
_MAX_MONEY: Final = MAX_MAGNITUDE  # won; the store's own bound: anything larger is not a card sale
MAX_APPROVAL_NO: Final = 100  # what import_card_sales accepts


@dataclass(frozen=True, kw_only=True)
class CardSalesFile:
    """What a file holds: ``import_card_sales`` rows and how many rows were skipped."""

    rows: list[dict[str, Any]]
    skipped: int


def read_card_sales(data: bytes, file_name: str, *, tz: tzinfo = KOREA) -> CardSalesFile:
    """Read a card-sales file into ``import_card_sales`` rows.

    Raises ValidationError ``card_sales_unreadable``, ``card_sales_missing_column``,
    ``card_sales_invalid_value`` (row number and column as in the file) or
    ``card_sales_no_rows``.
    """
    tables = _read_tables(data, file_name)
    first_error: ValidationError | None = None
    for table in tables:
        try:
            return _read_table(table, file_name, tz)
        except ValidationError as err:
            if err.translation_key not in ("card_sales_missing_column", "card_sales_no_rows"):
                raise
            first_error = first_error or err
    assert first_error is not None  # _read_tables returns at least one table
    raise first_error


# --- files -> tables of cells -----------------------------------------------------------


def _unreadable(file_name: str, error: str) -> ValidationError:
    return ValidationError("card_sales_unreadable", file=file_name, error=error)


def _read_tables(data: bytes, file_name: str) -> list[list[list[Any]]]:
    """The file's tables (one per worksheet; one for a CSV), each a list of rows of cells."""
    if data.startswith(b"PK\x03\x04"):
        return _xlsx_tables(data, file_name)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _unreadable(
            file_name, "Excel 97-2003 (.xls) files are not supported; save it as .xlsx or CSV"
        )
    text = _decode(data, file_name)
    head = text.lstrip()[:2048].casefold()
    if head.startswith("<") and "<table" in text[:200_000].casefold():
        return [_html_table(text, file_name)]
    return [_csv_table(text, file_name)]


def _decode(data: bytes, file_name: str) -> str:
    if data.startswith(codecs.BOM_UTF8):
        encodings: tuple[str, ...] = ("utf-8-sig",)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8", "cp949")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _unreadable(file_name, "the text is neither UTF-8 nor CP949 (EUC-KR)")


def _csv_table(text: str, file_name: str) -> list[list[Any]]:
    sample = [line for line in text[:65_536].splitlines()[:20] if line.strip()]
    counts = {sep: sum(line.count(sep) for line in sample) for sep in (",", "\t", ";")}
    delimiter = (
        ","
        if counts[","] >= max(counts["\t"], counts[";"])
        else max(counts, key=counts.__getitem__)
    )
    try:
        return [list(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as err:
        raise _unreadable(file_name, f"not a CSV file ({err})") from None


def _xlsx_tables(data: bytes, file_name: str) -> list[list[list[Any]]]:
    # only .xlsx files need it; openpyxl ships no type information
    from openpyxl import load_workbook  # type: ignore[import-untyped]  # noqa: PLC0415

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as err:
        raise _unreadable(file_name, f"a damaged .xlsx file ({err})") from None
    except Exception as err:  # a third-party parser fed an untrusted file
        raise _unreadable(file_name, f"not an .xlsx workbook ({type(err).__name__})") from None
    try:
        tables = []
        for sheet in workbook.worksheets:
            if hasattr(sheet, "reset_dimensions"):
                sheet.reset_dimensions()  # exports often carry wrong dimensions
            tables.append([list(row) for row in sheet.iter_rows(values_only=True)])
    except Exception as err:  # as above
        raise _unreadable(file_name, f"a damaged .xlsx file ({type(err).__name__})") from None
    finally:
        workbook.close()
    if not tables:
        raise _unreadable(file_name, "the workbook has no worksheet")
    return tables


class _TableParser(HTMLParser):
    """The cells of the first table of an HTML page (colspans padded like merged cells)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[Any]] = []
        self._row: list[Any] | None = None
        self._cell: list[str] | None = None
        self._span = 1
        self._depth = 0
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done:
            return
        if tag == "table":
            self._depth += 1
        elif self._depth == 1 and tag == "tr":
            self._close_row()
            self._row = []
        elif self._depth == 1 and tag in ("td", "th"):
            self._close_cell()
            if self._row is None:
                self._row = []
            self._cell = []
            span = dict(attrs).get("colspan") or "1"
            self._span = min(int(span), 100) if span.strip().isdecimal() else 1
        elif self._cell is not None and tag == "br":
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self._done:
            return
        if tag in ("td", "th"):
            self._close_cell()
        elif tag == "tr":
            self._close_row()
        elif tag == "table" and self._depth:
            self._depth -= 1
            if self._depth == 0:
                self._close_row()
                self._done = True

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def _close_cell(self) -> None:
        if self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._row.extend([""] * (self._span - 1))
        self._cell = None

    def finish(self) -> None:
        """Keep a last row whose tags were never closed."""
        self._close_row()

    def _close_row(self) -> None:
        self._close_cell()
        if self._row is not None:
            self.rows.append(self._row)
        self._row = None


def _html_table(text: str, file_name: str) -> list[list[Any]]:
    parser = _TableParser()
    try:
        parser.feed(text)
        parser.close()
        parser.finish()  # an unterminated last row
    except (ValueError, AssertionError) as err:
        raise _unreadable(file_name, f"an HTML page without a readable table ({err})") from None
    return parser.rows


# --- header -----------------------------------------------------------------------------


def _norm(value: Any) -> str:
    """A header as compared: NFKC, casefolded, no bracketed notes, letters and digits only."""
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    text = re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", text)
    return "".join(ch for ch in text if ch.isalnum())


_LOOKUP: Final[dict[str, tuple[str, int]]] = {
    _norm(alias): (key, rank)
    for key, aliases in ALIASES.items()
    for rank, alias in enumerate(aliases)
}


@dataclass(frozen=True)
class _Header:
    columns: dict[str, tuple[int, str]]  # key -> (index, the header as written)
    data_start: int  # index of the first row after the header

    @property
    def valid(self) -> bool:
        return (
            "approval_no" in self.columns
            and "amount" in self.columns
            and any(key in self.columns for key in _DATE_KEYS)
        )


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _map_header(names: list[list[tuple[str, str]]], data_start: int) -> _Header:
    """``names``: per column, its candidate names (best first), each with the label that an
    error message shows for it."""
    best: dict[str, tuple[int, int, str]] = {}
    for index, candidates in enumerate(names):
        for candidate, label in candidates:
            found = _LOOKUP.get(_norm(candidate))
            if found is None:
                continue
            key, rank = found
            if key not in best or rank < best[key][0]:
                best[key] = (rank, index, label)
            break
    return _Header({key: (index, label) for key, (_, index, label) in best.items()}, data_start)


def _single_header(table: list[list[Any]], i: int) -> _Header:
    names = [[(text, text)] for text in (_cell_text(cell) for cell in table[i])]
    return _map_header(names, i + 1)


def _double_header(table: list[list[Any]], i: int) -> _Header:
    top = [_cell_text(cell) for cell in table[i]]
    bottom = [_cell_text(cell) for cell in table[i + 1]]
    names: list[list[tuple[str, str]]] = []
    group = ""
    for index in range(max(len(top), len(bottom))):
        above = top[index] if index < len(top) else ""
        below = bottom[index] if index < len(bottom) else ""
        group = above or group
        if not below:
            names.append([(above, above)])
        else:
            names.append([(group + below, f"{group} {below}"), (below, below), (above, above)])
    return _map_header(names, i + 2)


def _find_header(table: list[list[Any]], file_name: str) -> _Header:
    best: _Header | None = None
    for i in range(min(len(table), _HEADER_SCAN)):
        single = _single_header(table, i)
        double = _double_header(table, i) if i + 1 < len(table) else None
        if double is not None and double.valid and len(double.columns) > len(single.columns):
            return double
        if single.valid:
            return single
        for candidate in (single, double):
            if candidate is not None and (
                best is None or len(candidate.columns) > len(best.columns)
            ):
                best = candidate
    columns = best.columns if best is not None else {}
    if not any(key in columns for key in _DATE_KEYS):
        missing = "approved_at"
    else:
        missing = "approval_no" if "approval_no" not in columns else "amount"
    raise ValidationError(
        "card_sales_missing_column", file=file_name, column=_REQUIRED_NAMES[missing]
    )


# --- rows -------------------------------------------------------------------------------


class _RowError(Exception):
    """A cell that cannot be read (becomes card_sales_invalid_value unless a total row)."""

    def __init__(self, key: str, value: Any, expected: str) -> None:
        super().__init__(key)
        self.key = key
        self.value = value
        self.expected = expected


class _Declined(Exception):
    """A declined transaction: no sale to import."""


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _letters(value: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", value).casefold() if ch.isalnum())


def _is_total(row: list[Any]) -> bool:
    """A total line: a cell saying 합계/소계/총계/누계 (also "2025-03-02 소계") or Total."""
    for cell in row:
        if not isinstance(cell, str):
            continue
        if "계" in cell:  # every Korean total word ends in 계: a cheap first look
            text = _letters(cell)
            if text == "계" or any(word in text for word in _TOTAL_PREFIXES):
                return True
        elif cell.lstrip(" [(<")[:1] in _TOTAL_FIRST and _letters(cell) in _TOTAL_WORDS:
            return True
    return False


def _read_table(table: list[list[Any]], file_name: str, tz: tzinfo) -> CardSalesFile:
    if not any(not _blank(cell) for row in table for cell in row):
        raise ValidationError("card_sales_no_rows", file=file_name)
    header = _find_header(table, file_name)
    reader = _RowReader(header, tz)
    rows: list[dict[str, Any]] = []
    skipped = 0
    for index in range(header.data_start, len(table)):
        cells = table[index]
        try:
            joined = "\x1f".join(cells)  # a CSV row: text only
            blank = not joined.replace("\x1f", "").strip()
        except TypeError:  # a worksheet row: numbers, dates, None
            joined = "\x1f".join(cell for cell in cells if isinstance(cell, str))
            blank = all(_blank(cell) for cell in cells)
        if blank:
            continue
        # a cheap look for a total word before the exact one
        if ("계" in joined or _TOTAL_HINT.search(joined)) and _is_total(cells):
            skipped += 1
            continue
        try:
            row = reader.read(cells)
        except _Declined:
            skipped += 1
            continue
        except _RowError as err:
            raise ValidationError(
                "card_sales_invalid_value",
                row=index + 1,
                column=header.columns[err.key][1] or err.key,
                value=_shown(err.value),
                expected=err.expected,
            ) from None
        if row is None:
            skipped += 1
            continue
        row["row"] = index + 1
        rows.append(row)
    if not rows:
        raise ValidationError("card_sales_no_rows", file=file_name)
    return CardSalesFile(rows=rows, skipped=skipped)


def _shown(value: Any) -> str:
    """A cell as an error message may show it: short, card numbers masked."""
    text = _cell_text(value)
    text = _CARD_RUN.sub(lambda match: mask_card_number(match.group()), text)
    return text if len(text) <= 60 else text[:57] + "..."


class _RowReader:
    """Turns one data row into import_card_sales row params."""

    def __init__(self, header: _Header, tz: tzinfo) -> None:
        self.tz = tz
        self.index = [(key, index) for key, (index, _) in header.columns.items()]
        self._dates: dict[Any, date | datetime] = {}
        self._statuses: dict[Any, str | None] = {}
        self._months: dict[Any, int | None] = {}

    def read(self, cells: list[Any]) -> dict[str, Any] | None:
        """The row's params; None for a row with no date."""
        count = len(cells)
        values: dict[str, Any] = {}
        for key, index in self.index:
            if index < count:
                value = cells[index]
                if isinstance(value, str):
                    try:  # text the store could keep
                        check_text(key, value)
                    except ValidationError:
                        raise _RowError(key, value, _EXPECT_TEXT) from None
                if value is not None and (not isinstance(value, str) or value.strip()):
                    values[key] = value
        found = self._moment(values)
        if found is None:
            return None
        date_key, moment = found
        if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:  # what the import would refuse
            raise _RowError(date_key, values.get(date_key), _EXPECT_MOMENT)
        try:
            approved_at = to_iso(moment)
        except (OverflowError, ValueError):
            raise _RowError(date_key, values.get(date_key), _EXPECT_MOMENT) from None
        status = self._status(values.get("status"))
        raw_amount = values.get("amount")
        amount = _money(raw_amount)
        if amount is None:
            raise _RowError("amount", raw_amount, _EXPECT_MONEY)
        if amount < 0:
            status, amount = "cancelled", -amount
        approval = _code_text(values.get("approval_no"))
        if not approval or len(approval) > MAX_APPROVAL_NO:
            raise _RowError("approval_no", values.get("approval_no"), _EXPECT_APPROVAL)
        row: dict[str, Any] = {
            "approved_at": approved_at,
            "approval_no": approval,
            "amount": amount,
            "status": status or "approved",
        }
        for key in _TEXT_KEYS:
            if key in values and (text := _code_text(values[key])) != "":
                row[key] = text
        if "card_no_masked" in values and (number := _code_text(values["card_no_masked"])):
            row["card_no_masked"] = mask_card_number(number)
        if "installment_months" in values:
            months = self._installments(values["installment_months"])
            if months is not None:
                row["installment_months"] = months
        for key in _MONEY_KEYS:
            if key in values:
                money = _money(values[key])
                if money is None:
                    raise _RowError(key, values[key], _EXPECT_MONEY)
                row[key] = abs(money)
        original = values.get("original_approved_date")
        if original is not None and (text := self._original_date(original)) != "":
            row["original_approved_date"] = text
        return row

    def _moment(self, values: dict[str, Any]) -> tuple[str, datetime] | None:
        """The cell's key and the aware time of the sale; None for a row with no date."""
        for key in _DATE_KEYS:
            value = values.get(key)
            if value is None:
                continue
            parsed = self._date(value, key)
            clock = values.get("approved_time")
            if isinstance(parsed, datetime) and (key == "approved_at" or clock is None):
                moment = parsed
            else:
                day = parsed.date() if isinstance(parsed, datetime) else parsed
                moment = datetime.combine(day, _time(clock) if clock is not None else time())
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=self.tz)
            return key, moment
        return None

    def _date(self, value: Any, key: str) -> date | datetime:
        cached = self._dates.get(value) if isinstance(value, str) else None
        if cached is not None:
            return cached
        parsed = _moment_of(value)
        if parsed is None:
            raise _RowError(key, value, _EXPECT_MOMENT if key == "approved_at" else _EXPECT_DATE)
        if isinstance(value, str) and not isinstance(parsed, datetime) and len(self._dates) < 4096:
            self._dates[value] = parsed
        return parsed

    def _status(self, value: Any) -> str | None:
        """approved / cancelled / None (not written); raises _Declined for a declined one."""
        if value is None:
            return None
        cacheable = isinstance(value, str)
        known = self._statuses.get(value, _UNSEEN) if cacheable else _UNSEEN
        if known is _UNSEEN:
            known = _status_of(value)
            if cacheable and len(self._statuses) < 256:
                self._statuses[value] = known
        if known is None:
            raise _Declined
        if known == "":
            raise _RowError("status", value, _EXPECT_STATUS)
        return str(known)

    def _installments(self, value: Any) -> int | None:
        if not isinstance(value, str) or len(self._months) >= 256:
            return _months(value)
        if value not in self._months:
            self._months[value] = _months(value)
        return self._months[value]

    def _original_date(self, value: Any) -> str:
        parsed = _moment_of(value)
        if parsed is None:
            return _code_text(value)
        return (parsed.date() if isinstance(parsed, datetime) else parsed).isoformat()


_UNSEEN: Final[Any] = object()


def _status_of(value: Any) -> str | None:
    """approved, cancelled, None for a declined transaction, "" when unreadable."""
    text = _norm(value)
    if text in _APPROVED:
        return "approved"
    if text in _CANCELLED or "취소" in text:
        return "cancelled"
    if text in _DECLINED or "거절" in text or "실패" in text:
        return None
    if "승인" in text or "정상" in text:
        return "approved"
    return ""


def _code_text(value: Any) -> str:
    """An identifier as written (leading zeros kept; Excel's ="0012" and '0012 unwrapped)."""
    text = _cell_text(value)
    if text.startswith('="') and text.endswith('"'):
        text = text[2:-1]
    elif text.startswith("'"):
        text = text[1:]
    return text.strip()


def _money(value: Any) -> int | None:
    """Whole won, negative for a cancel; None when the cell cannot be read."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value - round(value)) >= 1e-6:
            return None
        value = round(value)
    if isinstance(value, int):
        return value if abs(value) < _MAX_MONEY else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isascii():
        if text.isdigit():
            return int(text) if len(text) <= 15 else None
        plain = text.replace(",", "")
        if plain.isdigit():
            return int(plain) if len(plain) <= 15 else None
        if plain[:1] == "-" and plain[1:].isdigit():
            return -int(plain[1:]) if len(plain) <= 16 else None
    else:
        text = unicodedata.normalize("NFKC", text)
    for noise in (",", "원", "₩", "\\", "KRW", "krw", " "):
        text = text.replace(noise, "")
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1]
    if text[:1] in ("-", "\u2212", "△", "▲"):
        negative, text = not negative, text[1:]
    elif text.endswith("-"):
        negative, text = not negative, text[:-1]
    elif text.startswith("+"):
        text = text[1:]
    if len(text) > 24:
        return None
    if text.isascii() and text.isdigit():
        number = int(text)
    else:
        try:
            exact = Decimal(text)
        except InvalidOperation:
            return None
        if not exact.is_finite() or exact != exact.to_integral_value() or "e" in text.lower():
            return None
        number = int(exact)
    if number >= _MAX_MONEY:
        return None
    return -number if negative else number


def _months(value: Any) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        months = _money(value)
        if months is None or months < 0:
            raise _RowError("installment_months", value, _EXPECT_MONEY)
        return months
    text = _norm(value)
    if text in ("일시불", "일시", "0", "00", "lumpsum"):
        return 0
    digits = re.match(r"(\d{1,3})(개월|월|m|months?)?$", text)
    if digits is not None and digits.group(1).isascii():
        return int(digits.group(1))
    if text in ("할부", ""):
        return None  # an installment of unknown length
    raise _RowError("installment_months", value, _EXPECT_MONEY)


def _moment_of(value: Any) -> date | datetime | None:
    """A date or date and time from a cell; None when it is not one."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, int) and 19000101 <= value <= 29991231:
            return _moment_of(str(value))
        if 1 <= value < 2958466:  # an Excel serial date left unformatted
            try:
                return _EXCEL_EPOCH + timedelta(days=float(value))
            except OverflowError:
                return None
        return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isascii() and text[:4].isdigit():
        try:  # ISO 8601, in C: most exports write 2025-03-01 09:15:00
            parsed = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return parsed.date() if len(text) <= 10 else parsed
    else:
        text = unicodedata.normalize("NFKC", text)
    match = _COMPACT_RE.fullmatch(text) or _DATE_RE.fullmatch(text)
    if match is None:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed
    year = int(match["y"])
    if year < 100:
        year += 2000
    try:
        day = date(year, int(match["m"]), int(match["d"]))
    except ValueError:
        return None
    if match["time"] is None:
        return day
    try:
        clock = _time(match["time"])
    except _RowError:
        return None
    return datetime.combine(day, clock)


def _time(value: Any) -> time:
    """A time of day from a cell (raises _RowError when it is not one)."""
    if isinstance(value, datetime):
        return value.timetz()
    if isinstance(value, time):
        return value
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        if 0 <= seconds < 86400:
            return time(seconds // 3600, seconds // 60 % 60, seconds % 60)
    elif isinstance(value, float) and not isinstance(value, bool) and 0 <= value < 1:
        seconds = round(value * 86400) % 86400  # an Excel fraction of a day
        return time(seconds // 3600, seconds // 60 % 60, seconds % 60)
    elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 235959:
        return _time(f"{value:06d}")
    elif isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip().casefold()
        match = _TIME_RE.fullmatch(text)
        if match is not None:
            hour, minute = int(match["h"]), int(match["mi"])
            second = int(match["s"] or 0)
            micro = int((match["f"] or "0").ljust(6, "0"))
            half = match["pre"] or match["post"]
            if half in ("오후", "pm") and hour < 12:
                hour += 12
            elif half in ("오전", "am") and hour == 12:
                hour = 0
            if hour < 24 and minute < 60 and second < 60:
                return time(hour, minute, second, micro, tzinfo=_zone(match["tz"], value))
    raise _RowError("approved_time", value, _EXPECT_TIME)


def _zone(text: str | None, value: Any) -> tzinfo | None:
    """The offset written after a time (None when there is none)."""
    if not text:
        return None
    if text == "z":
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise _RowError("approved_time", value, _EXPECT_TIME)
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)
