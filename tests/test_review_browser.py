"""The review report in a real browser: Debian's Chromium driven by Playwright (issue 12).

One browser for the whole module; each test opens the report from file:// in a fresh context (its own
local storage) that records every request the page makes. Screenshots go to $NMSNLP_REVIEW_SCREENSHOTS
(default: a temporary folder; the path is printed). Skipped, with the reason, only where no Chromium
binary exists (`.ci/run` installs Debian's chromium)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import review_data as rd

from nmsnlp.outputs.review import ReviewOptions, build_review, render, write_review

CHROMIUM = next((p for p in (os.environ.get("NMSNLP_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                             "/usr/bin/chromium") if p and Path(p).is_file()), None)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium binary (on Debian: apt-get install chromium; "
                                                         ".ci/run installs it); the browser tests need one")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("NMSNLP_REVIEW_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nreview screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return rd.screen_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def report(demo) -> Path:
    return write_review(demo, demo / "review.html", ReviewOptions(sample_unflagged=4, seed=2)).path


@pytest.fixture(scope="module")
def blind_report(demo) -> Path:
    return write_review(demo, demo / "review-blind.html", ReviewOptions(sample_unflagged=4, seed=2, blind=True)).path


class Opened:
    def __init__(self, browser, path: Path):
        self.context = browser.new_context(viewport={"width": 1500, "height": 950}, accept_downloads=True)
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context.on("request", lambda r: self.requests.append(r.url))
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.url = path.resolve().as_uri()
        self.goto()

    def goto(self) -> None:
        self.page.goto(self.url)
        self.page.wait_for_function("() => window.nmsnlpReview && window.nmsnlpReview.ready", timeout=60_000)

    def reload(self) -> None:
        self.page.reload()
        self.page.wait_for_function("() => window.nmsnlpReview && window.nmsnlpReview.ready", timeout=60_000)

    def check_local(self) -> None:
        """No request of any kind left file:// (the page itself is the only request)."""
        assert self.requests and all(u.startswith("file://") for u in self.requests), self.requests
        assert not self.errors, self.errors

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def opened(browser):
    made: list[Opened] = []

    def open_(path: Path) -> Opened:
        o = Opened(browser, path)
        made.append(o)
        return o

    yield open_
    for o in made:
        o.check_local()
        o.close()


def data_of(page) -> dict:
    return page.evaluate("JSON.parse(document.getElementById('nmsnlp-data').textContent)")


CHECK_HIGHLIGHTS = """() => {
  const d = JSON.parse(document.getElementById('nmsnlp-data').textContent);
  const id = document.querySelector('#notehead h2').textContent;
  const note = d.notes.find(n => String(n.id) === id && n.review);
  const spans = Array.from(document.querySelectorAll('#text .m'));
  const bad = [];
  note.m.forEach((m, i) => {
    const got = spans.filter(s => s.dataset.ms.split(' ').includes(String(i))).map(s => s.textContent).join('');
    if (got !== note.t.slice(m[0], m[1])) bad.push([i, got, note.t.slice(m[0], m[1])]);
  });
  return {id: id, n: note.m.length, bad: bad, whole: document.getElementById('text').textContent === note.t};
}"""


def test_highlights_sit_on_the_right_characters(opened, report, shots):
    o = opened(report)
    n_review = data_of(o.page)["report"]["n_review"]
    seen = []
    for _ in range(n_review):
        r = o.page.evaluate(CHECK_HIGHLIGHTS)
        assert r["whole"] and not r["bad"], r  # every mention's highlight covers exactly its text; the text is unchanged
        seen.append(r["id"])
        o.page.keyboard.press("j")
    assert rd.TRICKY_ID in seen and len(set(seen)) == n_review
    assert o.page.evaluate("window.pwned") is None  # markup in a note stays text
    o.page.keyboard.press("Home")
    o.page.screenshot(path=str(shots / "review-last-note.png"))


