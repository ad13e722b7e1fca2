"""Import a sample: inference on real-looking files, the bad files, and the admin page
where staff review the proposal before anything is saved."""

import codecs
import datetime as dt
import json
import tracemalloc
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ingestion import examples
from ingestion.validation import validate_data
from mappings.importing import (
    SampleError,
    fields_propose,
    max_upload_bytes,
    sample_read,
    sample_size_check,
    snake_case,
)
from mappings.models import (
    ACTIVE_NEEDS_HARD_ID,
    FIELD_RULES,
    DataPointType,
    FieldMapping,
    MappingVersion,
)
from mappings.spec import spec_for_customer
from tests.harness.admin import as_submitted

from .hostile_samples import blank_rows, broken_xml, shared_strings_bomb, xlsx

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def propose(name, data=None, **options):
    data = (SAMPLES / name).read_bytes() if data is None else data
    return {
        p.source_field: p
        for p in fields_propose(sample_read(name=name, data=data), **options)
    }


# Inference ---------------------------------------------------------------------------


def test_reads_the_reference_profiles_as_csv():
    fields = propose("reference_profiles.csv")
    assert list(fields) == list(examples.PROFILE["data"])
    assert (
        fields["customer_id"].data_type == "integer" and fields["customer_id"].hard_id
    )
    assert fields["email"].data_type == "email"
    assert fields["email"].optional and fields["email"].secondary_id
    assert fields["age"].data_type == "integer" and fields["age"].optional
    assert (fields["is_member"].data_type, fields["is_member"].format) == (
        "boolean",
        "Yes/No",
    )
    assert fields["postal_code"].data_type == "string"  # "111 17" is not a number
    assert not fields["first_name"].optional
    assert fields["city"].examples == ("Stockholm", "Göteborg", "Malmö")


def test_reads_the_reference_events_as_json_lines_of_api_bodies():
    fields = propose("reference_purchases.jsonl", category="event")
    assert fields["event_id"].hard_id and fields["event_id"].data_type == "string"
    assert fields["event_datetime"].data_type == "datetime"
    assert fields["event_datetime"].format == "YYYY-MM-DD HH:MM:SS"
    assert fields["total_purchase_amount"].data_type == "decimal"
    # null in one line and missing from another: optional either way
    assert fields["total_purchase_discounted_amount"].optional
    assert fields["online_purchase"].format == "Yes/No"
    assert fields["Member_points_before_purchase"].cdp_field == (
        "member_points_before_purchase"
    )
    assert not fields["customer_id"].secondary_id  # secondary ids are for profiles


def test_reads_the_reference_inventory_as_xlsx_with_native_cells():
    data = xlsx(
        [
            [*examples.INVENTORY["data"], "price", "in_stock", "launched"],
            [
                "AB-192910",
                "Product",
                dt.datetime(2020, 12, 3, 17, 23, 21),
                "Milk",
                "Dairy Products",
                "Cow Milk",
                "Milky",
                "1.0L",
                "Light",
                12.5,
                True,
                dt.datetime(2020, 1, 1),
            ],
            [
                "AB-192911",
                "Product",
                dt.datetime(2020, 12, 4, 8, 0, 0),
                "Oat milk",
                "Dairy Products",
                None,
                "Oaty",
                "1.0L",
                "Organic",
                19,
                False,
                dt.datetime(2021, 5, 1),
            ],
        ]
    )
    fields = propose("catalog.xlsx", data, category="inventory")
    assert fields["item_id"].hard_id
    assert fields["item_modified"].data_type == "datetime"
    assert fields["item_modified"].format == "YYYY-MM-DD HH:MM:SS"
    assert fields["subcategory"].optional
    assert fields["size"].data_type == "string"
    assert fields["price"].data_type == "decimal"
    assert (fields["in_stock"].data_type, fields["in_stock"].format) == ("boolean", "")
    assert fields["launched"].data_type == "date"  # Excel dates are midnight datetimes


def test_reads_a_swedish_file_with_semicolons_bom_ja_nej_and_decimal_commas():
    sample = sample_read(
        name="svenska_medlemmar.csv",
        data=(SAMPLES / "svenska_medlemmar.csv").read_bytes(),
    )
    assert sample.kind == "CSV (; delimited)"
    assert sample.columns[0] == "Medlemsnummer"  # no BOM glued to the first name
    fields = {p.source_field: p for p in fields_propose(sample)}
    assert fields["Medlemsnummer"].hard_id
    assert (fields["Medlem"].data_type, fields["Medlem"].format) == (
        "boolean",
        "Ja/Nej",
    )
    assert fields["Belopp"].data_type == "decimal"
    assert "decimal comma" in fields["Belopp"].note
    assert fields["E-post"].cdp_field == "e_post" and fields["E-post"].optional
    assert fields["Förnamn"].cdp_field == "fornamn"
    assert fields["Senaste köp"].cdp_field == "senaste_kop"


