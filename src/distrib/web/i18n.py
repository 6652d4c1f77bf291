"""The interface's language: French or English, chosen in the header, else from the browser.

``translator(lang)`` returns the ``_`` function the templates call with the English text.  The
French texts are a small table of this module's own for now; once the shared message catalogue
(``distrib.i18n``, used by the command line too) lands, ``translator`` looks texts up there
instead, and the pages do not change.
"""

from __future__ import annotations

from collections.abc import Callable

from distrib.web.french_sending import FRENCH as _SENDING_FRENCH

__all__ = ["DEFAULT", "LANGUAGES", "negotiate", "translator"]

#: The interface's languages, in the order the header shows them.
LANGUAGES = ("fr", "en")
#: The language when the browser states no preference we have.
DEFAULT = "fr"

_FRENCH = {
    # layout
    "Skip to content": "Aller au contenu",
    "distrib, press releases": "distrib, communiqués",
    "Workspace": "Espace de travail",
    "Workspace: {name}": "Espace de travail\u00a0: {name}",
    "Home": "Accueil",
    "Uploads": "Fichiers reçus",
    "Language": "Langue",
    "Sign out": "Se déconnecter",
    "Main menu": "Menu principal",
    # home
    "Campaign": "Campagne",
    "Sender": "Expéditeur",
    "Organisation": "Organisation",
    "Media lists": "Listes de médias",
    "Delivery log": "Journal d’envoi",
    "Runs": "Envois",
    "No run yet.": "Aucun envoi pour l’instant.",
    "Run": "Envoi",
    "Status": "État",
    "Created": "Créé",
    "Messages": "Messages",
    "Sent": "Envoyés",
    "Opt-outs": "Désabonnements",
    "Latest opt-outs and exclusions": "Derniers désabonnements et exclusions",
    "The suppression list is empty.": "La liste d’exclusion est vide.",
    "Address": "Adresse",
    "Reason": "Motif",
    "Source": "Source",
    "Note": "Note",
    "Recorded": "Enregistré",
    "entries in all": "entrées en tout",
    # uploads
    "Upload a file": "Déposer un fichier",
    "File": "Fichier",
    "Upload": "Déposer",
    "Accepted: media lists (CSV, XLSX, ODS, vCard), releases (Word, web page, text) and"
    " images (PNG, JPEG, GIF, WebP), up to {size}.": "Acceptés : listes de médias (CSV, XLSX,"
    " ODS, vCard), communiqués (Word, page web, texte) et images (PNG, JPEG, GIF, WebP),"
    " jusqu’à {size}.",
    "Files received": "Fichiers reçus",
    "No file received yet.": "Aucun fichier reçu pour l’instant.",
    "Name given": "Nom d’origine",
    "Stored as": "Enregistré sous",
    "Kind": "Type",
    "Size": "Taille",
    "View": "Voir",
    "Received {name}.": "{name} reçu.",
    "The file was refused": "Le fichier a été refusé",
    "Back": "Retour",
    "Web page received": "Page web reçue",
    "Web page received: {name}": "Page web reçue\u00a0: {name}",
    "The page as received, without scripts, forms or links to other sites.": "La page telle"
    " que reçue, sans scripts, formulaires ni liens vers d’autres sites.",
    # refusals
    "Choose a file to upload.": "Choisissez un fichier à déposer.",
    "The file is larger than {size}.": "Le fichier dépasse {size}.",
    "The file is empty.": "Le fichier est vide.",
    "A file named {ext} is not accepted here.": "Un fichier {ext} n’est pas accepté ici.",
    "The file has no extension: name it .csv, .xlsx, .docx…": "Le fichier n’a pas"
    " d’extension : nommez-le .csv, .xlsx, .docx…",
    "The file's content is not {expected}: it looks like {found}.": "Le contenu du fichier"
    " n’est pas {expected} : il ressemble à {found}.",
    "The file's content is not {expected}.": "Le contenu du fichier n’est pas {expected}.",
    "CSV text": "du texte CSV",
    "text": "du texte",
    "a vCard file": "un fichier vCard",
    "an HTML page": "une page HTML",
    "an Excel workbook": "un classeur Excel",
    "an OpenDocument spreadsheet": "un classeur OpenDocument",
    "a Word document": "un document Word",
    "a PNG image": "une image PNG",
    "a JPEG image": "une image JPEG",
    "a GIF image": "une image GIF",
    "a WebP image": "une image WebP",
    "a ZIP archive": "une archive ZIP",
    "a damaged ZIP archive": "une archive ZIP abîmée",
    "binary data": "des données binaires",
    "plain text": "du texte brut",
    # access
    "Access denied": "Accès refusé",
    "Open the address that `distrib ui` printed in its terminal (it holds the access key).": (
        "Ouvrez l’adresse que `distrib ui` a affichée dans son terminal (elle contient la clé"
        " d’accès)."
    ),
    "This access key is not the one of this server.": "Cette clé d’accès n’est pas celle de ce"
    " serveur.",
    "Request refused": "Requête refusée",
    "This form has expired or did not come from this page. Go back, reload the page and try"
    " again.": "Ce formulaire a expiré ou ne vient pas de cette page. Revenez en arrière,"
    " rechargez la page et réessayez.",
    "Sign in": "Se connecter",
    "Account name": "Nom du compte",
    "Password": "Mot de passe",
    "Wrong account name or password.": "Nom de compte ou mot de passe incorrect.",
    "Not found": "Introuvable",
    "There is no such page.": "Cette page n’existe pas.",
}


_TABLE = {**_FRENCH, **_SENDING_FRENCH}


def translator(lang: str) -> Callable[..., str]:
    """Return ``_``: the text in ``lang`` (English if none), with ``{name}`` fields filled."""
    table = _TABLE if lang == "fr" else {}

    def translate(text: str, **values: object) -> str:
        found = table.get(text, text)
        return found.format(**values) if values else found

    return translate


def negotiate(accept_language: str | None) -> str:
    """The interface language a browser's ``Accept-Language`` asks for (`DEFAULT` otherwise)."""
    best, best_q = DEFAULT, -1.0
    for order, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        q -= order * 1e-6  # equal weights: the first listed wins
        if q > best_q and q > 0:
            best, best_q = primary, q
    return best
