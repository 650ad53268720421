"""The public API: nmsnlp.extract and nmsnlp.assertions, and bad input."""

from __future__ import annotations

import pytest

import nmsnlp
from nmsnlp.errors import NoteError

CONTRACT_FIELDS = [
    "note_id", "start", "end", "text", "category", "concept", "negated", "uncertain", "historical",
    "hypothetical", "family", "section", "value", "unit", "comparator", "drug_status",
]


def test_mention_records_have_the_contract_fields_in_order():
    m = nmsnlp.extract("CK 4,300 U/L (ref 20-200) on Haldol", note_id="n7")
    record = m[0].to_dict()
    assert list(record)[: len(CONTRACT_FIELDS)] == CONTRACT_FIELDS
    assert record["note_id"] == "n7"
    assert (record["concept"], record["value"], record["unit"], record["ref_high"]) == ("ck", 4300.0, "U/L", 200.0)


def test_mentions_come_in_note_order():
    mentions = nmsnlp.extract("Haldol given. Fever 39.5. CK 12,000. No rigidity.")
    assert [m.start for m in mentions] == sorted(m.start for m in mentions)
    assert [m.concept for m in mentions] == ["haloperidol", "fever", "temperature", "ck", "rigidity"]


def test_assertions_on_given_spans():
    text = "No fever, chills, or rigidity. History of NMS in 2017. Mother had NMS."
    spans = [(text.index("fever"), text.index("fever") + 5), (text.index("rigidity"), text.index("rigidity") + 8),
             (text.index("NMS"), text.index("NMS") + 3), (text.rindex("NMS"), text.rindex("NMS") + 3)]
    flags = nmsnlp.assertions(text, spans)
    assert [f["negated"] for f in flags] == [True, True, False, False]
    assert flags[2]["historical"] and not flags[2]["family"]
    assert flags[3]["family"]


def test_substance_use_is_social_history_wherever_written():
    text = "Denies alcohol or drug use. He smokes cigarettes. Alcohol withdrawal seizure today."
    phrases = ["alcohol", "drug use", "smokes cigarettes", "Alcohol withdrawal"]
    spans = [(text.index(p), text.index(p) + len(p)) for p in phrases]
    flags = nmsnlp.assertions(text, spans)
    assert [f["historical"] for f in flags] == [True, True, True, False]
    assert flags[0]["negated"] and flags[1]["negated"] and not flags[2]["negated"]


def test_assertions_reject_spans_outside_the_text():
    with pytest.raises(ValueError, match="does not fall within"):
        nmsnlp.assertions("short", [(2, 50)])


@pytest.mark.parametrize(("text", "message"), [("", "empty"), ("   \n\t ", "empty"), (None, "string"), (42, "string")])
def test_bad_text_raises_note_error_naming_the_note(text, message):
    with pytest.raises(NoteError, match=f"note 'bad-1'.*{message}"):
        nmsnlp.extract(text, "bad-1")


def test_nul_bytes_and_control_characters_are_read_through():
    text = "fever\x00 to 39.5\x07, rigid\x1b"
    mentions = nmsnlp.extract(text, "n1")
    assert {m.concept for m in mentions} >= {"fever", "rigidity"}
    assert all(text[m.start : m.end] == m.text for m in mentions)


def test_a_5_mb_note_is_processed():
    chunk = "Pt resting comfortably, vitals stable, tolerating diet. "
    text = chunk * (5_000_000 // len(chunk)) + "Now febrile to 40.1 with lead-pipe rigidity on haloperidol."
    mentions = nmsnlp.extract(text, "big")
    assert [m.concept for m in mentions][-4:] == ["fever", "temperature", "rigidity", "haloperidol"]
    assert len(text) >= 5_000_000


def test_a_vertical_lab_table_is_one_trend():
    text = "CK trend (U/L):\n  2/11 ED    14,320\n  2/12 AM    38,900\n  2/13 AM    41,200 (peak)\n  2/14 AM    22,650\nTmax 38.2 C."
    ck = [m for m in nmsnlp.extract(text) if m.concept == "ck"]
    assert len(ck) == 1
    assert ck[0].value == 14320 and list(ck[0].values) == [14320, 38900, 41200, 22650] and ck[0].unit == "U/L"
    assert max(ck[0].values) == 41200  # the peak, which the features and consensus criteria read