def test_hovering_or_focusing_a_negated_mention_shows_its_cue(opened, report, shots):
    o = opened(report)
    data = data_of(o.page)
    i = next(k for k, n in enumerate(data["notes"]) if n["id"] == rd.TRICKY_ID)
    for _ in range(i):
        o.page.keyboard.press("j")
    assert o.page.inner_text("#notehead h2") == rd.TRICKY_ID
    negated = o.page.locator("#text .m.f-negated").first
    assert negated.inner_text() == "rigidity"
    negated.hover()
    tip = o.page.locator("#tip")
    assert tip.is_visible()
    assert "rigidity" in tip.inner_text() and "negated — cue: “no”" in tip.inner_text()
    o.page.screenshot(path=str(shots / "review-hover-negated.png"))
    o.page.mouse.move(5, 5)
    assert not tip.is_visible()
    o.page.locator("#text .m.f-present").first.focus()  # keyboard focus shows it too
    assert tip.is_visible() and "present" in tip.inner_text()
    # a real note: the demo's ED note, decided, with a negated finding's cue on screen (the README's screenshot)
    o.page.keyboard.press("Home")
    while o.page.inner_text("#notehead h2") != "DEMO-001":
        o.page.keyboard.press("j")
    o.page.fill("#reviewer", "A. Reviewer")
    o.page.uncheck("#advance")
    o.page.locator("#main").focus()
    o.page.keyboard.press("1")
    cogwheeling = o.page.locator("#text .m.f-negated", has_text="cogwheeling").first
    cogwheeling.scroll_into_view_if_needed()
    cogwheeling.hover()
    assert "negated — cue: “no”" in tip.inner_text()
    o.page.screenshot(path=str(shots / "review.png"))
    # values with their units, sections marked
    o.page.locator("#text .m", has_text="T 40.2 C").first.hover()
    assert "value: 40.2 C" in tip.inner_text()
    assert o.page.locator("#text .sec[data-sec]").count() >= 1


def test_keyboard_decisions_export_reload_and_import(opened, report, shots, tmp_path):
    o = opened(report)
    page = o.page
    data = data_of(page)
    review = [n for n in data["notes"] if n["review"]]
    page.fill("#reviewer", "Dr Test")
    page.locator("#main").focus()
    page.keyboard.press("1")  # NMS current on note 1; moves on to note 2
    assert page.inner_text("#notehead h2") == str(review[1]["id"])
    page.keyboard.press("3")  # not NMS on note 2
    page.keyboard.press("k")
    page.keyboard.press("k")
    assert page.inner_text("#notehead h2") == str(review[0]["id"])
    assert page.get_attribute("#choices button[data-decision=nms_current]", "aria-pressed") == "true"
    page.keyboard.press("c")
    page.keyboard.type("classic picture")
    page.keyboard.press("Escape")
    assert page.inner_text("#progress") == f"2 of {len(review)} decided"
    page.screenshot(path=str(shots / "review-decided.png"))
    with page.expect_download() as dl:
        page.keyboard.press("e")
    exported = tmp_path / "adjudications.jsonl"
    dl.value.save_as(exported)
    recs = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [(r["note_id"], r["decision"]) for r in recs] == [(review[0]["id"], "nms_current"), (review[1]["id"], "not_nms")]
    first = recs[0]
    assert first["comment"] == "classic picture" and first["reviewer"] == "Dr Test" and first["row"] == review[0]["row"]
    assert first["report_id"] == data["report"]["id"] and first["model_sha256"] == data["report"]["model_sha256"]
    assert first["patterns_sha256"] == data["report"]["patterns_sha256"] and first["person_id"] == review[0]["pid"]
    assert first["score_shown"] is True and first["score"] == review[0]["score"] and first["blind"] is False
    assert first["stratum"] == "flagged" and first["timestamp"].endswith("Z")

    o.reload()  # autosaved: a reload keeps every decision
    assert page.inner_text("#progress") == f"2 of {len(review)} decided"
    assert page.locator(".row .badge").count() >= 2
    page.evaluate("localStorage.clear()")
    o.reload()
    assert page.inner_text("#progress") == f"0 of {len(review)} decided"
    page.set_input_files("#importfile", str(exported))  # an import restores them
    page.wait_for_function("() => document.getElementById('progress').textContent.startsWith('2 of')")
    assert "imported 2 decisions" in page.inner_text("#status")
    page.keyboard.press("Home")
    assert page.get_attribute("#choices button[data-decision=nms_current]", "aria-pressed") == "true"
    assert page.input_value("#comment") == "classic picture"


def test_a_sampled_unflagged_note_is_marked_only_after_the_decision(opened, report):
    o = opened(report)
    page = o.page
    data = data_of(page)
    review = [n for n in data["notes"] if n["review"]]
    i = next(k for k, n in enumerate(review) if n["stratum"] == "unflagged_sample")
    page.fill("#reviewer", "Dr Test")
    page.locator("#main").focus()
    for _ in range(i):
        page.keyboard.press("j")
    assert page.locator("#scorebox").count() == 0 and "sample" not in page.inner_text("#banner")
    page.uncheck("#advance")
    page.locator("#main").focus()
    page.keyboard.press("3")
    assert "random sample of unflagged notes" in page.inner_text("#banner")
    assert page.locator("#scorebox").count() == 1
    rec = page.evaluate("window.nmsnlpReview.records()")[0]
    assert rec["stratum"] == "unflagged_sample" and rec["score_shown"] is False and rec["score"] is None


