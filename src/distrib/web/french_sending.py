"""French texts of the preview, sending and runs pages (`distrib.web.i18n` looks them up)."""

from __future__ import annotations

__all__ = ["FRENCH"]

FRENCH = {
    "A test message goes to your own address, as a chosen journalist would receive it. It is"
    " recorded as a test: never counted as sent to anyone.": "Un message de test part à votre"
    " propre adresse, tel que le recevrait le journaliste choisi. Il est enregistré comme test :"
    " jamais compté comme envoyé à quiconque.",
    "All": "Tous",
    "Already sent": "Déjà envoyés",
    "As the journalist (address; empty: the first of each language)": "Comme le journaliste"
    " (adresse ; vide : le premier de chaque langue)",
    "Back to the recipients": "Retour aux destinataires",
    "Bounce": "Rebond",
    "Check for problems": "Vérification des problèmes",
    "Continue": "Continuer",
    "Deferred": "Différés",
    "Download": "Télécharger",
    "Embargo": "Embargo",
    "Every message was checked: no problem.": "Tous les messages ont été vérifiés : aucun"
    " problème.",
    "Filter": "Filtrer",
    "Finished, with messages refused, deferred or unknown: see the report.": "Terminé, avec des"
    " messages refusés, différés ou inconnus : voyez le rapport.",
    "Finished: every message was sent.": "Terminé : tous les messages sont partis.",
    "From": "Expéditeur",
    "HTML version": "Version HTML",
    "Headers": "En-têtes",
    "Immediate release": "Pour diffusion immédiate",
    "Immediate release: the embargo notice is dropped": "Pour diffusion immédiate : la mention"
    " d’embargo est retirée",
    "It arrived: mark as sent": "Il est arrivé : marquer comme envoyé",
    "It did not: send it again on resume": "Il n’est pas arrivé : le renvoyer à la reprise",
    "Languages": "Langues",
    "Mark as failed": "Marquer comme échoué",
    "Message {n}": "Message {n}",
    "Message-ID": "Message-ID",
    "Messages being sent finish; the run can be resumed.": "Les messages en cours se terminent ;"
    " l’envoi pourra reprendre.",
    "Messages checked": "Messages vérifiés",
    "Name": "Nom",
    "New send": "Nouvel envoi",
    "Next": "Suivant",
    "Nothing to send: every journalist of this release already has it.": "Rien à envoyer : tous"
    " les journalistes de ce communiqué l’ont déjà reçu.",
    "Open the report of run {n}": "Ouvrir le rapport de l’envoi {n}",
    "Outlet": "Média",
    "Page {n} of {m}": "Page {n} sur {m}",
    "Pages": "Pages",
    "Preview": "Aperçu",
    "Preview: {name}": "Aperçu : {name}",
    "Previous": "Précédent",
    "Problems only": "Problèmes seulement",
    "Problems": "Problèmes",
    "Progress": "Progression",
    "Rate (messages/s)": "Débit (messages/s)",
    "Read the files again": "Relire les fichiers",
    "Recipients": "Destinataires",
    "Refused": "Refusés",
    "Relay": "Relais",
    "Reply": "Réponse",
    "Report": "Rapport",
    "Resume run {n}": "Reprendre l’envoi {n}",
    "Rows set aside from the media lists: {count}": "Lignes écartées des listes de médias :"
    " {count}",
    "Run {n}": "Envoi {n}",
    "Search": "Rechercher",
    "See them in the preview": "Les voir dans l’aperçu",
    "Send it as an immediate release, without the embargo notice": "L’envoyer pour diffusion"
    " immédiate, sans la mention d’embargo",
    "Send the test": "Envoyer le test",
    "Send to {count} recipients": "Envoyer à {count} destinataires",
    "Send": "Envoyer",
    "Send: {name}": "Envoi : {name}",
    "Sending": "Envoi en cours",
    "Sending: {name}": "Envoi : {name}",
    "Sent: {count} test message(s) to {to}.": "Envoyé : {count} message(s) de test à {to}.",
    "Settle them": "Les régler",
    "Settle": "Régler",
    "Size": "Taille",
    "Some messages have problems: nothing is sent while a problem remains.": "Des messages ont"
    " des problèmes : rien ne part tant qu’il en reste un.",
    "Stop": "Arrêter",
    "Stopped. Nothing was lost: resume to send the rest.": "Arrêté. Rien n’est perdu : reprenez"
    " pour envoyer le reste.",
    "Subject": "Objet",
    "Suppressed": "Exclus",
    "Test send": "Envoi de test",
    "Text version": "Version texte",
    "The relay may or may not have these messages. Check with its operator or the recipient,"
    " then settle each one.": "Le relais a peut-être reçu ces messages, peut-être pas."
    " Vérifiez auprès de son exploitant ou du destinataire, puis réglez chacun.",
    "This release cannot be sent yet": "Ce communiqué ne peut pas encore partir",
    "Time left": "Temps restant",
    "Total": "Total",
    "Type the number of recipients ({count}) to confirm": "Tapez le nombre de destinataires"
    " ({count}) pour confirmer",
    "Type the number of recipients to confirm.": "Tapez le nombre de destinataires pour confirmer.",
    "Under embargo": "Sous embargo",
    "Unknown messages": "Messages inconnus",
    "Unknown": "Inconnus",
    "Warnings": "Avertissements",
    "Your address": "Votre adresse",
    "encrypted": "chiffré",
    "not encrypted": "non chiffré",
    "problems so far": "problèmes jusqu’ici",
    "{count} message(s) are unknown: the relay may or may not have them.": "{count} message(s)"
    " inconnu(s) : le relais les a peut-être reçus, peut-être pas.",
    "{count} message(s) of earlier runs are unknown: settle them on the runs page.": "{count}"
    " message(s) d’envois précédents sont inconnus : réglez-les dans la page des envois.",
    "{count} problems: nothing can be sent until they are fixed.": "{count} problèmes : rien ne"
    " peut partir avant qu’ils soient corrigés.",
    "{count} recipients. Each message is rendered when you open it.": "{count} destinataires."
    " Chaque message est composé quand vous l’ouvrez.",
    "{shown} of {total} messages": "{shown} messages sur {total}",
    "{shown} of {total} recipients": "{shown} destinataires sur {total}",
}
