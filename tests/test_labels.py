"""Tags and metadata on uploads: parsing rules, then the real app, store, model and CLI.

The parsing tests are plain functions. The app tests drive the real API and pages with the
session's local model and a real Qdrant Edge store, and look at the stored points themselves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from ingest.jobs import JobInfo
from search.errors import InvalidLabelsError
from search.labels import MAX_TAGS, Labels, build_labels, parse_metadata, parse_tags
from search.results import DocumentInfo
from tests.apphelpers import assert_error_shape, wait_for_job
from web.app import create_app
from web.cli import app as cli_app
from web.settings import Settings
from web.templating import templates

# -- parsing ---------------------------------------------------------------------------------


def test_tags_are_split_trimmed_lower_cased_and_deduplicated() -> None:
    tags = parse_tags(["Finance,  Q3   Reports ,", "finance", " , pets", "PETS,q3 reports"])
    assert tags == ("finance", "q3 reports", "pets")
    assert parse_tags([]) == () and parse_tags(["", " , ,"]) == ()
    assert parse_tags(["Çafé"]) == ("çafé",)


def test_bad_tags_are_all_named_in_one_error() -> None:
    with pytest.raises(InvalidLabelsError) as caught:
        parse_tags(["ok, " + "x" * 51, "bell\x07"])
    problems = caught.value.problems
    assert len(problems) == 2
    assert "longer than 50 characters" in problems[0]
    assert "control characters" in problems[1]
    assert caught.value.message.startswith("invalid labels: ")
    assert parse_tags(["x" * 50]) == ("x" * 50,)


def test_at_most_twenty_tags() -> None:
    assert len(parse_tags([",".join(f"t{i}" for i in range(MAX_TAGS))])) == MAX_TAGS
    with pytest.raises(InvalidLabelsError, match="21 tags given, at most 20"):
        parse_tags([f"t{i}" for i in range(MAX_TAGS + 1)])


def test_metadata_from_entries_lines_and_a_mapping() -> None:
    labels = build_labels(
        metadata_entries=["author = Ann Smith ", "year=2024\r\n\nsource=a=b"],
        metadata={"Lang": "en", "year": "2024"},
    )
    assert labels.metadata == {
        "author": "Ann Smith",
        "year": "2024",
        "source": "a=b",  # only the first '=' separates
        "Lang": "en",  # keys keep their case
    }
    assert parse_metadata([]) == {}


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("meta.author=Ann", "no dots"),
        ("my key=1", "no dots or spaces"),
        ("=value", "must be 1 to 40"),
        ("k" * 41 + "=v", "must be 1 to 40"),
        ("author=", "empty value"),
        ("author=" + "v" * 201, "longer than 200"),
        ("just text", "not of the form key=value"),
        ("author=Ann\nauthor=Bob", "given twice"),
    ],
)
def test_bad_metadata_is_refused_naming_the_problem(entry: str, problem: str) -> None:
    with pytest.raises(InvalidLabelsError, match=problem):
        parse_metadata([entry])


def test_metadata_limits_and_types() -> None:
    assert parse_metadata(["a=1", "a=1"]) == {"a": "1"}  # the same pair twice is no conflict
    assert len(parse_metadata([f"k{i}=v" for i in range(20)])) == 20
    with pytest.raises(InvalidLabelsError, match="21 metadata keys"):
        parse_metadata([f"k{i}=v" for i in range(21)])
    with pytest.raises(InvalidLabelsError, match="must be a string, not int"):
        build_labels(metadata={"year": 2024})


def test_labels_payload_is_what_the_chunks_carry() -> None:
    labels = build_labels(tags=["B, a"], metadata_entries=["k=v"])
    assert labels == Labels(tags=("b", "a"), metadata={"k": "v"})
    assert labels.payload() == {"tags": ["b", "a"], "meta": {"k": "v"}}


# -- the real app ----------------------------------------------------------------------------

CATS = (
    "Cats and kittens\n\nThe cat sat on the warm mat by the fire and purred. Kittens chase "
    "balls of wool around the living room, and an old tabby sleeps in the sun all afternoon.\n"
)
MONEY = (
    "Quarterly report\n\nStock markets fell sharply after the quarterly earnings report. "
    "Investors worry about rising interest rates and the outlook for bank lending.\n"
)


@pytest.fixture
def client(tmp_path: Path, local_provider: object) -> Iterator[TestClient]:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path / "data", SEMSEARCH_MAX_UPLOAD_MB=5)
    with TestClient(create_app(settings, embedder=local_provider)) as test_client:  # type: ignore[arg-type]
        yield test_client


def upload(client: TestClient, name: str, text: str, **fields: str | list[str]) -> dict[str, Any]:
    """Upload one file with form fields; wait for its job to end."""
    response = client.post("/api/documents", files=[("files", (name, text.encode()))], data=fields)
    assert response.status_code == 202, response.text
    (job,) = response.json()["jobs"]
    done = wait_for_job(client, job["id"])
    assert done["status"] == "done", done
    return done


def documents(client: TestClient, **params: str) -> dict[str, dict[str, Any]]:
    listed = client.get("/api/documents", params=params).json()["documents"]
    return {d["filename"]: d for d in listed}


def hit_files(body: dict[str, Any]) -> list[str]:
    return sorted(hit["filename"] for hit in body["results"])


@pytest.fixture
def two_documents(client: TestClient) -> dict[str, str]:
    """cats.txt tagged pets/home by Ann; money.txt tagged finance by Bob."""
    cats = upload(client, "cats.txt", CATS, tags=["Pets, home"], metadata=["author=Ann"])
    money = upload(client, "money.txt", MONEY, tags="finance", metadata=["author=Bob\nyear=2024"])
    return {"cats.txt": cats["doc_id"], "money.txt": money["doc_id"]}


@pytest.mark.slow
def test_labels_are_listed_and_on_every_chunk(
    client: TestClient, two_documents: dict[str, str]
) -> None:
    listed = documents(client)
    assert listed["cats.txt"]["tags"] == ["pets", "home"]
    assert listed["cats.txt"]["metadata"] == {"author": "Ann"}
    assert listed["money.txt"]["tags"] == ["finance"]
    assert listed["money.txt"]["metadata"] == {"author": "Bob", "year": "2024"}
    store = client.app.state.services.store  # type: ignore[attr-defined]
    for name, doc_id in two_documents.items():
        chunks = store.count({"doc_id": doc_id, "kind": "chunk"})
        assert chunks == listed[name]["chunks"] >= 1
        tag = listed[name]["tags"][0]
        author = listed[name]["metadata"]["author"]
        assert store.count({"doc_id": doc_id, "kind": "chunk", "tags": tag}) == chunks
        assert store.count({"doc_id": doc_id, "kind": "chunk", "meta.author": author}) == chunks
        for point in store.scroll({"doc_id": doc_id}):  # chunks and the document point
            assert point.payload["tags"] == listed[name]["tags"]
            assert point.payload["meta"] == listed[name]["metadata"]
    assert documents(client, tags="PETS").keys() == {"cats.txt"}
    assert documents(client, tags="nope").keys() == set()


@pytest.mark.slow
def test_search_filters_on_any_tag_and_all_metadata(
    client: TestClient, two_documents: dict[str, str]
) -> None:
    def get(**params: Any) -> dict[str, Any]:
        response = client.get("/api/search", params={"q": "report about cats", **params})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    assert hit_files(get()) == ["cats.txt", "money.txt"]
    assert hit_files(get(tags="pets")) == ["cats.txt"]
    assert hit_files(get(tags="PETS", group="false")) == ["cats.txt"]  # passages too
    assert hit_files(get(tags=["pets", "finance"])) == ["cats.txt", "money.txt"]  # any of
    assert hit_files(get(tags="home,finance")) == ["cats.txt", "money.txt"]
    assert hit_files(get(tags="travel")) == []
    assert hit_files(get(meta="author=Bob")) == ["money.txt"]
    assert hit_files(get(meta=["author=Bob", "year=2024"])) == ["money.txt"]  # all of
    assert hit_files(get(meta=["author=Bob", "year=2023"])) == []
    assert hit_files(get(meta="author=Bob", tags="pets")) == []
    for mode in ("dense", "keyword"):
        assert hit_files(get(tags="finance", mode=mode, q="stock markets cats")) == ["money.txt"]
    body = client.post(
        "/api/search", json={"q": "cats", "tags": ["Home"], "metadata": {"author": "Ann"}}
    ).json()
    assert hit_files(body) == ["cats.txt"]
    assert body["results"][0]["tags"] == ["pets", "home"]


@pytest.mark.slow
def test_invalid_labels_are_a_422_naming_the_problem_and_queue_nothing(
    client: TestClient,
) -> None:
    response = client.post(
        "/api/documents",
        files=[("files", ("cats.txt", CATS.encode()))],
        data={"tags": "x" * 51, "metadata": ["meta.author=Ann"]},
    )
    error = assert_error_shape(response.json(), 422)
    assert response.status_code == 422
    assert error["code"] == "invalid_labels"
    assert "longer than 50 characters" in error["message"]
    assert "'meta.author'" in error["message"]
    assert len(error["problems"]) == 2
    assert client.get("/api/jobs").json()["jobs"] == []

    searched = client.get("/api/search", params={"q": "cats", "meta": "author"})
    error = assert_error_shape(searched.json(), 422)
    assert error["code"] == "invalid_labels" and "key=value" in error["message"]
    posted = client.post("/api/search", json={"q": "cats", "metadata": {"a b": "x"}})
    assert assert_error_shape(posted.json(), 422)["code"] == "invalid_labels"


@pytest.mark.slow
def test_reuploading_the_same_bytes_with_new_labels_relabels_without_duplicates(
    client: TestClient, two_documents: dict[str, str]
) -> None:
    store = client.app.state.services.store  # type: ignore[attr-defined]
    doc_id = two_documents["cats.txt"]
    before = store.count()
    again = upload(client, "cats.txt", CATS, tags="animals", metadata="author=Carol")
    assert again["doc_id"] == doc_id and again["already_indexed"] is False
    assert store.count() == before
    listed = documents(client)
    assert listed["cats.txt"]["tags"] == ["animals"]
    assert listed["cats.txt"]["metadata"] == {"author": "Carol"}
    assert store.count({"doc_id": doc_id, "tags": "pets"}) == 0
    chunks = store.count({"doc_id": doc_id, "kind": "chunk"})
    assert store.count({"doc_id": doc_id, "kind": "chunk", "tags": "animals"}) == chunks
    found = client.get("/api/search", params={"q": "cats", "tags": "animals"}).json()
    assert hit_files(found) == ["cats.txt"]
    assert client.get("/api/search", params={"q": "cats", "tags": "pets"}).json()["results"] == []
    # The same bytes and the same labels once more: nothing to do.
    same = upload(client, "cats.txt", CATS, tags="animals", metadata="author=Carol")
    assert same["already_indexed"] is True and store.count() == before


@pytest.mark.slow
def test_pages_take_and_show_labels(client: TestClient) -> None:
    refused = client.post(
        "/upload",
        files=[("files", ("cats.txt", CATS.encode()))],
        data={"tags": "pets", "metadata": "author=Ann\nno equals sign"},
    )
    assert refused.status_code == 422
    assert "not of the form key=value" in refused.text
    assert 'value="pets"' in refused.text and "no equals sign</textarea>" in refused.text
    assert client.get("/api/jobs").json()["jobs"] == []

    accepted = client.post(
        "/upload",
        files=[("files", ("cats.txt", CATS.encode()))],
        data={"tags": "Pets, home", "metadata": "author=Ann\r\nyear=2024"},
    )
    assert accepted.status_code == 202, accepted.text
    (job,) = client.get("/api/jobs").json()["jobs"]
    assert wait_for_job(client, job["id"])["status"] == "done"
    upload(client, "money.txt", MONEY, tags="finance")
    assert documents(client)["cats.txt"]["metadata"] == {"author": "Ann", "year": "2024"}

    page = client.get("/documents").text
    assert '<a class="tag" href="/documents?tags=pets">pets</a>' in page
    assert ">finance</a>" in page
    filtered = client.get("/documents", params={"tags": "finance"}).text
    assert "money.txt" in filtered and "cats.txt" not in filtered

    html = client.get("/", params={"q": "report about cats", "tags": "pets"}).text
    assert 'name="tags" value="pets"' in html
    hits = html.split('<li class="hit">')[1:]
    assert len(hits) == 1 and "cats.txt" in hits[0] and ">home</a>" in hits[0]
    bad = client.get("/", params={"q": "cats", "tags": "x" * 51})
    assert bad.status_code == 422 and "longer than 50 characters" in bad.text


def test_documents_page_shows_the_stage_of_files_being_worked_on() -> None:
    """Rendered straight from the template: a real job is too quick to catch mid-way."""
    job = JobInfo(
        id="j1",
        filename="big.pdf",
        status="processing",
        stage="embedding",
        done=40,
        total=120,
        doc_id="d1",
        created_at="2024-01-01T00:00:00+00:00",
    )
    row = DocumentInfo(
        doc_id="d1",
        filename="big.pdf",
        title="big.pdf",
        pages=0,
        chunks=0,
        bytes=0,
        status="processing",
    )
    html = templates.get_template("documents.html").render(
        documents=[row], active={"d1": job}, tags=[], page="documents"
    )
    assert '<span class="progress">embedding 40/120</span>' in html


# -- the CLI ---------------------------------------------------------------------------------


def cli(data: Path, *args: str) -> Result:
    """`semsearch ARGS` in this process (tests/test_cli.py runs it as a subprocess; here the
    torch start-up is paid once, not once a command)."""
    env = {
        "SEMSEARCH_DATA_DIR": str(data),
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "200",
        **dict.fromkeys(("HF_TOKEN", "EMBEDDINGS_ENDPOINT", "EMBEDDINGS_PROVIDER", "QDRANT_URL")),
    }
    return CliRunner().invoke(cli_app, list(args), env=env)


@pytest.mark.slow
def test_cli_tag_and_meta_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (tmp_path / "cats.txt").write_text(CATS)
    (tmp_path / "money.txt").write_text(MONEY)

    bad = cli(data, "ingest", str(tmp_path / "cats.txt"), "--meta", "author", "--tag", "x" * 51)
    assert bad.exit_code == 2
    assert "not of the form key=value" in bad.stderr and "longer than 50" in bad.stderr
    assert not data.exists()  # refused before anything was opened

    cats = str(tmp_path / "cats.txt")
    tagged = cli(data, "ingest", cats, "--tag", "Pets", "--tag", "home", "--meta", "author=Ann")
    assert tagged.exit_code == 0, tagged.output
    assert "labels: tags: pets, home; author=Ann" in tagged.stdout
    plain = cli(data, "ingest", str(tmp_path / "money.txt"))
    assert plain.exit_code == 0, plain.output

    listed = json.loads(cli(data, "documents", "--json").stdout)["documents"]
    by_name = {d["filename"]: d for d in listed}
    assert by_name["cats.txt"]["tags"] == ["pets", "home"]
    assert by_name["cats.txt"]["metadata"] == {"author": "Ann"}
    assert by_name["money.txt"]["tags"] == []

    searched = cli(data, "search", "report about cats", "--json", "--tag", "PETS")
    assert searched.exit_code == 0, searched.output
    assert hit_files(json.loads(searched.stdout)) == ["cats.txt"]
    by_meta = cli(data, "search", "report", "--json", "--meta", "author=Ann")
    assert hit_files(json.loads(by_meta.stdout)) == ["cats.txt"]
    shown = cli(data, "search", "cats", "--tag", "pets")
    assert "tags: pets, home" in shown.stdout
