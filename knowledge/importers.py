"""Reading article exports: a folder (or .zip) of Markdown or HTML files, or a JSONL file.

Readers only parse; `knowledge.services.articles_import` does the writing. Every source file
becomes an `ImportRow`, and a file that cannot become an article carries the reason instead,
so the report can name each file.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

from django.utils.text import slugify

MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl"}
FIELDS = ("slug", "title", "body", "category", "intents", "audience", "locale", "status")
# An upload is read into memory: refuse archives that would unpack into something huge.
MAX_FILES = 5000
MAX_TOTAL_BYTES = 50 * 1024 * 1024


class ImportSourceError(ValueError):
    """The source as a whole cannot be read (missing path, corrupt archive, too large)."""


@dataclass
class ImportRow:
    source: str  # file name, or "file.jsonl:LINE"
    values: dict = field(default_factory=dict)  # only the fields the source gave
    error: str = ""


def rows_from_path(path: str | Path) -> list[ImportRow]:
    """Rows from a folder, a .zip, a .jsonl file or a single .md/.html file."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p.relative_to(path) for p in path.rglob("*") if p.is_file())
        return list(
            _rows((str(name), (path / name).read_bytes()) for name in files if not _hidden(name))
        )
    if not path.is_file():
        raise ImportSourceError(f"{path} does not exist.")
    if path.suffix.lower() == ".zip":
        with path.open("rb") as handle:
            return rows_from_zip(handle)
    return list(_rows([(path.name, path.read_bytes())]))


def rows_from_upload(name: str, data: bytes) -> list[ImportRow]:
    """Rows from an uploaded file: a .zip of exports, a .jsonl, or one .md/.html file."""
    if name.lower().endswith(".zip"):
        return rows_from_zip(io.BytesIO(data))
    return list(_rows([(name, data)]))


def rows_from_zip(handle) -> list[ImportRow]:
    try:
        archive = zipfile.ZipFile(handle)
    except zipfile.BadZipFile as exc:
        raise ImportSourceError("That is not a readable .zip file.") from exc
    with archive:
        members = [
            m
            for m in archive.infolist()
            if not m.is_dir() and not _hidden(PurePosixPath(m.filename))
        ]
        if len(members) > MAX_FILES:
            raise ImportSourceError(
                f"The archive holds {len(members)} files; at most {MAX_FILES} are imported at once."
            )
        if sum(m.file_size for m in members) > MAX_TOTAL_BYTES:
            raise ImportSourceError("The archive unpacks to more than 50 MB.")
        members.sort(key=lambda m: m.filename)
        return list(_rows((m.filename, archive.read(m)) for m in members))


def _hidden(path: PurePosixPath | Path) -> bool:
    # Finder and Windows leave these in folders and zips; they are never articles.
    return (
        any(part.startswith(".") or part == "__MACOSX" for part in path.parts)
        or path.name == "Thumbs.db"
    )


def _rows(files) -> Iterator[ImportRow]:
    for name, data in files:
        suffix = PurePosixPath(name).suffix.lower()
        if suffix not in MARKDOWN_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES:
            yield ImportRow(source=name, error="not a .md, .html or .jsonl file")
            continue
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            yield ImportRow(source=name, error="not UTF-8 text")
            continue
        if suffix in JSONL_SUFFIXES:
            yield from parse_jsonl(name, text)
        elif suffix in HTML_SUFFIXES:
            yield parse_html(name, text)
        else:
            yield parse_markdown(name, text)


def _slug_from_name(name: str) -> str:
    return slugify(PurePosixPath(name).stem)[:120]


# --- JSONL -----------------------------------------------------------------------------------


def parse_jsonl(name: str, text: str) -> Iterator[ImportRow]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        source = f"{name}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            yield ImportRow(source=source, error=f"invalid JSON ({exc.msg})")
            continue
        if not isinstance(data, dict):
            yield ImportRow(source=source, error="a line must be a JSON object")
            continue
        yield ImportRow(source=source, values={k: data[k] for k in FIELDS if k in data})


# --- Markdown --------------------------------------------------------------------------------

FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def parse_markdown(name: str, text: str) -> ImportRow:
    """Front matter (optional) gives the fields; else the first heading is the title."""
    values: dict = {}
    match = FRONT_MATTER.match(text)
    if match:
        try:
            values = parse_front_matter(match.group(1))
        except ValueError as exc:
            return ImportRow(source=name, error=f"front matter: {exc}")
        text = text[match.end() :]
    body = text.strip()
    heading = HEADING.search(body)
    if heading and not body[: heading.start()].strip():
        # The page renders the title itself: a leading heading that is the title would repeat it.
        if "title" not in values:
            values["title"] = heading.group(1).strip()
        if heading.group(1).strip() == values["title"]:
            body = body[heading.end() :].strip()
    values.setdefault("slug", _slug_from_name(name))
    values["body"] = body
    return ImportRow(source=name, values=values)


