"""Hostile sample files for the import page: built in memory, small on the wire."""

import io
import zipfile

from openpyxl import Workbook


def xlsx(rows) -> bytes:
    """A workbook whose first sheet holds ``rows``."""
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _replace(data: bytes, members: dict) -> bytes:
    """The workbook ``data`` with each member named in ``members`` written from its
    chunks (bytes), or, for a callable, from what it makes of the old content."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            new = members.get(info.filename)
            if new is None:
                target.writestr(info, source.read(info.filename))
            elif callable(new):
                target.writestr(info, new(source.read(info.filename)))
        for name, new in members.items():
            if callable(new):
                continue
            with target.open(name, "w", force_zip64=True) as member:
                for chunk in new:
                    member.write(chunk)
    return out.getvalue()


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_SHARED = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
)
_RELATION = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
)


def shared_strings_bomb(strings: int = 200_000, length: int = 1000) -> bytes:
    """About 400 KB whose shared strings expand to ``strings`` strings of ``length``
    characters (200 MB) when a reader loads them, as openpyxl does before any row."""
    data = xlsx([["name"], ["x"]])
    item = b"<si><t>" + b"a" * length + b"</t></si>"

    def strings_xml():
        yield f'<sst xmlns="{_MAIN}">'.encode()
        for _ in range(strings // 1000):
            yield item * 1000
        yield b"</sst>"

    sheet = (
        f'<worksheet xmlns="{_MAIN}"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c></row>'
        '<row r="2"><c r="A2" t="s"><v>0</v></c></row></sheetData></worksheet>'
    ).encode()
    types = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_SHARED}"/>'
    relation = (
        f'<Relationship Id="rIdStrings" Type="{_RELATION}" Target="sharedStrings.xml"/>'
    )
    return _replace(
        data,
        {
            "[Content_Types].xml": lambda x: x.replace(
                b"</Types>", types.encode() + b"</Types>"
            ),
            "xl/_rels/workbook.xml.rels": lambda x: x.replace(
                b"</Relationships>", relation.encode() + b"</Relationships>"
            ),
            "xl/worksheets/sheet1.xml": lambda x: sheet,
            "xl/sharedStrings.xml": strings_xml(),
        },
    )


def blank_rows(rows: int = 1_000_000) -> bytes:
    """A header, one row of data, then ``rows`` rows with one empty cell each."""
    data = xlsx([["name"], ["x"]])

    def chunks():
        yield (
            f'<worksheet xmlns="{_MAIN}"><dimension ref="A1:XFD1048576"/><sheetData>'
            '<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c></row>'
            '<row r="2"><c r="A2" t="inlineStr"><is><t>x</t></is></c></row>'
        ).encode()
        for start in range(3, rows + 3, 10_000):
            yield b"".join(
                b'<row r="%d"><c r="A%d"/></row>' % (n, n)
                for n in range(start, min(start + 10_000, rows + 3))
            )
        yield b"</sheetData></worksheet>"

    return _replace(data, {"xl/worksheets/sheet1.xml": chunks()})


def broken_xml() -> bytes:
    """A workbook whose sheet is not well-formed XML."""
    data = xlsx([["name"], ["x"]])
    return _replace(data, {"xl/worksheets/sheet1.xml": lambda x: x[: len(x) // 2]})
