"""The chat app, started for real on a free loopback port: through gradio_client and in Chromium."""
from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request

import pytest

from kb.feedback import FeedbackStore

from .conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def start_app(env: dict[str, str], log_path) -> tuple[subprocess.Popen, str]:
    """app.py in its own process on a free loopback port, once it answers; returns (process, url)."""
    from evals.load import start_app as start

    return start({**os.environ, **env}, log_path, timeout=90)


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=20)


def app_data_copy(corpus_kb, tmp_path_factory, name: str):
    """A copy of the ingested store for one app process (it writes feedback and Gradio's cache)."""
    data_dir = tmp_path_factory.mktemp(name) / "data"
    shutil.copytree(corpus_kb.settings.data_dir, data_dir)
    return data_dir, {"KB_DATA_DIR": str(data_dir), "KB_CORPUS_DIR": str(corpus_kb.settings.corpus_dir),
                      "GRADIO_TEMP_DIR": str(data_dir.parent / "gradio-cache")}  # where Gradio copies files it serves


@pytest.fixture(scope="module")
def app_server(corpus_kb, tmp_path_factory):
    """app.py in its own process on a copy of the ingested store; yields (url, data_dir)."""
    data_dir, env = app_data_copy(corpus_kb, tmp_path_factory, "app")
    proc, url = start_app(env, data_dir.parent / "app.log")
    yield url, data_dir
    stop_app(proc)


def _ask(client, question: str, types=(), date_from: str = "", date_to: str = "", issuers=None):
    """Without ``issuers`` the call is the one older clients make (four filters): it must keep working."""
    extra = [] if issuers is None else [list(issuers)]
    result = client.predict(question, list(types), date_from, date_to, *extra, api_name="/ask")
    chat, sources_html, data = result[1], result[2], result[3]
    content = chat[-1]["content"]
    text = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)
    return text, sources_html, data


def test_app_answers_with_structured_sources_and_abstains(app_server):
    from gradio_client import Client

    client = Client(app_server[0], verbose=False)
    text, sources_html, data = _ask(client, "Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?")
    assert "31. maj 2025" in text and "](#kb-src-1-1)" in text  # the chat's [1] links to its source card
    assert "[1]" in data["answer"] and not data["abstained"]
    job = client.submit("Hvem er målgruppen for den centrale udmelding?", [], "", "", api_name="/ask")
    job.result(timeout=120)
    first = job.outputs()[0][1][-1]["content"]  # shown at once, before the search
    assert "Forbereder svaret" in (first if isinstance(first, str) else first[0]["text"])
    assert any("31. maj 2025" in c["text"] for c in data["citations"])
    assert all(c["title"] and c["date"] for c in data["citations"])
    assert "Kilder" in sources_html and "<mark>" in sources_html

    text, _, data = _ask(client, "Hvem er de centrale aktører i indsatsen ifølge forløbsbeskrivelsen?")
    assert any("familieafdeling" in c["text"] for c in data["citations"])
    assert any(c["doc_type"] == "forløbsbeskrivelse" for c in data["citations"])

    text, sources_html, data = _ask(client, "Hvad er hovedstaden i Frankrig?")
    assert data["abstained"] and text.startswith("Det kan jeg ikke finde i dokumenterne")
    assert "Ingen tekststykker i dokumenterne ligger tæt på" in sources_html  # off topic: nothing offered
    assert "Måske relevant" not in sources_html
    text, sources_html, data = _ask(client, "Hvad er åbningstiden i familieambulatorierne?")
    assert data["abstained"] and "Måske relevant" in sources_html  # in the documents' domain: the closest ones
    import re

    offered = re.findall(r"</div>([^<]+)</li>", sources_html)
    assert offered and all(t.rstrip().endswith((".", "?", "!", ":", " …")) for t in offered)  # never mid-word