def parse_front_matter(text: str) -> dict:
    """The small YAML subset exports use: `key: value`, `key: [a, b]` and `- item` lists."""
    values: dict = {}
    current_list: list | None = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = re.match(r"^\s*-\s+(.*)$", line)
        if item and current_list is not None:
            current_list.append(_scalar(item.group(1)))
            continue
        pair = re.match(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$", line)
        if not pair:
            raise ValueError(f"cannot read the line {line.strip()!r}")
        key, value = pair.group(1).lower(), pair.group(2).strip()
        current_list = None
        if not value:
            current_list = values[key] = []
        elif value.startswith("[") and value.endswith("]"):
            values[key] = [_scalar(v) for v in value[1:-1].split(",") if v.strip()]
        else:
            values[key] = _scalar(value)
    if isinstance(values.get("intents"), str):
        values["intents"] = [v.strip() for v in values["intents"].split(",") if v.strip()]
    return {k: v for k, v in values.items() if k in FIELDS}


def _scalar(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


# --- HTML ------------------------------------------------------------------------------------

# Whole subtrees that are never article text. Scripts and styles above all; the rest is a
# help-centre page's chrome around the article.
SKIPPED_TAGS = set(
    "script style noscript template iframe object embed svg canvas head title nav header footer "
    "form button select textarea aside".split()
)
VOID_TAGS = set("area base br col embed hr img input link meta source track wbr".split())
BLOCK_TAGS = set("p div section article main blockquote pre table tr dl dt dd figure".split())


class _HtmlToMarkdown(HTMLParser):
    """Keeps headings, paragraphs, lists and bold text; every tag and attribute is dropped."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str]] = []  # (kind, text): kind is "h1".."h6", "li" or "p"
        self._skip_depth = 0
        self._kind = "p"
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in VOID_TAGS:
            if tag == "br" and not self._skip_depth:
                self._text.append("\n")
            return
        if self._skip_depth or tag in SKIPPED_TAGS:
            self._skip_depth += 1
            return
        if re.fullmatch(r"h[1-6]|li", tag) or tag in BLOCK_TAGS or tag in ("ul", "ol"):
            self._flush()
            self._kind = tag if tag.startswith("h") or tag == "li" else "p"
        elif tag in ("strong", "b"):
            self._text.append("**")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag in VOID_TAGS:
            return
        if self._skip_depth:
            self._skip_depth -= 1
            return
        if re.fullmatch(r"h[1-6]|li", tag) or tag in BLOCK_TAGS or tag in ("ul", "ol"):
            self._flush()
        elif tag in ("strong", "b"):
            self._text.append("**")

    def handle_data(self, data):
        if not self._skip_depth:
            # Line breaks in HTML source are spaces; only <br> breaks a line.
            self._text.append(re.sub(r"\s+", " ", data))

    def close(self):
        super().close()
        self._flush()

    def _flush(self):
        text = "".join(self._text)
        self._text = []
        kind, self._kind = self._kind, "p"
        lines = [re.sub(r"\s+", " ", line).strip() for line in text.split("\n")]
        text = "\n".join(line for line in lines if line).replace("****", "")
        if text.strip("* \n"):
            self.blocks.append((kind, text))


class _TitleReader(HTMLParser):
    """`<title>` lives in `<head>`, which the body converter skips whole."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title = ""
        self._inside = False

    def handle_starttag(self, tag, attrs):
        self._inside = tag == "title"

    def handle_endtag(self, tag):
        self._inside = False

    def handle_data(self, data):
        if self._inside and not self.title:
            self.title = re.sub(r"\s+", " ", data).strip()


def html_to_markdown(html: str) -> tuple[str, str, str]:
    """(first h1, <title>, Markdown body without that h1)."""
    converter = _HtmlToMarkdown()
    converter.feed(html)
    converter.close()
    title_reader = _TitleReader()
    title_reader.feed(html)
    title_reader.close()
    h1 = ""
    parts = []
    for kind, text in converter.blocks:
        flat = text.replace("\n", " ")
        if kind == "h1" and not h1:
            h1 = flat.replace("**", "")
        elif kind.startswith("h"):
            parts.append(f"{'#' * int(kind[1])} {flat.replace('**', '')}")
        elif kind == "li":
            parts.append(f"- {flat}")
        else:
            parts.append(text)
    # List items sit on consecutive lines so they render as one list.
    body = ""
    for part in parts:
        if body:
            body += (
                "\n"
                if part.startswith("- ") and body.rsplit("\n", 1)[-1].startswith("- ")
                else "\n\n"
            )
        body += part
    return h1, title_reader.title, body


def parse_html(name: str, text: str) -> ImportRow:
    h1, title, body = html_to_markdown(text)
    return ImportRow(
        source=name, values={"slug": _slug_from_name(name), "title": h1 or title, "body": body}
    )
