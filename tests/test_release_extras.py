"""Release attachments (confined to the release folder), links, About/contact blocks, end marks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from distrib.errors import ReleaseError
from distrib.release import read_release
from distrib.release_extras import format_size, has_end_mark
from render_helpers import EN_FRONT, FR_FRONT, write_document


def release_with(tmp_path: Path, front: str, **options: float) -> Path:
    folder = tmp_path / "release"
    write_document(folder, "fr", FR_FRONT + front)
    return folder


def problems_of(folder: Path, **options: float) -> list[str]:
    with pytest.raises(ReleaseError) as info:
        read_release(folder, **options)
    return [p.message for p in info.value.problems]


def test_attachments_are_read_with_their_type(tmp_path: Path) -> None:
    folder = release_with(tmp_path, "attachments:\n  - photos/marché.jpg\n  - fiche.pdf\n")
    (folder / "photos").mkdir()
    (folder / "photos" / "marché.jpg").write_bytes(b"\xff\xd8\xff" + b"x" * 100)
    (folder / "fiche.pdf").write_bytes(b"%PDF-1.7\n")
    document = read_release(folder).documents["fr"]
    photo, sheet = document.attachments
    assert (photo.name, photo.filename, photo.content_type, photo.size) == (
        "photos/marché.jpg",
        "marché.jpg",
        "image/jpeg",
        103,
    )
    assert photo.path == (folder / "photos" / "marché.jpg").resolve()
    assert (sheet.content_type, sheet.data) == ("application/pdf", b"%PDF-1.7\n")


def test_one_attachment_may_be_written_as_plain_text(tmp_path: Path) -> None:
    folder = release_with(tmp_path, "attachments: notes.bin\n")
    (folder / "notes.bin").write_bytes(b"\x00\x01")
    [attachment] = read_release(folder).documents["fr"].attachments
    assert attachment.content_type == "application/octet-stream"


@pytest.mark.parametrize(
    ("written", "fragment"),
    [
        ("../secret.txt", "'..' is not allowed"),
        ("photos/../../secret.txt", "'..' is not allowed"),
        ("/etc/passwd", "absolute paths are not allowed"),
        ("C:/Windows/win.ini", "write paths with '/'"),
        ("photos\\\\x.jpg", "write paths with '/'"),
        ("absent.pdf", "file not found"),
        ("photos", "not a file"),
    ],
)
def test_attachment_paths_stay_inside_the_release_folder(
    tmp_path: Path, written: str, fragment: str
) -> None:
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    folder = release_with(tmp_path, f'attachments: ["{written}"]\n')
    (folder / "photos").mkdir()
    [message] = problems_of(folder)
    assert message.startswith("attachments: ") and fragment in message, message


def test_a_symlink_leading_out_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    folder = release_with(tmp_path, "attachments: [photo.jpg, inside.txt]\n")
    os.symlink(tmp_path / "secret.txt", folder / "photo.jpg")
    (folder / "real.txt").write_text("ok", encoding="utf-8")
    os.symlink(folder / "real.txt", folder / "inside.txt")  # a symlink within the folder is fine
    [message] = problems_of(folder)
    assert "'photo.jpg': leads outside the release folder" in message


def test_total_size_limit_is_a_clear_error(tmp_path: Path) -> None:
    folder = release_with(tmp_path, "attachments: [a.bin, b.bin]\n")
    (folder / "a.bin").write_bytes(b"x" * 700_000)
    (folder / "b.bin").write_bytes(b"x" * 600_000)
    [message] = problems_of(folder, max_attachments_mb=1)
    assert message == (
        "attachments: the attachments add up to 1.3 MB, over the 1.0 MB limit (campaign key"
        " max_attachments_mb); link large files instead (front matter 'links')"
    )
    assert read_release(folder, max_attachments_mb=2).documents["fr"].attachments


def test_bilingual_total_counts_both_documents(tmp_path: Path) -> None:
    folder = tmp_path / "release"
    write_document(folder, "fr", FR_FRONT + "attachments: [fr.bin, shared.bin]\n")
    write_document(folder, "en", EN_FRONT + "attachments: [en.bin, shared.bin]\n")
    for name in ("fr.bin", "en.bin", "shared.bin"):
        (folder / name).write_bytes(b"x" * 400_000)
    # Each document holds 0.8 MB; a bilingual message holds the three files: 1.2 MB.
    [message] = problems_of(folder, max_attachments_mb=1)
    assert message.startswith("attachments (fr.md and en.md): the attachments add up to 1.2 MB")


def test_repeated_attachment_is_reported(tmp_path: Path) -> None:
    folder = release_with(tmp_path, "attachments: [a.txt, ./a.txt]\n")
    (folder / "a.txt").write_text("a", encoding="utf-8")
    assert problems_of(folder) == ["attachments: './a.txt' is listed twice"]


def test_links_take_a_url_or_a_title_and_url(tmp_path: Path) -> None:
    front = (
        "links:\n"
        "  - https://agapc.example/photos\n"
        "  - title: Fiche « technique »\n"
        "    url: https://agapc.example/fiche.pdf\n"
    )
    links = read_release(release_with(tmp_path, front)).documents["fr"].links
    assert [(link.title, link.url) for link in links] == [
        ("https://agapc.example/photos", "https://agapc.example/photos"),
        ("Fiche « technique »", "https://agapc.example/fiche.pdf"),
    ]


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ("javascript:alert(1)", "must start with https://"),
        ("https://a.example/x y", "no spaces"),
        ("{title: x}", "'title' and 'url'"),
        ("{url: 'https://a.example', colour: red}", "'title' and 'url'"),
    ],
)
def test_bad_links_are_reported(tmp_path: Path, item: str, fragment: str) -> None:
    [message] = problems_of(release_with(tmp_path, f"links: [{item}]\n"))
    assert message.startswith("links: ") and fragment in message


def test_list_keys_must_be_lists(tmp_path: Path) -> None:
    [message] = problems_of(release_with(tmp_path, "links:\n  a: b\n"))
    assert message == "links: must be a list ('- item' lines)"


def test_about_and_media_contact_blocks(tmp_path: Path) -> None:
    front = (
        "about: |\n  ### À propos de l’AGAPC\n  Fondée en **1987**.\n"
        "media_contact: |\n  Julien Ostiguy\\\n  514 555-0142\n"
    )
    document = read_release(release_with(tmp_path, front)).documents["fr"]
    assert (
        document.about_html
        == "<h3>À propos de l’AGAPC</h3>\n<p>Fondée en <strong>1987</strong>.</p>\n"
    )
    assert document.about_text == "À propos de l’AGAPC\n\nFondée en 1987."
    assert document.media_contact_text == "Julien Ostiguy\n514 555-0142"
    assert "about" not in document.meta and "media_contact" not in document.meta
    assert document.end_mark == "– 30 –"
    assert not document.has_end_mark


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Texte.\n\n– 30 –\n\nContact", True),
        ("Text.\n\n-30-\n", True),
        ("Text.\n\n- 30 -\n", True),
        ("Text.\n\n###\n", True),
        ("Text.\n\n-FIN-\n", True),
        ("Le score était de 30 - 12.\n", False),
        ("Text.\n", False),
    ],
)
def test_end_mark_detection(body: str, expected: bool) -> None:
    assert has_end_mark(body) is expected


def test_sizes_read_well() -> None:
    assert [format_size(n) for n in (12, 8_400, 12_500_000)] == ["12 bytes", "8 KB", "12.5 MB"]