def test_client_history_is_never_read_so_no_file_reaches_gradios_cache(app_server):
    """The issue's probe: a 'history' whose message is a component with a file path made Gradio copy
    that file into its served cache. The conversation is server-side now: /ask takes no history."""
    import json

    from gradio_client import Client

    url, data_dir = app_server
    (data_dir / "secret.txt").write_text("fortroligt", encoding="utf-8")
    params = Client(url, verbose=False).view_api(return_format="dict")["named_endpoints"]["/ask"]["parameters"]
    assert [p["parameter_name"] for p in params] == ["question", "types", "date_from", "date_to", "issuers"]
    hostile = [{"role": "user", "content": [{"type": "component", "component": "button", "value": "x",
                                              "constructor_args": {"icon": str(data_dir / "secret.txt")}, "props": {}}]}]
    body = json.dumps({"data": ["Hvornår skal afrapporteringen sendes?", hostile, [], "", hostile, ""]}).encode()
    request = urllib.request.Request(url + "gradio_api/call/ask", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            event = json.loads(response.read())["event_id"]
        with urllib.request.urlopen(f"{url}gradio_api/call/ask/{event}", timeout=60) as response:
            response.read()
    except urllib.error.HTTPError as refused:  # refusing the call outright is as good as ignoring the extra value
        assert refused.code < 500
    cache = data_dir.parent / "gradio-cache"
    copied = [p for p in cache.rglob("*") if p.is_file() and p.read_bytes() == b"fortroligt"] if cache.exists() else []
    assert copied == []


def test_app_explains_bad_input_and_keeps_serving(app_server):
    from gradio_client import Client

    client = Client(app_server[0], verbose=False)
    assert "Skriv et spørgsmål" in _ask(client, "   ")[0]
    assert "for langt" in _ask(client, "x" * 2500)[0]
    assert "kan ikke læses" in _ask(client, "Hvornår er fristen?", date_from="sidste år")[0]
    assert "Ingen dokumenter passer" in _ask(client, "Hvornår er fristen?", date_from="2030")[0]
    text, _, _ = _ask(client, "Min borger har CPR 010190-1234. Hvornår skal afrapporteringen sendes?")
    assert "personoplysninger" in text and "31. maj 2025" in text


def test_app_filters_by_issuer_under_its_current_name(app_server):
    from gradio_client import Client

    client = Client(app_server[0], verbose=False)
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/ask"]["parameters"]
    assert [p["parameter_has_default"] for p in api][-1] is True  # older four-filter callers keep working
    _, _, data = _ask(client, "Hvornår skal afrapporteringen sendes?", issuers=["Social- og Boligstyrelsen"])
    cited = {c["source"] for c in data["citations"]}
    assert cited and cited <= {"000_89ee3ec64a4a8cd6.txt", "001_8c99ea295e75401a.txt", "002_30283580c0489ba7.txt",
                               "003_8a57807346003733.txt"}  # Social- og Boligstyrelsen, and as Socialstyrelsen
    _, _, data = _ask(client, "Hvornår skal afrapporteringen sendes?",
                      issuers=["Børne- og Ungdomsudvalget (kommunal sag 25/3387)"])
    assert {c["source"] for c in data["citations"]} == {"004_8c4574a062c83094.txt"}


@pytest.mark.skipif(not CHROMIUM and not os.environ.get("CI"), reason="Chromium not installed (scripts/test.sh installs it)")
def test_browser_question_sources_feedback_and_screenshots(app_server):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "Chromium is required in CI: scripts/test.sh installs it"
    url, data_dir = app_server
    ARTIFACTS.mkdir(exist_ok=True)
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        for name, viewport in (("desktop-1280x800", {"width": 1280, "height": 800}),
                               ("phone-390", {"width": 390, "height": 844})):
            page = browser.new_page(viewport=viewport, locale="da-DK")
            refused: list[str] = []  # the Content-Security-Policy must not block anything the chat needs
            page.on("console", lambda m, seen=refused: seen.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(url)
            box = page.locator("#kb-question textarea")
            box.fill("Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?")
            box.press("Enter")
            source = page.locator("#kb-sources .kb-source").first
            source.wait_for(timeout=60_000)
            assert "31. maj 2025" in page.locator("#kb-sources").inner_text()
            assert source.locator("blockquote").is_visible()
            bot = page.locator("#kb-chat .message.bot, #kb-chat [data-testid='bot']").last
            assert "[1]" in bot.inner_text()
            source.locator("summary").click()
            assert source.locator("mark").first.is_visible()
            if name.startswith("desktop"):
                before = len(FeedbackStore(data_dir / "feedback.sqlite").rows())
                page.locator("#kb-chat button[aria-label='Like'], #kb-chat button[title='Like']").last.click()
                page.locator("#kb-feedback-status").get_by_text("Tak for din vurdering").wait_for(timeout=20_000)
                rows = FeedbackStore(data_dir / "feedback.sqlite").rows()
                assert len(rows) == before + 1 and rows[-1]["rating"] == 1
                assert "31. maj 2025" in rows[-1]["answer"]
            page.screenshot(path=str(ARTIFACTS / f"chat-{name}.png"), full_page=True)
            assert refused == [], refused
            page.close()
        browser.close()


def test_concurrent_users_are_all_answered(app_server):
    from gradio_client import Client

    client = Client(app_server[0], verbose=False)
    questions = ["Hvornår skal afrapporteringen sendes?", "Hvem er målgruppen for den centrale udmelding?",
                 "Hvad anbefaler forløbsbeskrivelsen?", "Hvilke kvinder er ikke omfattet af målgruppen?",
                 "Hvad besluttede Børne- og Ungdomsudvalget?", "Hvor mange gravide har et skadeligt forbrug?"]
    jobs = [client.submit(q, [], "", "", api_name="/ask") for q in questions]
    results = [job.result(timeout=120) for job in jobs]
    assert all(r[3] and r[3]["citations"] for r in results)


def test_app_with_an_empty_store_says_to_ingest(tmp_path):
    from gradio_client import Client

    proc, url = start_app({"KB_DATA_DIR": str(tmp_path / "data")}, tmp_path / "app.log")
    try:
        assert "kb ingest" in _ask(Client(url, verbose=False), "Hvornår skal afrapporteringen sendes?")[0]
    finally:
        stop_app(proc)


def test_the_asked_for_fact_is_highlighted_in_the_quote_and_in_the_document_view(corpus_kb):
    from app import render_sources

    answer = corpus_kb.ask("Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?")
    html = render_sources(corpus_kb, answer)
    quote, _, document_view = html.partition("Vis i dokumentet")
    fact = "<mark class='kb-fact'>31. maj 2025</mark>"
    assert fact in quote and fact in document_view


def _status(request: urllib.request.Request) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers)


def test_every_response_carries_the_security_headers_and_a_policy_for_its_own_scripts(app_server):
    import base64
    import hashlib
    import re

    url, _ = app_server
    with urllib.request.urlopen(url, timeout=10) as response:
        headers, page = response.headers, response.read()
    assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cross-Origin-Resource-Policy"] == "same-origin"
    policy = dict(d.strip().split(" ", 1) for d in headers["Content-Security-Policy"].split(";"))
    assert policy["frame-ancestors"] == "'none'" and policy["default-src"] == "'self'"
    assert "'unsafe-inline'" not in policy["script-src"] and "http" not in policy["script-src"]
    inline = re.findall(rb"<script(?![^>]*src=)[^>]*>(.*?)</script>", page, re.S)
    allowed = set(re.findall(r"'sha256-([^']+)'", policy["script-src"]))
    assert inline and allowed == {base64.b64encode(hashlib.sha256(s).digest()).decode() for s in inline}
    with urllib.request.urlopen(url + "gradio_api/info", timeout=10) as response:  # JSON: framing rules too
        assert response.headers["X-Frame-Options"] == "DENY"


def test_uploads_and_large_bodies_are_refused(app_server):
    import http.client
    import json

    url, _ = app_server
    boundary = "kbtestboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\n").encode() + b"x" * 200_000 + f"\r\n--{boundary}--\r\n".encode()
    assert _status(urllib.request.Request(url + "gradio_api/upload", data=body, headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"}))[0] == 413
    big = json.dumps({"data": ["x" * 100_000, [], "", ""]}).encode()
    assert _status(urllib.request.Request(url + "gradio_api/call/ask", data=big,
                                          headers={"Content-Type": "application/json"}))[0] == 413
    # the same body sent in chunks without a Content-Length is cut off at the limit too
    host, port = url.split("//")[1].strip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("POST", "/gradio_api/call/ask", body=iter([big[i:i + 8192] for i in range(0, len(big), 8192)]),
                       headers={"Content-Type": "application/json"}, encode_chunked=True)
    assert connection.getresponse().status == 413
    connection.close()
    small = json.dumps({"data": ["Hvornår skal afrapporteringen sendes?", [], "", ""]}).encode()
    assert _status(urllib.request.Request(url + "gradio_api/call/ask", data=small,
                                          headers={"Content-Type": "application/json"}))[0] == 200


def test_pages_of_other_sites_cannot_call_the_chat(app_server):
    import json

    url, _ = app_server
    small = json.dumps({"data": ["Hvornår skal afrapporteringen sendes?", [], "", ""]}).encode()
    own = url.rstrip("/")
    for origin, expected in (("http://evil.example", 403), ("null", 403), (own.replace("127.0.0.1", "localhost"), 403),
                             (own, 200)):
        status, headers = _status(urllib.request.Request(url + "gradio_api/call/ask", data=small, headers={
            "Content-Type": "application/json", "Origin": origin}))
        assert status == expected, origin
        assert headers.get("access-control-allow-origin") in (None, own), origin
    status, headers = _status(urllib.request.Request(url + "gradio_api/info", headers={"Origin": "http://evil.example"}))
    assert status == 403 and "access-control-allow-origin" not in {k.lower() for k in headers}
    preflight = urllib.request.Request(url + "gradio_api/queue/join", method="OPTIONS", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert _status(preflight)[0] == 403


def test_the_users_own_text_is_shown_not_rendered(app_server):
    """HTML and markdown in a question appear as typed in the user's bubble: no image is fetched, no
    element is created, and an English-looking link target does not switch the answer to English."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "Chromium is required in CI: scripts/test.sh installs it"
    url, _ = app_server
    hostile = ("<img src=x-probe.png> ![](http://tracker.invalid/pixel.png) <details>åben</details> "
               "<a href='https://the.invalid/what/is/the/answer/to/this'>link</a> Hvornår skal afrapporteringen sendes?")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(url)
        box = page.locator("#kb-question textarea")
        box.fill(hostile)
        box.press("Enter")
        page.locator("#kb-sources .kb-source").first.wait_for(timeout=60_000)
        user = page.locator("#kb-chat .message.user, #kb-chat [data-testid='user']").last
        assert "<img src=x-probe.png>" in user.inner_text() and "![](http://tracker.invalid/pixel.png)" in user.inner_text()
        assert user.locator("img, details, a").count() == 0
        bot = page.locator("#kb-chat .message.bot, #kb-chat [data-testid='bot']").last
        assert "31. maj 2025" in bot.inner_text() and "The documents say" not in bot.inner_text()
        browser.close()
    assert not [r for r in requested if "x-probe" in r or "tracker.invalid" in r or "the.invalid" in r]


def test_quotes_in_the_chat_bubble_are_shown_exactly_as_in_the_document():
    """Issue 15, item 12, for the chat: markdown, HTML and emoji codes inside a quoted passage are
    shown as written; only the bold fact and the citation numbers are markup."""
    import html
    import re

    from markdown_it import MarkdownIt

    from app import answer_markdown

    quote = "Nøglen hedder root:x:0:0 i [bold]skuffen[/bold] med *stjerner*, _streger_, `kode` og <b>fed</b> skrift"
    rendered = MarkdownIt("commonmark").render(answer_markdown(f"**31. maj 2025** [1]\n{quote} [1][2]"))
    assert '<strong>31. maj 2025</strong> <a href="#kb-src-1-1">[1]</a>' in rendered
    assert not re.search(r"<(em|code|b)\b", rendered)
    assert re.findall(r"<a href=\"([^\"]+)\"", rendered) == ["#kb-src-1-1", "#kb-src-1-1", "#kb-src-1-2"]
    text = html.unescape(re.sub(r"<[^>]+>", "", rendered))
    assert f"{quote} [1][2]" in text


def _bot_messages(page):
    return page.locator("#kb-chat .message.bot, #kb-chat [data-testid='bot']")


def _ask_in_browser(page, question: str) -> None:
    before = _bot_messages(page).count()
    box = page.locator("#kb-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(f"document.querySelectorAll(\"#kb-chat .message.bot, #kb-chat [data-testid='bot']\")"
                           f".length > {before}", timeout=60_000)
    page.locator("#kb-feedback-status").wait_for(state="attached")
    page.wait_for_function("!document.querySelector('#kb-chat .pending, #kb-chat .generating')", timeout=60_000)
    page.wait_for_timeout(800)  # the sources panel arrives with the last streamed line


@pytest.mark.skipif(not CHROMIUM and not os.environ.get("CI"), reason="Chromium not installed (scripts/test.sh installs it)")
def test_citations_link_to_their_source_cards_and_every_answer_keeps_its_sources(app_server):
    """Issue 10 at 1280×800 and 390×844: the question box and 'Spørg' are on the first screen (on a
    desktop the examples too); [1] of an earlier answer opens and marks that answer's card; the
    document list has no horizontal overflow and shows every column's name; a follow-up says so and
    'Spørg uden sammenhæng' asks it on its own."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "Chromium is required in CI: scripts/test.sh installs it"
    url, _ = app_server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for name, viewport in (("desktop", {"width": 1280, "height": 800}), ("phone", {"width": 390, "height": 844})):
            page = browser.new_page(viewport=viewport, locale="da-DK")
            page.goto(url)
            page.locator("#kb-question textarea").wait_for()
            for element in (page.locator("#kb-question textarea"), page.locator("#kb-ask")):
                box = element.bounding_box()
                assert box and box["y"] + box["height"] <= viewport["height"], (name, box)
            if name == "desktop":
                example = page.get_by_text("Hvem er målgruppen for den centrale udmelding?").first.bounding_box()
                assert example and example["y"] + example["height"] <= viewport["height"]
                assert "Sådan læser du et svar" in page.locator("#kb-sources").inner_text()
            page.screenshot(path=str(ARTIFACTS / f"ux-{name}-empty.png"))

            _ask_in_browser(page, "Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?")
            _ask_in_browser(page, "Hvilke kvinder er ikke omfattet af målgruppen?")
            assert "Kilder til svar 2" in page.locator("#kb-sources").inner_text()
            first_answer_link = _bot_messages(page).first.locator("a[href^='#kb-src-1-']").first
            target = first_answer_link.get_attribute("href")[1:]
            first_answer_link.click()
            if name == "desktop":  # the card in the sources column, opened, scrolled to and marked
                card = page.locator(f"#{target}")
                card.wait_for(state="visible", timeout=10_000)
                page.wait_for_timeout(800)  # smooth scrolling
                assert "kb-active" in card.get_attribute("class") and card.is_visible()
            else:  # on a phone, a copy of the card right under the answer
                card = page.locator("#kb-inline-source .kb-source")
                card.wait_for(state="visible", timeout=10_000)
                page.wait_for_timeout(800)
                assert page.evaluate(f"document.getElementById('kb-inline-source').previousElementSibling"
                                     f".querySelector(\"a[href='#{target}']\") !== null")  # right after its answer
                assert "kb-active" in card.get_attribute("class") and card.is_visible()
            assert "31. maj 2025" in card.inner_text()
            assert len(page.context.pages) == 1  # the link opened nothing
            page.screenshot(path=str(ARTIFACTS / f"ux-{name}-earlier-citation.png"))

            page.get_by_text("Kopiér svaret til et journalnotat").click()
            note = page.locator("#kb-case-note textarea")
            note.wait_for(state="visible", timeout=10_000)
            assert note.input_value().startswith("Spørgsmål: Hvilke kvinder") and "Kilder:" in note.input_value()
            assert page.locator("#kb-case-note button").count() >= 1  # the copy button
            page.screenshot(path=str(ARTIFACTS / f"ux-{name}-case-note.png"))
            page.get_by_text("Kopiér svaret til et journalnotat").click()

            _ask_in_browser(page, "Hvad er åbningstiden i familieambulatorierne?")
            assert "Måske relevant" in page.locator("#kb-sources").inner_text()
            page.locator("#kb-sources h4").first.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / f"ux-{name}-maybe-relevant.png"))

            page.locator("button", has_text="Ny samtale").click()
            page.wait_for_function("document.querySelectorAll(\"#kb-chat .message.bot, #kb-chat [data-testid='bot']\")"
                                   ".length === 0", timeout=20_000)
            _ask_in_browser(page, "Hvem er målgruppen for den centrale udmelding?")
            _ask_in_browser(page, "Hvornår skal den sendes?")
            follow_up = _bot_messages(page).last.inner_text()
            assert "Opfattet som opfølgning på" in follow_up
            alone = page.locator("#kb-alone")
            assert alone.is_visible()
            page.screenshot(path=str(ARTIFACTS / f"ux-{name}-follow-up.png"))
            alone.click()
            page.wait_for_function("document.querySelectorAll(\"#kb-chat .message.bot, #kb-chat [data-testid='bot']\")"
                                   ".length >= 3", timeout=60_000)
            page.wait_for_timeout(1500)
            standalone = _bot_messages(page).last.inner_text()
            assert "Opfattet som opfølgning" not in standalone and standalone != follow_up
            page.screenshot(path=str(ARTIFACTS / f"ux-{name}-asked-alone.png"))

            page.get_by_role("tab", name="Om vidensbasen").click()
            documents = page.locator("#kb-documents")
            documents.locator("table").wait_for()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            assert page.evaluate("(() => { const t = document.querySelector('#kb-documents table');"
                                 " return t.scrollWidth <= t.clientWidth; })()")
            if name == "desktop":  # a header row; on a phone each value carries its column's name
                assert all(documents.locator("th", has_text=h).is_visible()
                           for h in ("Titel", "Type", "Dato", "Udgiver", "Tekststykker"))
            else:
                shown = page.evaluate("[...document.querySelectorAll('#kb-documents td[data-label]')]"
                                      ".map(td => getComputedStyle(td, '::before').content)")
                assert shown and all(any(label in c for label in ("Type", "Dato", "Udgiver", "Tekststykker"))
                                     for c in shown)
            page.screenshot(path=str(ARTIFACTS / f"ux-{name}-documents.png"), full_page=True)
            page.close()
        browser.close()


@pytest.fixture(scope="module")
def llm_app_server(corpus_kb, tmp_path_factory):
    """The scripted OpenAI-compatible server (python -m evals.llm_server) and app.py configured to use
    it, each in its own process on a free loopback port; yields the app's url."""
    import sys
    import time

    from evals.load import free_port

    data_dir, env = app_data_copy(corpus_kb, tmp_path_factory, "llm-app")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "evals.llm_server", "--port", str(port), "--token-delay", "0.15"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
            break
        except OSError:
            time.sleep(0.2)
    env.update(KB_LLM_PROVIDER="openai", KB_LLM_BASE_URL=f"http://127.0.0.1:{port}/v1", KB_LLM_MODEL="scripted",
               KB_LLM_API_KEY="sk-browser-test-key")
    proc, url = start_app(env, data_dir.parent / "app.log")
    yield url, data_dir
    stop_app(proc)
    server.terminate()
    server.wait(timeout=10)
    assert "sk-browser-test-key" not in (data_dir.parent / "app.log").read_text()


@pytest.mark.skipif(not CHROMIUM and not os.environ.get("CI"), reason="Chromium not installed (scripts/test.sh installs it)")
def test_browser_a_model_written_answer_streams_and_shows_that_it_was_checked(llm_app_server):
    """With a chat model configured the answer grows token by token in the bubble; when it is complete
    it is validated, cited and marked as checked against its sources."""
    import time

    from playwright.sync_api import sync_playwright

    url, _ = llm_app_server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="da-DK")
        page.goto(url)
        box = page.locator("#kb-question textarea")
        box.fill("Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?")
        box.press("Enter")
        seen: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            bots = _bot_messages(page)
            text = bots.last.inner_text() if bots.count() else ""
            if text and (not seen or seen[-1] != text):
                seen.append(text)
            if "kontrolleret mod de citerede kilder" in text:
                break
            time.sleep(0.1)
        final = seen[-1]
        assert "kontrolleret mod de citerede kilder" in final and "[1]" in final and "31. maj 2025" in final
        growing = [t for t in seen if "Forbereder" not in t and "kontrolleret" not in t]
        assert len(growing) >= 2 and len(growing[0]) < len(growing[-1])  # it streamed, it did not arrive whole
        page.locator("#kb-sources .kb-source").first.wait_for(timeout=30_000)
        assert "31. maj 2025" in page.locator("#kb-sources").inner_text()
        page.screenshot(path=str(ARTIFACTS / "chat-llm-desktop-1280x800.png"), full_page=True)
        browser.close()


