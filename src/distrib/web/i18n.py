"""The interface's language: French or English, chosen in the header, else from the browser.

``translator(lang)`` returns the ``_`` function the templates call with the English text.  The
French texts are a small table of this module's own for now; once the shared message catalogue
(``distrib.i18n``, used by the command line too) lands, ``translator`` looks texts up there
instead, and the pages do not change.
"""

from __future__ import annotations

from collections.abc import Callable

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
    # the workspace's own pages (settings, lists, releases, audience)
    "Settings": "Paramètres",
    "Lists": "Listes",
    "Releases": "Communiqués",
    "Preview": "Aperçu",
    "Send": "Envoi",
    ("Nothing was saved. Fix these problems:"): (
        "Rien n’a été enregistré. Corrigez ces problèmes\xa0:"
    ),
    "(no header)": "(sans en-tête)",
    "A Word file, a web page or a text file": "Un fichier Word, une page web ou un fichier texte",
    (
        "A blank line between paragraphs; **bold**, *italics*, [a link](https://…). The "
        "preview follows as you type."
    ): (
        "Une ligne vide entre les paragraphes\xa0; **gras**, *italique*, [un "
        "lien](https://…). L’aperçu suit la frappe."
    ),
    "Accepted": "Acceptées",
    "Add a file (PDF, PNG, JPEG, GIF, WebP)": "Ajouter un fichier (PDF, PNG, JPEG, GIF, WebP)",
    "Add a list": "Ajouter une liste",
    "Add the list": "Ajouter la liste",
    "Add to the suppression list": "Ajouter à la liste d’exclusion",
    "An image (PNG, JPEG, GIF, WebP)": "Une image (PNG, JPEG, GIF, WebP)",
    "At most per hour (0: no limit)": "Au plus par heure (0\xa0: sans limite)",
    "At most per minute (0: no limit)": "Au plus par minute (0\xa0: sans limite)",
    "Attach": "Joindre",
    "Attachments and images": "Pièces jointes et images",
    "Audience of {slug}": "Destinataires de {slug}",
    "Audience": "Destinataires",
    "Back to the text": "Retour au texte",
    "Beat": "Rubrique",
    "Choose to fill in the fields…": "Choisir pour remplir les champs…",
    "Columns": "Colonnes",
    "Conflicts": "Conflits",
    "Connections at once": "Connexions simultanées",
    "Contact (optional)": "Contact (facultatif)",
    "Create the release": "Créer le communiqué",
    "Dateline": "Lieu et date",
    "Do not send before (optional)": "Ne pas envoyer avant (facultatif)",
    ("Drop a file here, or choose one (CSV, XLSX, ODS, vCard)"): (
        "Déposez un fichier ici, ou choisissez-en un (CSV, XLSX, ODS, vCard)"
    ),
    "Duplicates": "Doublons",
    "Embargo (optional)": "Embargo (facultatif)",
    "Folder name": "Nom du dossier",
    "Footer of every message": "Pied de chaque message",
    "History": "Historique",
    "How each list was read": "Lecture de chaque liste",
    "Import the text": "Importer le texte",
    "Import": "Importer",
    "Journalists": "Journalistes",
    "Known relays": "Relais connus",
    "Language of the message": "Langue du message",
    "Left out": "Écartés",
    (
        "Letters, digits and dashes, e.g. 2027-11-hiver-en-vitrine. It names the release "
        "in the delivery log."
    ): (
        "Lettres, chiffres et tirets, p. ex. 2027-11-hiver-en-vitrine. Il nomme le "
        "communiqué dans le journal d’envoi."
    ),
    "Limits": "Limites",
    "List": "Liste",
    "Listed": "Inscrits",
    "Logo": "Logo",
    "Messages per second": "Messages par seconde",
    "Never send to": "Ne jamais envoyer à",
    "Never: {column}": "Jamais\xa0: {column}",
    "New release": "Nouveau communiqué",
    "No attachment.": "Aucune pièce jointe.",
    "No release yet.": "Aucun communiqué pour l’instant.",
    "No row was set aside.": "Aucune ligne écartée.",
    "Not those who received {release}.": "Pas ceux qui ont reçu {release}.",
    "Note (optional)": "Note (facultative)",
    "Nothing was sent to this address yet.": "Rien n’a encore été envoyé à cette adresse.",
    "On the suppression list.": "Sur la liste d’exclusion.",
    "Only those who received {release}.": "Seulement ceux qui ont reçu {release}.",
    "Only: {column}": "Seulement\xa0: {column}",
    "Outlet": "Média",
    "Port": "Port",
    "Postal address": "Adresse postale",
    "Preview of the text": "Aperçu du texte",
    "Read as": "Lu comme",
    "Region": "Région",
    "Rejected": "Rejetées",
    "Relay (outgoing mail server)": "Relais (serveur d’envoi)",
    "Release {slug}": "Communiqué {slug}",
    "Release": "Communiqué",
    "Replace the text I edited here": "Remplacer le texte que j’ai modifié ici",
    "Replies go to (optional)": "Réponses à (facultatif)",
    "Rows read": "Lignes lues",
    "Rows set aside": "Lignes écartées",
    "Rule": "Règle",
    "Save the audience": "Enregistrer les destinataires",
    "Save the columns": "Enregistrer les colonnes",
    "Save the settings": "Enregistrer les paramètres",
    "Save": "Enregistrer",
    "Saved segments": "Segments enregistrés",
    "Saved.": "Enregistré.",
    "Security": "Sécurité",
    "Sender's address": "Adresse de l’expéditeur",
    "Sender's name": "Nom de l’expéditeur",
    # taking an address off the suppression list
    "This address had opted out: write to it again only with the person's consent, and keep"
    " proof of that consent (CASL).": "Cette adresse s’était désabonnée\u00a0: ne lui écrivez"
    " de nouveau qu’avec le consentement de la personne, et gardez-en la preuve (LCAP).",
    "Take an address off the list": "Retirer une adresse de la liste",
    "Reason (kept in the log with your name and the date)": "Motif (gardé dans le journal avec"
    " votre nom et la date)",
    "Taking off an opt-out means the person agreed to be written to again: keep proof of that"
    " consent (CASL).": "Retirer un désabonnement suppose que la personne a accepté qu’on lui"
    " écrive de nouveau\u00a0: gardez la preuve de ce consentement (LCAP).",
    "Take off the suppression list": "Retirer de la liste d’exclusion",
    "Taken off the suppression list": "Retiré de la liste d’exclusion",
    "{reason} ({source}), listed {listed}: taken off on {removed} by {by}: {why}": "{reason}"
    " ({source}), inscrit le {listed}\u00a0: retiré le {removed} par {by}\u00a0: {why}",
    # a new workspace
    "New workspace": "Nouvel espace de travail",
    "There is no workspace in {folder} yet. Say who the releases come from, and distrib"
    " creates it there (a distrib.toml, an example list and a first release).": "Il n’y a pas"
    " encore d’espace de travail dans {folder}. Dites de qui viennent les communiqués, et"
    " distrib l’y crée (un distrib.toml, une liste d’exemple et un premier communiqué).",
    "Time zone and language": "Fuseau horaire et langue",
    "Time zone of the office": "Fuseau horaire du bureau",
    "Language of contacts who name none": "Langue des contacts qui n’en indiquent pas",
    "Create the workspace": "Créer l’espace de travail",
    "Server": "Serveur",
    "Subject of the email": "Objet du courriel",
    "Subject": "Objet",
    "Summary (optional)": "Résumé (facultatif)",
    "Suppressed": "Exclues",
    "Suppression list": "Liste d’exclusion",
    "Text (Markdown)": "Texte (Markdown)",
    "Text in {language}": "Texte en {language}",
    "The lists cannot be read": "Les listes ne peuvent pas être lues",
    (
        "The password is never stored here: it stays in the environment variable or the "
        "system's keyring."
    ): (
        "Le mot de passe n’est jamais enregistré ici\xa0: il reste dans la variable "
        "d’environnement ou le trousseau du système."
    ),
    "The suppression list": "La liste d’exclusion",
    "The workspace's releases": "Les communiqués de l’espace de travail",
    ("This release has no text in this language yet: write it below, or import it."): (
        "Ce communiqué n’a pas encore de texte dans cette langue\xa0: écrivez-le "
        "ci-dessous, ou importez-le."
    ),
    "Time zone of embargoes and dates": "Fuseau des embargos et des dates",
    "Time zone of reports (optional)": "Fuseau des rapports (facultatif)",
    "Time zone": "Fuseau horaire",
    ("Times are in the workspace's time zone: {zone}."): (
        "Les heures sont dans le fuseau de l’espace de travail\xa0: {zone}."
    ),
    "Title (English)": "Titre (anglais)",
    "Title (French)": "Titre (français)",
    "Title": "Titre",
    "Upload the logo": "Déposer le logo",
    "User name (optional)": "Nom d’utilisateur (facultatif)",
    "Website (optional)": "Site web (facultatif)",
    "Who gets it": "Qui le reçoit",
    "Workspace settings": "Paramètres de l’espace de travail",
    ("contacts in the lists (after opt-outs and bounces)"): (
        "contacts dans les listes (après désabonnements et rebonds)"
    ),
    "delimiter": "séparateur",
    "e.g. America/Toronto, Europe/Paris": "p. ex. America/Toronto, Europe/Paris",
    "e.g. MONTRÉAL, le 4 novembre 2027 –": "p. ex. MONTRÉAL, le 4 novembre 2027 –",
    "in the audience": "destinataires",
    "none (local test server only)": "aucune (serveur de test local seulement)",
    "recognised: {field}": "reconnue\xa0: {field}",
    "sheet": "feuille",
    "{count} contacts in all.": "{count} contacts en tout.",
    "{count} message(s) delivered.": "{count} message(s) remis.",
    "Language of the text": "Langue du texte",
    "a PDF document": "un document PDF",
}


def translator(lang: str) -> Callable[..., str]:
    """Return ``_``: the text in ``lang`` (English if none), with ``{name}`` fields filled."""
    table = _FRENCH if lang == "fr" else {}

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