def test_reads_dates_in_two_patterns():
    fields = propose("svenska_medlemmar.csv")
    assert fields["Senaste köp"].data_type == "datetime"
    assert fields["Senaste köp"].format == "DD.MM.YYYY HH:MM"
    assert fields["Senaste köp"].optional  # one member has bought nothing yet
    assert fields["Registrerad"].format == "YYYY-MM-DD HH:MM:SS"
    assert fields["Födelsedag"].data_type == "date"


def test_a_column_mixing_two_date_patterns_stays_a_string():
    data = b"id,seen\n1,2021-03-18 11:35\n2,18.03.2021 11:35\n"
    assert propose("mixed.csv", data)["seen"].data_type == "string"


def test_leading_zeros_keep_a_column_text():
    data = b"id,phone\n1,0701234567\n2,0707654321\n"
    phone = propose("phones.csv", data)["phone"]
    assert phone.data_type == "string" and "leading zeros" in phone.note


def test_prefers_an_id_like_column_as_hard_id():
    data = b"name,email,member_no\nAda,ada@fake.com,7\nBo,bo@fake.com,8\n"
    fields = propose("members.csv", data)
    assert [n for n, p in fields.items() if p.hard_id] == ["member_no"]


def test_suggests_no_hard_id_when_no_column_is_unique_and_complete():
    data = b"customer_id,amount\n1,10\n1,10\n,30\n"
    assert not any(p.hard_id for p in propose("x.csv", data).values())


def test_an_events_reference_to_its_profile_is_not_its_hard_id():
    data = b"customer_id,order_id,total\n1,A1,10.5\n2,A2,20\n"
    fields = propose(
        "orders.csv", data, category="event", avoid_hard_id={"customer_id"}
    )
    assert fields["order_id"].hard_id and not fields["customer_id"].hard_id


@pytest.mark.parametrize(
    "name, cdp",
    [
        ("First Name", "first_name"),
        ("customerId", "customer_id"),
        ("Köpdatum", "kopdatum"),
        ("E-post", "e_post"),
        ("2nd address", "f_2nd_address"),
        ("  ", "field"),
    ],
)
def test_cdp_names_are_snake_case(name, cdp):
    assert snake_case(name) == cdp


def test_the_proposal_accepts_the_sample_it_was_made_from(demo):
    """Saved as proposed, the mapping accepts every row of the reference sample."""
    dpt = DataPointType.objects.create(customer=demo, category="profile", name="imp")
    sample = sample_read(
        name="p.csv", data=(SAMPLES / "reference_profiles.csv").read_bytes()
    )
    for position, p in enumerate(fields_propose(sample)):
        rules = {rule: getattr(p, rule) for rule in FIELD_RULES}
        FieldMapping.objects.create(data_point_type=dpt, position=position, **rules)
    demo.refresh_from_db()
    type_spec = spec_for_customer(customer=demo).types["imp"]
    for row in sample.rows:
        assert validate_data(row, type_spec)[1] == []


# Bad files ---------------------------------------------------------------------------


def refusal(name: str, data: bytes) -> str:
    with pytest.raises(SampleError) as refused:
        sample_read(name=name, data=data)
    return str(refused.value)


def test_refuses_a_file_that_is_not_utf8():
    message = refusal("kunder.csv", "Förnamn;Efternamn\nÅsa;Öberg\n".encode("cp1252"))
    assert "not UTF-8" in message and "Windows-1252" in message
    assert "CSV UTF-8" in message


@pytest.mark.parametrize("data", [b"", b"   \n\n"])
def test_refuses_an_empty_file(data):
    assert refusal("empty.csv", data) == "The file is empty."


def test_refuses_a_header_without_rows():
    assert "no rows" in refusal("header.csv", b"customer_id,email\n")


@pytest.mark.parametrize(
    "data, what",
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "PNG image"),
        (b"\x00\x01\x02binary\x00data,\x00", "binary data"),
        (xlsx([["a"], [1]]), "ZIP archive"),
    ],
)
def test_refuses_a_binary_file_renamed_csv(data, what):
    message = refusal("export.csv", data)
    assert what in message and "not CSV text" in message