def test_the_page_makes_no_network_request(opened, report, tmp_path):
    o = opened(report)
    page = o.page
    page.fill("#reviewer", "Dr Test")
    page.locator("#main").focus()
    for key in ("1", "3", "j", "k", "u", "?", "Escape"):
        page.keyboard.press(key)
    page.locator("#text .m").first.hover()
    with page.expect_download() as dl:
        page.click("#export")
    dl.value.save_as(tmp_path / "a.jsonl")
    page.set_input_files("#importfile", str(tmp_path / "a.jsonl"))
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('imported')")
    # the page's content security policy refuses any connection it might be made to try
    blocked = page.evaluate("() => fetch('https://example.org/x').then(() => 'sent', () => 'refused')")
    assert blocked == "refused"
    assert o.errors and all("Content Security Policy" in e for e in o.errors)
    o.errors.clear()  # the refusal is logged; that is the point
    o.reload()
    assert all(u == o.url for u in o.requests), o.requests
    print(f"\nrequests made by the page: {len(o.requests)}, all {o.url}")


def test_the_timeline_opens_the_patients_other_notes(opened, report):
    o = opened(report)
    page = o.page
    data = data_of(page)
    first = next(n for n in data["notes"] if n["review"])
    line = data["patients"][first["pid"]]
    assert [e[1] for e in line] == sorted(e[1] for e in line) and len(line) > 1  # the episode, in date order
    context = next(n for n in data["notes"] if not n["review"] and n["pid"] in data["patients"])
    review_pos = next(i for i, n in enumerate(n for n in data["notes"] if n["review"]) if n["pid"] == context["pid"])
    for _ in range(review_pos):
        page.keyboard.press("j")
    reviewed = page.inner_text("#notehead h2")
    page.locator("#timeline li", has_text=str(context["id"])).click()
    assert page.inner_text("#notehead h2") == str(context["id"])
    assert "not in the review set" in page.inner_text("#banner") and not page.is_visible("#decide")
    page.keyboard.press("1")  # no decision on a note outside the review set
    assert page.inner_text("#progress").startswith("0 of")
    page.keyboard.press("Backspace")
    assert page.inner_text("#notehead h2") == reviewed and page.is_visible("#decide")


def test_blind_mode_hides_the_score_reasons_and_rank(opened, blind_report, shots):
    o = opened(blind_report)
    page = o.page
    data = data_of(page)
    assert not any("score" in n for n in data["notes"])
    assert page.is_visible("#blindtag") and "Blind review" in page.inner_text("#side")
    assert page.locator("#scorebox").count() == 0 and page.locator("#side .reasons").count() == 0
    assert page.locator(".row .sc").count() == 0 and not page.locator(".row .rk").first.inner_text().startswith("#")
    assert page.locator("#criteria li").count() == 8  # the criteria checklist stays: it is the chart's evidence
    page.fill("#reviewer", "Blind Reviewer")
    page.locator("#main").focus()
    page.keyboard.press("2")
    rec = page.evaluate("window.nmsnlpReview.records()")[0]
    assert rec["blind"] is True and rec["score_shown"] is False and "score" not in rec
    page.screenshot(path=str(shots / "review-blind.png"))


def test_5000_note_report_loads_and_moves_within_budget(opened, demo, shots, tmp_path):
    data, _ = build_review(demo, ReviewOptions())
    big = rd.replicate_report(data, 5000)
    path = tmp_path / "review-5000.html"
    path.write_text(render(big), encoding="utf-8")
    size = path.stat().st_size
    t0 = time.perf_counter()
    o = opened(path)
    load = time.perf_counter() - t0
    startup = o.page.evaluate("window.nmsnlpReview.startupMs")
    t1 = time.perf_counter()
    for _ in range(40):
        o.page.keyboard.press("j")
    o.page.keyboard.press("End")
    moves = (time.perf_counter() - t1) / 41
    renders = o.page.evaluate("window.nmsnlpReview.renderMs()")
    assert o.page.inner_text("#notehead h2") == big["notes"][-1]["id"]
    assert o.page.locator(".row").count() < 200  # the list renders on demand, not 5,000 rows
    o.page.screenshot(path=str(shots / "review-5000.png"))
    print(f"\n5,000-note report: {size / 1e6:.1f} MB; opened and ready in {load:.2f} s (script start-up {startup:.0f} ms); "
          f"a move takes {moves * 1000:.0f} ms with the test's key press round trip, rendering {sum(renders) / len(renders):.0f} ms "
          f"on average (max {max(renders):.0f} ms)")
    assert load < 10.0 and max(renders) < 500 and sum(renders) / len(renders) < 100