def _at_two_widths(url: str):
    """The chat in Chromium at desktop and at phone width, in turn: (name, page), each page closed after."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for name, viewport in (("desktop-1280x800", {"width": 1280, "height": 800}),
                               ("phone-390", {"width": 390, "height": 844})):
            page = browser.new_page(viewport=viewport, locale="da-DK")
            page.goto(url)
            yield name, page
            page.close()
        browser.close()


@pytest.mark.skipif(not CHROMIUM and not os.environ.get("CI"), reason="Chromium not installed (scripts/test.sh installs it)")
def test_browser_the_timeline_tab_shows_a_matters_documents_in_date_order(app_server):
    for name, page in _at_two_widths(app_server[0]):
        page.get_by_role("tab", name="Tidslinje").click()
        steps = page.locator("#kb-timeline .kb-step")
        steps.first.wait_for(timeout=30_000)
        dates = [steps.nth(i).locator(".kb-step-date").inner_text() for i in range(steps.count())]
        assert dates == ["2019-11-26", "2022-09-27", "2024-05", "2025-05-15"]
        assert steps.first.locator("blockquote").is_visible()
        assert "Central udmelding" in page.locator("#kb-timeline h3").first.inner_text()
        page.screenshot(path=str(ARTIFACTS / f"timeline-{name}.png"), full_page=True)


@pytest.mark.skipif(not CHROMIUM and not os.environ.get("CI"), reason="Chromium not installed (scripts/test.sh installs it)")
def test_browser_a_documents_overview_for_new_staff(app_server):
    import re

    for name, page in _at_two_widths(app_server[0]):
        page.get_by_role("tab", name="Om vidensbasen").click()
        page.locator("#kb-overview-pick input").click()
        page.get_by_role("option", name=re.compile("^Afrapportering: Social")).click()
        view = page.locator("#kb-overview")
        view.get_by_text("DASSOS").wait_for(timeout=30_000)
        text = view.inner_text()
        assert "dokument 4 af 4" in text and "Besvarer" in text and "Formål" in text
        assert "Den Administrative Styregruppe for Social- og Specialundervisningsområdet" in text
        assert "senest den 31. maj 2025" in text  # a deadline it mentions, quoted
        line = view.locator("summary", has_text="senest den 31. maj 2025").first
        line.click()  # opens the passage it stands in, the line marked
        assert "senest den 31. maj 2025" in view.locator("details[open] mark").first.inner_text()
        page.wait_for_timeout(600)  # the option list's closing animation
        page.screenshot(path=str(ARTIFACTS / f"overview-{name}.png"), full_page=True)
