"""The workspace: loading and validating distrib.toml and release.toml, which release a command
means, `distrib init`, `release new`, `templates copy` and `migrate`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaign_helpers import write_campaign
from distrib.app import (
    copy_templates,
    create_release,
    locate_log,
    migrate_campaign,
    open_release,
    start_workspace,
)
from distrib.cli import app
from distrib.errors import ConfigError, InvalidRequestError
from smtp_server import SMTPTestServer
from workspace_helpers import FIRST, SECOND, WorkspaceFiles, write_release, write_workspace

runner = CliRunner()


def distrib(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def ws(tmp_path: Path) -> WorkspaceFiles:
    return write_workspace(tmp_path / "ws", port=2525)


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


# -- a release resolves to a campaign ------------------------------------------------------------


def test_a_release_is_the_workspace_settings_named_by_its_folder(ws: WorkspaceFiles) -> None:
    campaign = open_release(ws.release(FIRST))
    assert campaign.name == FIRST  # its key in the log: "already sent" is per release
    assert campaign.release == ws.release(FIRST)
    assert campaign.log_target == ws.log  # the workspace's single log
    assert campaign.workspace == ws.file
    assert campaign.timezone == "America/Toronto"
    assert [s.list_name for s in campaign.sources] == ["medias.csv", "English media"]
    assert campaign.sources[1].language == "en"
    assert campaign.segments["culture"].include == {"rubrique": ("Culture",)}
    assert campaign.preview_folder == ws.root / "preview" / FIRST
    # One List-Id for every release of the office (a campaign file's default is per name).
    assert campaign.sender.list_id == "communiques.quais.example"
    assert open_release(ws.release(SECOND)).sender.list_id == "communiques.quais.example"


def test_release_toml_overrides_the_sender_key_by_key_and_may_rename(ws: WorkspaceFiles) -> None:
    (ws.release(SECOND) / "templates").mkdir()
    (ws.release(SECOND) / "release.toml").write_text(
        'name = "second-release"\ntemplates = "templates"\nfallback_language = "en"\n'
        '[sender]\nname = "Cabinet de la présidente"\n'
        '[audience]\ninclude = { beat = "Culture" }\nreceived = "2027-01-premier"\n',
        encoding="utf-8",
    )
    campaign = open_release(ws.release(SECOND))
    assert campaign.name == "second-release"
    assert campaign.templates == ws.release(SECOND) / "templates"
    assert campaign.fallback_language == "en"
    assert campaign.sender.name == "Cabinet de la présidente"
    assert campaign.sender.address == "presse@quais.example"  # the workspace's, kept
    assert campaign.audience.include == {"beat": ("Culture",)}
    assert campaign.audience.received == FIRST


def test_press_settings_come_from_the_workspace_and_a_release_may_override_them(
    tmp_path: Path,
) -> None:
    """[press] in distrib.toml holds for every release; a release.toml's [press] replaces
    only the keys it gives; the office's timezone is the default press time zone."""
    ws = write_workspace(
        tmp_path / "ws",
        port=2525,
        extra='[press]\nembargo_in_subject = false\nimmediate_release_fr = "Diffusion libre"\n',
    )
    text = ws.file.read_text(encoding="utf-8")
    ws.file.write_text(text.replace('"America/Toronto"', '"America/Vancouver"'), encoding="utf-8")
    first = open_release(ws.release(FIRST))
    assert first.press.time_zone == "America/Vancouver"  # the workspace's timezone
    assert first.press.embargo_in_subject is False
    assert first.press.immediate_release_fr == "Diffusion libre"
    (ws.release(SECOND) / "release.toml").write_text(
        '[press]\nembargo_in_subject = true\ntime_zone = "America/Halifax"\n', encoding="utf-8"
    )
    second = open_release(ws.release(SECOND))
    assert second.press.embargo_in_subject is True
    assert second.press.time_zone == "America/Halifax"
    assert second.press.immediate_release_fr == "Diffusion libre"  # the workspace's, kept
    (ws.release(SECOND) / "release.toml").write_text(
        '[press]\ntime_zone = "Mars/Olympus"\ndrop_embargo = true\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError) as exc:
        open_release(ws.release(SECOND))
    assert [p.split(": ", 1)[1] for p in problems(exc)] == [
        "press.time_zone: 'Mars/Olympus' is not a time zone (e.g. America/Toronto)",
        "press.drop_embargo: unknown key (check the spelling; see the README's file reference)",
    ]
    # --drop-embargo is for one run, never a setting of the workspace.
    ws.file.write_text("drop_embargo = true\n" + ws.file.read_text(encoding="utf-8"))
    with pytest.raises(ConfigError) as exc:
        open_release(ws.release(FIRST))
    assert [p.split(": ", 1)[1] for p in problems(exc)] == ["drop_embargo: unknown key"]


def test_every_problem_names_its_file_and_key(ws: WorkspaceFiles) -> None:
    text = ws.file.read_text(encoding="utf-8")
    ws.file.write_text(
        text.replace('timezone = "America/Toronto"', 'timezone = "Mars/Olympus"\nname = "x"'),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        open_release(ws.release(FIRST))
    assert [p.split(": ", 1)[1] for p in problems(exc)] == [
        "name: not a workspace key: a release is named by its folder (or `name` in its"
        " release.toml)"
    ]
    ws.file.write_text(text.replace('timezone = "America/Toronto"', 'timezone = "Mars/Olympus"'))
    (ws.release(FIRST) / "release.toml").write_text(
        '[sender]\naddress = "presse@"\n[audience]\ninclude = { beat = "" }\nsegment = "nope"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        open_release(ws.release(FIRST))
    assert problems(exc) == [
        f"{ws.file}: timezone: 'Mars/Olympus' is not a time zone (e.g. America/Toronto)",
    ]
    ws.file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        open_release(ws.release(FIRST))
    release_toml = ws.release(FIRST) / "release.toml"
    found = problems(exc)
    assert len(found) == 2
    assert found[0].startswith(f"{release_toml}: sender.address: not a valid email address")
    assert found[1].startswith(f"{release_toml}: audience.include: beat: give one or more")


def test_a_segment_the_workspace_lacks_is_an_error_listing_the_segments(
    ws: WorkspaceFiles,
) -> None:
    (ws.release(FIRST) / "release.toml").write_text(
        '[audience]\nsegment = "sport"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError) as exc:
        open_release(ws.release(FIRST))
    assert problems(exc) == [
        f"{ws.release(FIRST) / 'release.toml'}: audience.segment: no segment 'sport'"
        " (segments: culture)"
    ]


# -- which release a command means -------------------------------------------------------------


def test_a_release_is_named_by_its_folder_a_file_in_it_or_the_workspace_and_a_slug(
    ws: WorkspaceFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ws.release(FIRST) / "images").mkdir()
    assert open_release(ws.release(FIRST)).name == FIRST
    assert open_release(ws.release(FIRST) / "images").name == FIRST
    assert open_release(ws.release(FIRST) / "fr.md").name == FIRST
    assert open_release(ws.root, SECOND).name == SECOND
    assert open_release(ws.file, f"releases/{SECOND}/").name == SECOND
    monkeypatch.chdir(ws.release(SECOND) / "..")
    assert open_release(None, FIRST).name == FIRST
    monkeypatch.chdir(ws.release(SECOND))
    assert open_release().name == SECOND
    assert locate_log() == ws.log  # audit commands find the workspace's log from inside it


def test_an_ambiguous_or_unknown_release_lists_the_releases(
    ws: WorkspaceFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidRequestError, match=rf"has 2 releases: say which one.*{SECOND}"):
        open_release(ws.root)
    with pytest.raises(ConfigError) as exc:
        open_release(ws.root, "2027-03-nope")
    assert problems(exc) == [
        f"the workspace {ws.root} has no release '2027-03-nope' (releases: {FIRST}, {SECOND})"
    ]
    with pytest.raises(InvalidRequestError, match="but the folder given is release"):
        open_release(ws.release(FIRST), SECOND)
    # From the workspace's folder, a single release needs no name.
    (ws.release(SECOND) / "fr.md").unlink()
    (ws.release(SECOND) / "en.md").unlink()
    ws.release(SECOND).rmdir()
    monkeypatch.chdir(ws.root)
    assert open_release().name == FIRST
    code, out = distrib("contacts", "check", "--release", "x")
    assert code == 1 and f"no release 'x' (releases: {FIRST})" in out


def test_a_campaign_file_still_works_and_takes_no_release(tmp_path: Path) -> None:
    files = write_campaign(tmp_path / "c", port=2525)
    assert open_release(files.campaign).name == "quays"
    assert open_release(files.folder).name == "quays"  # campaign.toml in the folder
    with pytest.raises(InvalidRequestError, match="is a campaign file with a single release"):
        open_release(files.campaign, "quays")
    with pytest.raises(ConfigError, match=r"no workspace \(distrib.toml\), release folder"):
        open_release(tmp_path)


# -- init, release new, templates copy ----------------------------------------------------------


def test_init_writes_a_workspace_and_release_new_adds_a_release(tmp_path: Path) -> None:
    written = start_workspace(tmp_path / "press")
    assert {p.relative_to(tmp_path / "press").as_posix() for p in written} == {
        "distrib.toml",
        "contacts.csv",
        "releases/premier-communique/fr.md",
        "releases/premier-communique/en.md",
        "releases/premier-communique/release.toml",
    }
    made = create_release("2027-04-suite", tmp_path / "press")
    assert made.folder == tmp_path / "press" / "releases" / "2027-04-suite"
    campaign = open_release(made.folder)
    assert campaign.name == "2027-04-suite" and campaign.audience.is_everyone
    with pytest.raises(InvalidRequestError, match="exists already"):
        create_release("2027-04-suite", tmp_path / "press")
    with pytest.raises(InvalidRequestError, match="is not a release name"):
        create_release("../évasion", tmp_path / "press")
    with pytest.raises(FileExistsError):
        start_workspace(tmp_path / "press")


def test_release_new_and_templates_copy_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert distrib("init", tmp_path / "press")[0] == 0
    monkeypatch.chdir(tmp_path / "press" / "releases")
    code, out = distrib("release", "new", "2027-05-mai")
    assert code == 0, out
    assert (tmp_path / "press" / "releases" / "2027-05-mai" / "fr.md").is_file()
    code, out = distrib("templates", "copy")
    assert code == 0, out
    templates = tmp_path / "press" / "templates"
    assert (templates / "fr" / "message.html").is_file()
    assert 'templates = "templates"' in out
    code, out = distrib("templates", "copy")
    assert code == 2 and "not empty" in out


def test_templates_copy_says_nothing_to_add_when_the_workspace_uses_them(
    ws: WorkspaceFiles,
) -> None:
    text = ws.file.read_text(encoding="utf-8")
    ws.file.write_text('templates = "mine"\n' + text, encoding="utf-8")
    copied = copy_templates(ws.root / "mine", ws.root)
    assert copied.setting == "" and (ws.root / "mine" / "base.html").is_file()


def test_release_import_takes_a_release_of_the_workspace_by_name(
    ws: WorkspaceFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ws.root)
    pasted = "Titre du communiqué\n\nMONTRÉAL, le 3 mars 2027 – Le texte.\n\n– 30 –\n"
    result = runner.invoke(
        app, ["release", "import", "-", "--lang", "fr", "--release", "2027-03-mars"], input=pasted
    )
    assert result.exit_code == 0, result.output
    assert (ws.root / "releases" / "2027-03-mars" / "fr.md").is_file()
    assert open_release(None, "2027-03-mars").name == "2027-03-mars"


# -- migrate -------------------------------------------------------------------------------------


def test_migrate_keeps_the_log_and_the_name_so_already_sent_still_holds(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    files = write_campaign(tmp_path / "c", port=smtp_server.port)
    assert distrib("send", files.campaign, "--yes")[0] == 0
    sent = len(smtp_server.messages)
    code, out = distrib("migrate", files.campaign)
    assert code == 0, out
    workspace = files.folder / "distrib.toml"
    top = workspace.read_text(encoding="utf-8").split("[sender]")[0]
    assert 'name = "quays"' not in top and "release =" not in top
    release = files.folder / "releases" / "quays"
    assert (release / "fr.md").is_file()
    # The List-Id the campaign file's messages had (a workspace's default is another one).
    assert 'list_id = "quays.quais.example"' in (release / "release.toml").read_text()
    assert files.campaign.is_file()  # left as it was
    campaign = open_release(release)
    assert campaign.name == "quays" and campaign.log_target == files.log
    code, out = distrib("send", release, "--yes")
    assert code == 0 and "Nothing to send" in out, out
    assert len(smtp_server.messages) == sent
    with sqlite3.connect(files.log) as conn:
        assert conn.execute("SELECT campaign FROM runs").fetchall() == [("quays",)]
    code, out = distrib("migrate", files.campaign)
    assert code == 2 and "exists already; nothing was written" in out


def test_migrate_keeps_a_name_that_is_not_a_folder_name(tmp_path: Path) -> None:
    files = write_campaign(tmp_path / "c", port=2525)
    text = files.campaign.read_text(encoding="utf-8")
    files.campaign.write_text(text.replace('name = "quays"', 'name = "Quais : hiver"'))
    migrated = migrate_campaign(files.campaign)
    assert migrated.slug == "quais-hiver"
    assert open_release(migrated.release).name == "Quais : hiver"


def test_a_release_written_by_hand_is_found(ws: WorkspaceFiles) -> None:
    folder = write_release(ws.root / "releases" / "2027-09-rentree", marker=" (r)")
    assert open_release(folder).name == "2027-09-rentree"


def test_the_browser_home_page_reads_a_workspace(ws: WorkspaceFiles) -> None:
    from distrib.app import workspace_file, workspace_overview

    file = workspace_file(ws.root)
    assert file == ws.file
    overview = workspace_overview(file)
    assert overview.campaign.name == "ws"
    assert [s.path.name for s in overview.campaign.sources] == ["medias.csv", "english.xlsx"]
    assert overview.runs == ()
    # What every release shares, for the browser and the unsubscribe server.
    from distrib.app import load_campaign

    assert load_campaign(ws.file).log_target == ws.log