def test_refuses_text_renamed_xlsx():
    assert "not an XLSX workbook" in refusal("export.xlsx", b"a,b\n1,2\n")


def test_refuses_an_unknown_extension():
    assert "not a CSV" in refusal("export.pdf", b"%PDF-1.4")


def test_refuses_a_broken_json_line_and_names_it():
    data = b'{"id": 1}\n{"id": 2,}\n'
    assert refusal("x.jsonl", data).startswith("Line 2 is not valid JSON")


def test_refuses_a_column_name_used_twice():
    assert "appears twice" in refusal("x.csv", b"id;id\n1;2\n")


def test_refuses_a_row_wider_than_the_header():
    assert "Line 3 has 3 values" in refusal("x.csv", b"a,b\n1,2\n1,2,3\n")


def test_refuses_fifty_megabytes_by_the_limit_setting():
    with pytest.raises(SampleError, match=r"limited to 10\.0 MB"):
        sample_size_check(size=50 * 1024 * 1024, limit=max_upload_bytes())


# The admin page ----------------------------------------------------------------------


def upload(staff, url, filename, data, **fields):
    return staff.post(
        url, {"step": "read", "sample": SimpleUploadedFile(filename, data), **fields}
    )


def review_post(page, **edits) -> dict:
    """The review form as the browser would submit it, with ``edits`` by column."""
    formset = page.context["formset"]
    data = {"step": "save", "activate": "on"}
    data.update({f"fields-{k}": v for k, v in formset.management_form.initial.items()})
    new_form = page.context["new_form"]
    if new_form is not None:
        data.update({name: new_form.data.get(name, "") for name in new_form.fields})
    for i, form in enumerate(formset.forms):
        values = {**form.initial, **edits.get(form.initial["source_field"], {})}
        data.update(as_submitted(f"fields-{i}-", values))
    return data


NEW = reverse("admin:mappings_datapointtype_import_new")


def upload_new(staff, customer, filename, data=None, category="profile", name="x"):
    """Reads a sample on the page that creates a type (no ``data``: the file of
    tests/samples named ``filename``)."""
    data = (SAMPLES / filename).read_bytes() if data is None else data
    return upload(
        staff, NEW, filename, data, customer=customer.pk, category=category, name=name
    )


def test_creating_a_type_from_a_sample_saves_nothing_before_review(staff, demo):
    page = upload_new(staff, demo, "svenska_medlemmar.csv", name="medlem")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Read <strong>4</strong> rows" in html and "Ja/Nej" in html
    assert not DataPointType.objects.filter(name="medlem").exists()

    saved = staff.post(NEW, review_post(page, Belopp={"data_type": "string"}))
    assert saved.status_code == 302
    medlem = DataPointType.objects.get(customer=demo, name="medlem")
    assert medlem.active and medlem.version == 1
    fields = {f.source_field: f for f in medlem.fields.all()}
    assert fields["Medlemsnummer"].hard_id and fields["Medlem"].format == "Ja/Nej"
    assert fields["Belopp"].data_type == "string"  # the reviewer's edit won
    [version] = MappingVersion.objects.filter(data_point_type=medlem)
    assert [f["source_field"] for f in version.fields] == list(fields)


def test_the_review_refuses_a_broken_proposal_and_saves_nothing(staff, demo):
    page = upload_new(staff, demo, "reference_profiles.csv", name="imported")
    bad = review_post(page, customer_id={"optional": True}, age={"format": "HH:MM"})
    again = staff.post(NEW, bad)
    assert again.status_code == 200
    html = again.content.decode()
    assert "A Hard-ID field cannot be optional." in html
    assert "An integer field takes no format." in html
    assert '<code title="Juliana">Juliana</code>' in html  # the examples came along
    assert not DataPointType.objects.filter(name="imported").exists()


def test_an_active_type_needs_a_hard_id_in_the_review(staff, demo):
    page = upload_new(staff, demo, "reference_profiles.csv", name="imported")
    again = staff.post(NEW, review_post(page, customer_id={"hard_id": False}))
    assert ACTIVE_NEEDS_HARD_ID in again.content.decode()


def test_importing_into_a_type_adds_only_new_columns(staff, demo):
    person = demo.data_point_types.get(name="person")
    before = person.version
    data = b"customer_id,email,shoe_size\n12345,a@fake.com,42\n"
    url = reverse("admin:mappings_datapointtype_import", args=[person.pk])
    page = upload(staff, url, "more.csv", data)
    assert "Already mapped: skipped." in page.content.decode()
    assert staff.post(url, review_post(page)).status_code == 302
    person.refresh_from_db()
    assert person.fields.filter(source_field="shoe_size", data_type="integer").exists()
    assert person.fields.filter(source_field="customer_id").count() == 1
    assert person.version == before + 1


