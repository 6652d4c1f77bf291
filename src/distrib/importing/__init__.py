"""Import a release from Word (.docx), a web page (.html) or plain text (.txt, .md, stdin).

The stage's entry point is `import_release`; it returns an `ImportReport` (what it understood,
what it dropped, warnings, the files written) and never prints.  Modules, in data-flow order:
``docx.py`` / ``html.py`` / ``text.py`` (a file → blocks), ``markdown.py`` (clean HTML →
Markdown blocks), ``parts.py`` (title, dateline, embargo, end mark, About, media contact;
language), ``write.py`` (fr.md/en.md + images, the overwrite guard), ``core.py`` (the whole).
"""

from __future__ import annotations

from distrib.importing.core import (
    DEFAULT_MAX_MB,
    campaign_release_folder,
    import_release,
    input_file,
)
from distrib.importing.errors import Conflict, ReleaseImportError, ReleaseOverwriteError
from distrib.importing.model import ImportedDocument, ImportReport, InputFile, Note, WrittenFile

__all__ = [
    "DEFAULT_MAX_MB",
    "Conflict",
    "ImportReport",
    "ImportedDocument",
    "InputFile",
    "Note",
    "ReleaseImportError",
    "ReleaseOverwriteError",
    "WrittenFile",
    "campaign_release_folder",
    "import_release",
    "input_file",
]