def test_an_event_column_named_like_the_profiles_hard_id_refers_to_it(staff, demo):
    data = json.dumps(examples.EVENT).encode()
    page = upload_new(staff, demo, "ev.jsonl", data, category="event", name="buy")
    assert staff.post(NEW, review_post(page)).status_code == 302
    buy = DataPointType.objects.get(customer=demo, name="buy")
    link = buy.fields.get(source_field="customer_id")
    assert link.references.data_point_type.name == "person" and not link.hard_id
    assert buy.fields.get(hard_id=True).source_field == "event_id"


# Files the page refuses with a message (the hostile ones are below).
BAD_FILES = [
    ("big.csv", b"a,b\n" + b"1,2\n" * (50 * 1024 * 1024 // 4), "limited to 10.0 MB"),
    ("png.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "a PNG image, not CSV text"),
    ("latin.csv", "namn\nÅsa\n".encode("latin-1"), "not UTF-8"),
    ("empty.csv", b"", "The submitted file is empty."),
]


def test_the_type_pages_link_to_the_import(staff, demo):
    person = demo.data_point_types.get(name="person")
    change = staff.get(reverse("admin:mappings_datapointtype_change", args=[person.pk]))
    assert reverse("admin:mappings_datapointtype_import", args=[person.pk]) in (
        change.content.decode()
    )
    listing = staff.get(reverse("admin:mappings_datapointtype_changelist"))
    assert NEW in listing.content.decode()


# Hostile files: each refused with a message on the page, never a 500 --------------------


def test_a_shared_strings_bomb_is_refused_before_it_is_unpacked(staff, demo):
    bomb = shared_strings_bomb()  # about 400 KB; 200 MB of strings once loaded
    tracemalloc.start()
    try:
        page = upload_new(staff, demo, "bomb.xlsx", bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert page.status_code == 200
    assert "unpacks to more text than a sample needs" in page.content.decode()
    assert peak < 32 * 1024 * 1024, f"{peak / 2**20:.0f} MB"


def test_a_sheet_of_a_million_blank_rows_reads_its_one_row(staff, demo):
    page = upload_new(staff, demo, "blank.xlsx", blank_rows())
    assert page.status_code == 200
    assert page.context["sample"].rows == [{"name": "x"}]


HOSTILE_FILES = [
    ("broken.xlsx", broken_xml(), "not a readable XLSX workbook"),
    ("deep.jsonl", b"[" * 100_000 + b"\n", "nested too deeply"),
    ("deep.jsonl", b'{"a": ' * 100_000 + b"\n", "nested too deeply"),
    ("lone.jsonl", b'{"name": "\\ud800"}\n', "lone surrogate"),
    ("lone.jsonl", b'{"\\udfff": "x"}\n', "lone surrogate"),
    ("nul.jsonl", b'{"name": "a\\u0000b"}\n', "U+0000"),
    ("odd.csv", codecs.BOM_UTF16_LE + "a\nb\n".encode("utf-16-le")[:-1], "UTF-16"),
]


@pytest.mark.parametrize("filename, data, message", BAD_FILES + HOSTILE_FILES)
def test_the_page_explains_a_bad_or_hostile_file(staff, demo, filename, data, message):
    page = upload_new(staff, demo, filename, data)
    assert page.status_code == 200
    assert message in page.content.decode()
    assert not DataPointType.objects.filter(name="x").exists()


def test_a_utf16_csv_sample_is_read(staff, demo):
    text = "name;city\nÅsa;Malmö\nBo;Göteborg\n"
    for data in (text.encode("utf-16"), codecs.BOM_UTF16_BE + text.encode("utf-16-be")):
        page = upload_new(staff, demo, "utf16.csv", data)
        assert page.status_code == 200
        assert page.context["sample"].rows[0] == {"name": "Åsa", "city": "Malmö"}


def test_digits_of_other_scripts_are_not_numbers_or_dates():
    arabic = str.maketrans("0123456789", "".join(chr(0x660 + n) for n in range(10)))
    text = "n,d,when\n123,12.5,2021-03-18\n456,3,2021-03-19\n"
    header, rows = text.split("\n", 1)
    fields = propose("x.csv", f"{header}\n{rows.translate(arabic)}".encode())
    assert {f.data_type for f in fields.values()} == {"string"}
