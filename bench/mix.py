#!/usr/bin/env python3
"""Writes a realistic mail mix, as a support mailbox receives it: new
requests in plain text (some long, with pasted logs and lists), in Outlook
or Gmail HTML, with scans and screenshots attached; follow-ups by the
requesters to earlier requests, quoting them as their mail client does;
out-of-office replies, newsletters and delivery failures.

    bench/mix.py OUTDIR N [--start K] [--seed S] [--plain]

Mail i, for K <= i < K+N, goes to OUTDIR/{i:08d}-{kind}.eml and depends on
(S, i) alone, so a second call with --start K writes follow-ups to the
requests of the first. Shares: followup 20 %, automatic 5 %, attachment
10 %, html 25 %, the rest plain, or long when the text passes 20 KB.
--plain writes only plain requests of 3.6 KB each. Prints the count per
kind, the total size and the median and 90th percentile of the file sizes.
"""
import argparse
import base64
import binascii
import html
import math
import os
import random
import sys
import unicodedata
from email.header import Header
from email.utils import formataddr
from functools import lru_cache

DESK = "support@example.test"
DESK_NAME = "Support informatique"
SHARES = (("followup", 0.20), ("automatic", 0.05), ("attachment", 0.10), ("html", 0.25))
KINDS = ("plain", "long", "html", "attachment", "followup", "automatic")
WINDOW = 2000      # a follow-up answers one of the previous WINDOW mails
LONG = 20_000      # plain texts over this are `long`
PLAIN_SIZE = 3600  # --plain file size
CRLF = "\r\n"
DAYS = [1, 2, 3, 4, 7, 8, 9, 10, 11, 14, 15, 16, 17, 18, 21, 22, 23, 24, 28, 29, 30, 31]


def R(seed, i, tag):
    return random.Random(f"{seed}:{i}:{tag}")


def bank(s):
    return s.split("|")


# ---------------------------------------------------------------- people
FIRST = bank("Marie|Jean|Pierre|Nathalie|Isabelle|Philippe|Sophie|Nicolas|Camille|Julien|Céline|Laurent|Sandrine|Thomas|Élodie|François|Aurélie|"
             "Stéphane|Hélène|Mathieu|Chloé|Benoît|Agnès|Loïc|Maëlle|Jérôme|Inès|Grégoire|Anaïs|Hervé|Lucie|Yannick|Océane|Frédéric|Zoé|Sébastien|"
             "Manon|Olivier|Léa|Rémi|Karima|Mamadou|Soizic|Gaëtan")
LAST = bank("Martin|Bernard|Dubois|Robert|Richard|Petit|Durand|Leroy|Moreau|Simon|Laurent|Lefèvre|Michel|Garcia|David|Bertrand|Roux|Vincent|"
            "Fournier|Morel|Girard|André|Mercier|Dupont|Lambert|Bonnet|Legrand|Garnier|Faure|Rousseau|Blanc|Guérin|Muller|Roussel|Perrin|Morin|"
            "Clément|Gauthier|Fontaine|Chevalier|Le Gall|Kerbrat|N'Diaye|Benali|Nguyen|Da Silva")
FIRST_EN = bank("Sarah|David|Priya|Lukas|Anna|Marco|Emily|James|Mei|Ahmed|Olga|Daniel|Hannah|Tom")
LAST_EN = bank("Johnson|Miller|Sharma|Weber|Kowalska|Rossi|Clarke|O'Brien|Chen|Hassan|Novak|Evans")
TOWNS = [x.split(":") for x in bank("Saint-Aubin-sur-Loire:49170|Plouvenec:29260|Villefranche-du-Lot:46100|Montbrison-les-Vignes:42600|"
                                     "Bourg-Sainte-Marie:52150|Castelnau-d'Estréfonds:31620|Les Herbiers-Neufs:85500|Écully-le-Haut:69130|"
                                     "Pont-Audemer-Ville:27500|Saint-Jory-en-Val:31790|Mézières-sur-Oise:02240|Lanvallay:22100")]
UNIS = [x.split(":") for x in bank("Université de Loire-Atlantique:loireatl:Nantes:44300|Université Rhône-Alpes Est:rhonest:Lyon:69007|"
                                   "Université de Picardie Maritime:picmar:Amiens:80039|Université Paris-Val de Bièvre:bievre:Arcueil:94110|"
                                   "Université de Gascogne:gascogne:Auch:32000")]
SVC_TOWN = bank("Service urbanisme|État civil|Direction des ressources humaines|Service des finances|CCAS|Services techniques|Police municipale|"
                "Médiathèque|Service scolaire et périscolaire|Direction de la communication|Accueil - Formalités|Cabinet du maire|"
                "Service des marchés publics")
SVC_UNI = bank("UFR Sciences et techniques|Scolarité centrale|Laboratoire de chimie moléculaire|Bibliothèque universitaire|"
               "Direction de la recherche|Direction du patrimoine|Département d'histoire|Relations internationales|IUT - Département GEA|"
               "Service de la formation continue")
TITLE_FR = bank("Gestionnaire administrative|Chargé de mission|Responsable de service|Assistante de direction|Agent d'accueil|"
                "Instructrice des autorisations d'urbanisme|Maître de conférences|Doctorant|Ingénieure d'études|Secrétaire pédagogique|"
                "Directrice générale adjointe des services|Technicien bâtiment|Comptable|Bibliothécaire")
TITLE_EN = bank("Associate Professor|PhD student|Postdoctoral researcher|Visiting scholar|International relations officer|Research engineer|"
                "Lecturer")
STREETS = bank("place de l'Hôtel de Ville|rue de la République|place du Général-de-Gaulle|avenue Jean-Jaurès|rue Victor-Hugo|"
               "boulevard de la Liberté|allée des Tilleuls|rue du Docteur-Schweitzer|chemin de la Censive|avenue des Sciences")
SOFTWARE = bank("QGIS 3.34|LibreOffice 7.6|Adobe Acrobat Reader|Zotero|R et RStudio|Gimp|VLC|7-Zip|FileZilla|Inkscape|Notepad++|MATLAB R2024b|"
                "Python 3.12|Audacity|Scribus")
HRAPP = bank("portail RH|logiciel de gestion des temps|application congés|parapheur électronique|logiciel de paie|portail Agents")


def slug(s):
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower()
    return "".join(c if c.isalnum() else "-" for c in s).strip("-")


def phone(r, intl=False):
    d = " ".join(f"{r.randrange(100):02d}" for _ in range(4))
    a = r.choice("123459")
    return f"+33 (0){a} {d}" if intl else f"0{a} {d}"


# ---------------------------------------------------------------- topics
# s/S: subjects (fr/en), i/I: the problem, d/D: details, t/T: steps tried,
# e: messages pasted as they appear, g: kinds of pasted logs.
TOPICS = [dict(
    s="Imprimante {printer} hors ligne|Impossible d'imprimer sur {printer} depuis {pc}|Bourrage papier à répétition sur {printer}", S="Printer {printer} offline|Cannot print to {printer} from {pc}",
    i="Depuis ce matin, plus rien ne sort de l'imprimante {printer} au {floor}.|Les documents envoyés sur {printer} restent bloqués dans la file d'attente avec le statut « Erreur ».", I="Since this morning nothing comes out of printer {printer} on the {floor_en}.|Jobs sent to {printer} stay stuck in the queue with the status 'Error'.",
    d="Le voyant orange clignote et l'écran du copieur affiche un code d'erreur.|Mes collègues du bureau {office} ont exactement le même souci.|Les impressions en noir et blanc passent, mais pas la couleur.|Nous devons imprimer les convocations du conseil avant le {date}.", D="The orange light keeps blinking and the panel shows an error code.|My colleagues in office {office} have the same issue.|We need to print the exam papers before {date}.",
    t="éteint puis rallumé l'imprimante|vérifié le câble réseau|supprimé les travaux en attente|redémarré mon poste {pc}|réinstallé le pilote depuis le portail logiciel", T="switched the printer off and on again|checked the network cable|cleared the print queue|restarted {pc}",
    e="Erreur 0x00000709 : impossible de terminer l'opération.|Le service Spouleur d'impression n'est pas en cours d'exécution.|Printer status: Offline - Error 79.00FE|Échec de l'impression : le document n'a pas pu être imprimé.", g="event:print|ping"), dict(
    s="VPN : connexion impossible depuis {pc}|Accès VPN refusé en télétravail ({pc})|Coupures VPN toutes les 10 minutes sur {pc}", S="VPN connection fails on {pc}|Remote access VPN keeps dropping ({pc})",
    i="Je suis en télétravail aujourd'hui et je n'arrive pas à me connecter au VPN avec mon portable {pc}.|Le VPN se connecte puis se coupe au bout de quelques minutes, ce qui rend le travail impossible.", I="I am working from home today and cannot connect to the VPN from my laptop {pc}.|The VPN connects, then drops after a few minutes.",
    d="Ma connexion internet fonctionne, je peux consulter des sites sans problème.|Cela fonctionnait encore vendredi dernier.|J'ai changé mon mot de passe lundi, je ne sais pas si c'est lié.|Je dois accéder aux dossiers partagés pour une réunion le {date}.", D="My home internet connection works fine.|It still worked last Friday.|I changed my password on Monday, maybe it is related.",
    t="redémarré le portable et la box|vérifié la date et l'heure du poste|désinstallé puis réinstallé FortiClient|essayé en partage de connexion depuis mon téléphone", T="restarted the laptop and the router|reinstalled FortiClient|tried tethering from my phone",
    e="The VPN connection was terminated: Authentication failed (error 809)|Credential or SSLVPN configuration is wrong (-7200)|Délai d'attente de la connexion dépassé (erreur 720).", g="syslog|ping"), dict(
    s="Mot de passe expiré - compte {login} (poste {pc})|Compte {login} verrouillé (matricule {badge})|Impossible de changer mon mot de passe sur {pc}", S="Password expired for account {login} ({pc})|Account {login} locked out (staff ID {badge})",
    i="Mon mot de passe a expiré ce matin et je n'arrive pas à en définir un nouveau.|Mon compte {login} est verrouillé depuis ce matin, je ne peux plus ouvrir de session.", I="My password expired this morning and I cannot set a new one.|My account {login} is locked, I cannot log in anymore.",
    d="Le nouveau mot de passe respecte pourtant les règles (12 caractères, majuscules, chiffres).|Je suis en congé à partir du {date} et je dois valider des dossiers avant.|Le message apparaît aussi sur l'ENT et sur la messagerie web.", D="The new password follows the rules (12 characters, upper case, digits).|The message also appears on the web mail.",
    t="essayé depuis un autre poste|utilisé le lien « mot de passe oublié »|attendu 30 minutes avant de réessayer", T="tried from another computer|used the 'forgot password' link|waited 30 minutes before trying again",
    e="Votre mot de passe a expiré et doit être modifié.|Le compte référencé est actuellement verrouillé et ne peut pas être utilisé pour ouvrir une session.|AADSTS50055: The password is expired.|Le mot de passe ne satisfait pas aux exigences de la stratégie de mot de passe.", g="event:auth|users"), dict(
    s="Boîte aux lettres pleine ({quota} Go) - matricule {badge}|Messagerie saturée, je ne reçois plus de mails sur {pc}", S="Mailbox full ({quota} GB) - staff ID {badge}|Cannot send mail anymore from {pc}, mailbox quota",
    i="Ma boîte aux lettres est pleine et je ne peux plus envoyer de messages.|Outlook m'indique que ma boîte a atteint sa taille maximale de {quota} Go.", I="My mailbox is full and I cannot send any messages.|Outlook says my mailbox reached its {quota} GB limit.",
    d="J'ai déjà supprimé beaucoup de messages et vidé la corbeille.|Je reçois de nombreuses pièces jointes volumineuses (plans, arrêtés scannés).|Est-il possible d'augmenter le quota ou d'archiver les anciens messages ?", D="I already deleted many messages and emptied the trash.|Could the quota be raised, or old mail archived?",
    t="vidé le dossier Éléments supprimés|archivé les messages de 2023|supprimé les pièces jointes les plus lourdes", T="emptied Deleted Items|archived my 2023 mail",
    e="Votre boîte aux lettres a atteint la limite de taille. Vous ne pourrez plus envoyer de messages.|552 5.2.2 Mailbox full|Le fichier de données Outlook (.pst) a atteint sa taille maximale.", g="folders"), dict(
    s="Wifi eduroam inaccessible bâtiment {bldg} ({pc})|Eduroam ne fonctionne pas sur mon portable {pc}|Pas de wifi en salle {room} ({pc})", S="Eduroam not working in building {bldg} ({pc})|No wifi in room {room} ({pc})",
    i="Je n'arrive pas à me connecter au réseau eduroam dans le bâtiment {bldg}.|Depuis la mise à jour de mon portable {pc}, le wifi eduroam refuse mes identifiants.", I="I cannot connect to eduroam in building {bldg}.|Since the update of my laptop {pc}, eduroam rejects my credentials.",
    d="Le réseau apparaît bien, mais la connexion échoue au bout de quelques secondes.|Les étudiants de mon TD en salle {room} ont le même problème.|Sur mon téléphone, cela fonctionne.", D="The network shows up, but the connection fails after a few seconds.|The students in room {room} have the same problem.",
    t="oublié le réseau puis resaisi mes identifiants|installé le profil avec l'outil geteduroam|redémarré le portable", T="forgot the network and entered my credentials again|installed the geteduroam profile",
    e="Impossible de se connecter à ce réseau.|EAP-PEAP: authentication failed, server certificate not trusted|Windows ne peut pas se connecter à eduroam.", g="syslog|ping"), dict(
    s="Teams : pas de son en réunion sur {pc}|Teams se ferme tout seul sur {pc}|Caméra non détectée dans Teams ({pc})", S="Teams: no sound in meetings on {pc}|Teams keeps crashing on {pc}",
    i="Depuis hier, Teams se ferme dès que je rejoins une réunion.|En réunion Teams, mes interlocuteurs ne m'entendent pas alors que le micro est bien activé.", I="Since yesterday Teams closes as soon as I join a meeting.|In Teams meetings nobody can hear me although the microphone is on.",
    d="J'utilise le casque fourni par le service avec le poste {pc}.|J'ai un conseil d'école en visio le {date}.|Le problème ne se produit pas sur la version web.", D="I use the headset provided with {pc}.|It does not happen with the web version.",
    t="vidé le cache de Teams|redémarré le poste|testé un autre casque|réinstallé Teams", T="cleared the Teams cache|tried another headset|reinstalled Teams",
    e="Nous sommes désolés, nous avons rencontré un problème. Code d'erreur : caa7000a|Error code - 0xCAA70004|Teams ne peut pas accéder à votre micro.", g="teams"), dict(
    s="Badge n° {badge} refusé porte {door}|Badge d'accès {badge} ne fonctionne plus|Badge {badge} désactivé après les congés", S="Access badge {badge} refused at door {door}|Badge {badge} not working",
    i="Mon badge n'ouvre plus la porte {door} depuis ce matin.|Le lecteur de la porte {door} refuse mon badge alors qu'il fonctionnait hier.", I="My badge no longer opens door {door}.|The reader at door {door} refuses my badge since this morning.",
    d="Le voyant du lecteur passe au rouge.|Je dois accéder au local archives pour une consultation le {date}.|Le badge fonctionne encore sur la porte principale.", D="The reader light turns red.|The badge still works at the main entrance.",
    t="essayé sur d'autres portes|vérifié que le badge n'est pas abîmé", T="tried other doors",
    e="Accès refusé - badge non reconnu|Badge hors plage horaire autorisée", g="badges"), dict(
    s="Scanner du copieur {printer} : envoi vers la messagerie impossible|Numérisation vers dossier en échec sur {printer}", S="Scan to email fails on {printer}|Scan to folder not working ({printer})",
    i="La fonction numériser vers mail du copieur {printer} ne fonctionne plus.|Les numérisations du copieur {printer} n'arrivent plus dans le dossier partagé.", I="Scan to email on the copier {printer} stopped working.|Scans from {printer} no longer reach the shared folder.",
    d="Nous numérisons chaque jour les actes et les courriers entrants, c'est bloquant pour le service.|Le copieur affiche un message d'erreur à la fin de la numérisation.", D="We scan incoming mail every day, this blocks the whole team.",
    t="redémarré le copieur|vérifié l'adresse de destination", T="restarted the copier|checked the destination address",
    e="Erreur SMTP : échec de l'authentification (535 5.7.3)|Scan to folder failed: cannot connect to \\\\fs01\\scans|Erreur de transmission : serveur introuvable.", g="event:smb"), dict(
    s="Installation de {software} sur {pc}|Demande d'installation logiciel : {software} ({pc})|Mise à jour de {software} impossible sur {pc}", S="Please install {software} on {pc}|Software request: {software} on {pc}",
    i="Pourriez-vous installer {software} sur mon poste {pc} ?|J'ai besoin du logiciel {software} pour un projet du service et je n'ai pas les droits d'installation.", I="Could you install {software} on my computer {pc}?|I need {software} for a project and I do not have install rights.",
    d="Le logiciel n'apparaît pas dans le portail d'applications.|Ma responsable a donné son accord.|J'en ai besoin pour une formation le {date}.", D="It is not listed in the software portal.|My manager approved it.",
    t="cherché dans le Centre logiciel|essayé d'installer la version portable", T="looked in Software Center|tried the portable version",
    e="Cette application a été bloquée par votre administrateur système.|Vous devez disposer des droits d'administrateur pour installer ce programme.|Error 1603: A fatal error occurred during installation.", g="msi|machines"), dict(
    s="{hrapp} : impossible de valider les congés (matricule {badge})|Erreur de connexion au {hrapp} - matricule {badge}", S="{hrapp}: cannot approve leave requests (ID {badge})|Login error on {hrapp} (ID {badge})",
    i="Je n'arrive pas à valider les demandes de congés de mon équipe dans le {hrapp}.|Le {hrapp} affiche une erreur dès que j'ouvre la page des demandes.", I="I cannot approve my team's leave requests in {hrapp}.|{hrapp} shows an error as soon as I open the requests page.",
    d="Les agents attendent une réponse pour les congés de fin d'année.|Le problème apparaît aussi sous Firefox et Edge.|La page reste blanche après la connexion.", D="Staff are waiting for an answer about their holiday leave.|It happens in both Firefox and Edge.",
    t="vidé le cache du navigateur|essayé en navigation privée|essayé depuis le poste d'une collègue", T="cleared the browser cache|tried a private window",
    e="Erreur 500 - Internal Server Error|Session expirée, veuillez vous reconnecter.|java.lang.NullPointerException at fr.collectivite.rh.conges.ValidationService.valider(ValidationService.java:214)", g="java"), dict(
    s="Ligne téléphonique {ext} coupée|Téléphone du poste {ext} sans tonalité|Transfert d'appel à configurer sur le {ext}", S="Phone line {ext} dead|No dial tone on extension {ext}",
    i="Ma ligne téléphonique {ext} ne fonctionne plus : pas de tonalité.|Les appels vers le {ext} tombent directement sur la messagerie.", I="My phone line {ext} is dead: no dial tone.|Calls to {ext} go straight to voicemail.",
    d="C'est la ligne de l'accueil, le public ne peut plus nous joindre.|L'écran du téléphone affiche un message d'enregistrement.|Le problème a commencé après la coupure de courant.", D="This is the front desk line, the public cannot reach us.",
    t="débranché et rebranché le téléphone|vérifié la prise réseau", T="unplugged and replugged the phone",
    e="Pas de service|Registration failed: 403 Forbidden|Enregistrement SIP en cours...", g="sip"), dict(
    s="Création de compte pour {newcomer} - arrivée le {date} (matricule {badge})|Nouvel arrivant ({newcomer}) : compte et messagerie, matricule {badge}", S="New staff account for {newcomer} (ID {badge})|Account request: {newcomer} starting {date} (ID {badge})",
    i="Nous accueillons {newcomer} qui rejoint le service le {date}.|Merci de créer les accès de {newcomer}, recruté(e) en contrat à durée déterminée à compter du {date}.", I="{newcomer} joins our team on {date}.|Please create the accounts of {newcomer}, who starts on {date}.",
    d="Il lui faudra un compte de messagerie, l'accès au lecteur partagé {share} et au {hrapp}.|Un poste portable serait idéal, l'agent sera en partie en télétravail.|Merci de prévoir aussi un badge d'accès.", D="They will need a mailbox, access to the {share} share and to {hrapp}.|A laptop would be best.",
    t="rempli le formulaire d'arrivée|fait valider la demande par la DRH", T="filled in the arrival form",
    e="", g="users"), dict(
    s="Accès au dossier partagé {share} depuis {pc}|Lecteur réseau {drive}: introuvable sur {pc}|Droits en écriture sur {share} (poste {pc})", S="Access to shared folder {share} from {pc}|Network drive {drive}: missing on {pc}",
    i="Je n'ai plus accès au dossier partagé {share} depuis mon poste {pc}.|Le lecteur réseau {drive}: a disparu de mon explorateur ce matin.", I="I lost access to the shared folder {share} from {pc}.|The {drive}: network drive disappeared this morning.",
    d="Mes collègues y accèdent sans problème.|J'ai besoin des droits en écriture pour déposer les dossiers de subvention.|Il faudrait aussi donner accès à {colleague}.", D="My colleagues can access it.|I need write access to upload the grant files.",
    t="redémarré le poste|tenté de reconnecter le lecteur|vérifié que je suis bien sur le réseau interne", T="restarted the computer|tried to map the drive again",
    e="\\\\fs02\\partages n'est pas accessible. Vous ne disposez peut-être pas des autorisations nécessaires.|Accès refusé.|Le chemin réseau est introuvable. (0x80070035)", g="machines|event:smb"), dict(
    s="Poste {pc} très lent au démarrage|Écran noir au démarrage de {pc}|Le poste {pc} redémarre tout seul", S="Computer {pc} very slow|Black screen on {pc} at startup",
    i="Mon ordinateur {pc} met plus de 15 minutes à démarrer.|Mon poste {pc} redémarre tout seul plusieurs fois par jour.", I="My computer {pc} takes over 15 minutes to start.|{pc} restarts on its own several times a day.",
    d="Le ventilateur fait beaucoup de bruit.|Une mise à jour Windows était en cours vendredi soir.|Je perds mon travail à chaque redémarrage.", D="The fan is very loud.|A Windows update was running on Friday evening.",
    t="lancé les mises à jour|libéré de l'espace disque|vérifié les branchements de l'écran", T="installed the updates|freed some disk space",
    e="Windows a rencontré un problème et doit redémarrer. Code d'arrêt : CRITICAL_PROCESS_DIED|Le système a redémarré sans s'arrêter correctement au préalable.", g="event:sys|machines")]
for _t in TOPICS:
    for _k in list(_t):
        _t[_k] = [x for x in bank(_t[_k]) if x]

FR = dict(
    greet=bank("Bonjour,|Bonjour,|Bonjour à tous,|Bonjour Madame, Monsieur,|Bonjour l'équipe support,|Bonjour,"),
    intro=bank("Je me permets de vous contacter au sujet d'un problème informatique.|Je vous sollicite pour le problème suivant.|Je rencontre un souci depuis quelques jours.||"),
    steps=bank("J'ai déjà :|De mon côté, j'ai déjà :|Pour information, j'ai déjà :"),
    err=bank("Le message d'erreur exact est le suivant :|Voici le message qui s'affiche :|J'obtiens ce message :"),
    urgent=bank("Ce problème bloque tout le service.|Ce n'est pas urgent, mais c'est gênant au quotidien.|Le public attend au guichet, pourriez-vous intervenir rapidement ?|Merci de traiter cette demande en priorité si possible."),
    avail=bank("Je suis joignable au {ext} toute la journée.|Je suis présente au bureau {office} jusqu'à 17 h.|Vous pouvez prendre la main à distance sur mon poste si besoin.|Je suis en télétravail le mercredi."),
    close=bank("Cordialement,|Bien cordialement,|Bien à vous,|Merci d'avance,|Merci par avance pour votre aide.\n\nCordialement,|Bonne journée,"),
    fill=bank("Je vous mets ci-dessous l'extrait du journal :|Voici la liste complète :|Je vous copie ce que j'obtiens :|Ci-dessous la copie du fichier de log :|Ci-dessous le détail, si cela peut aider :"),
    floors=bank("rez-de-chaussée|1er étage|2e étage|3e étage|sous-sol"), iphone="Envoyé de mon iPhone")
EN = dict(
    greet=bank("Hello,|Hi,|Dear IT support,|Good morning,|Hello support team,"),
    intro=bank("Sorry, I do not speak French well.|I am writing about an IT problem.||"), steps=bank("I have already:|So far I have:"),
    err=bank("The exact error message is:|This is what I get:"),
    urgent=bank("This blocks my work completely.|It is not urgent but quite annoying.|Could you please look at it soon?"),
    avail=bank("You can reach me on {ext}.|I am in office {office} until 5 pm.|Feel free to take remote control of my computer."),
    close=bank("Best regards,|Kind regards,|Thanks in advance,|Many thanks,|Cheers,"),
    fill=bank("Please find the log excerpt below:|Here is the full list:|This is the output I get:"),
    floors=bank("ground floor|first floor|second floor|third floor|basement"), iphone="Sent from my iPhone")
DISCLAIMER = ("Ce message et les pièces jointes sont confidentiels et destinés exclusivement à leurs destinataires. "
              "Toute utilisation ou diffusion non autorisée est interdite. Si vous avez reçu ce message par erreur, "
              "merci d'en avertir l'expéditeur et de le supprimer. Les messages électroniques pouvant être altérés, "
              "{org} décline toute responsabilité quant à leur contenu.|Pensez à l'environnement : n'imprimez ce courriel que si nécessaire.")


# ---------------------------------------------------------------- kinds
def base_kind(seed, i):
    x, acc = R(seed, i, "k").random(), 0.0
    for kind, share in SHARES:
        acc += share
        if x < acc:
            return kind
    return "plain"


def text_len(seed, i):
    """The length law of request texts: log-normal, median 3 KB, 10 % over 20 KB."""
    n = min(200_000, int(3000 * math.exp(1.48 * R(seed, i, "n").gauss(0, 1))))
    return n if n > LONG else min(n, LONG - 1500)


def earlier_request(seed, i, tag):
    """A request among the WINDOW mails before i (stepping back to one), or None."""
    if i == 0:
        return None
    j = i - 1 - R(seed, i, tag).randrange(min(i, WINDOW))
    while j >= 0 and base_kind(seed, j) not in ("plain", "html", "attachment"):
        j -= 1
    return j if j >= 0 else None


def kind_of(seed, i):
    kind = base_kind(seed, i)
    if kind == "followup" and earlier_request(seed, i, "p") is None:
        kind = "plain"
    if kind == "plain" and text_len(seed, i) > LONG:
        kind = "long"
    return kind


# ---------------------------------------------------------------- requests
class Req:
    """What a follow-up needs of a request, made without its body."""


def pick_client(r, kind, n):
    if kind in ("html", "attachment"):
        # Gmail's lean HTML is 10-60 KB for texts over 7.5 KB only.
        gmail = 7500 <= n and r.random() < 0.9
        if kind == "attachment" and r.random() < 0.35:
            return r.choice(("iphone", "thunderbird"))
        return "gmail" if gmail else "outlook"
    if n < 4000 and r.random() < 0.2:
        return "iphone"
    return r.choices(("thunderbird", "outlook", "gmail"), (35, 40, 15))[0]


def msgid(r, client, seed, i, dom):
    tok, h = f"g{seed}n{i}", f"{r.getrandbits(96):024X}"
    if client == "outlook":
        srv = f"PR{r.randint(1, 3)}P{r.randint(190, 264)}MB{r.randint(1000, 9999)}"
        return f"<{srv}{h[:12]}{tok}@{srv}.EURP{srv[4:7]}.PROD.OUTLOOK.COM>"
    if client == "gmail":
        b = base64.urlsafe_b64encode(r.randbytes(30)).decode().rstrip("=").replace("-", "x")
        return f"<CA{b}{tok}@mail.gmail.com>"
    u = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{r.getrandbits(48):012X}"
    return f"<{u.lower() if client == 'thunderbird' else u}.{tok}@{dom}>"


@lru_cache(maxsize=8192)
def request(seed, i, plain=False):
    q, r = Req(), R(seed, i, "m")
    q.i, q.seed = i, seed
    q.kind = "plain" if plain else kind_of(seed, i)
    q.n = PLAIN_SIZE - 900 if plain else text_len(seed, i)
    q.lang = "en" if r.random() < 0.2 else "fr"
    uni = q.lang == "en" or r.random() < 0.5
    if q.lang == "en":
        first, last = r.choice(FIRST_EN), r.choice(LAST_EN)
    else:
        first, last = r.choice(FIRST), r.choice(LAST)
    if uni:
        org, dom, city, cp = UNIS[r.randrange(len(UNIS))]
        dom, svc = f"univ-{dom}.fr", r.choice(SVC_UNI)
        street = f"Campus {city}, {r.randint(1, 80)} {r.choice(STREETS)}"
    else:
        city, cp = TOWNS[r.randrange(len(TOWNS))]
        org, dom, svc = f"Mairie de {city}", f"mairie-{slug(city)}.fr", r.choice(SVC_TOWN)
        street = f"{r.randint(1, 40)} {r.choice(STREETS)}"
    q.name, q.org, q.svc, q.dom = f"{first} {last}", org, svc, dom
    q.addr = f"{slug(first)}.{slug(last).replace('-', '')}.{i}@{dom}"
    q.title = r.choice(TITLE_EN if q.lang == "en" else TITLE_FR)
    q.postal = f"{street}, {cp} {city}"
    q.tel, q.mobile = phone(r, r.random() < 0.3), ("06 " if r.random() < 0.5 else "07 ") + phone(r)[3:]
    q.client = "thunderbird" if plain and r.random() < 0.5 else pick_client(r, q.kind, q.n)
    # With an HTML part of at most 60 KB, the text stops at 30-34 KB.
    q.html = q.kind == "html" or q.kind == "attachment" and q.client in ("outlook", "gmail") and r.random() < 0.8
    q.n = min(q.n, 30_000 if q.client == "gmail" else 34_000) if q.html else q.n
    q.topic = r.randrange(len(TOPICS))
    uid = (i * 48271 + 12345) % 1000003
    code = slug(svc).replace("-", "")[:3].upper()
    bldg = r.choice("ABCDEFGH") + str(r.randint(1, 9))
    day = r.choice(DAYS)
    other = f"{r.choice(FIRST)} {r.choice(LAST)}"
    q.ctx = dict(
        pc=f"{'PORT' if r.random() < 0.4 else 'PC'}-{code}-{uid:06d}", printer=f"IMP-{code}-{uid:06d}",
        login=(slug(first)[0] + slug(last).replace("-", ""))[:10], badge=f"{uid:07d}",
        ext=f"0{r.choice('12345')} {uid // 1000000 % 100:02d} {uid // 10000 % 100:02d} {uid // 100 % 100:02d} {uid % 100:02d}",
        office=f"{r.randint(1, 4)}{r.randint(1, 40):02d}", bldg=bldg, room=f"{bldg}{r.randint(100, 350)}",
        door=f"{bldg}-{r.randint(1, 30):02d}", share=f"\\\\fs0{r.randint(1, 4)}\\Services\\{code}",
        drive=r.choice("GHJKPST"), software=r.choice(SOFTWARE), hrapp=r.choice(HRAPP), quota=r.choice((2, 5, 10, 50)),
        date=(f"December {min(day + 3, 31)}" if q.lang == "en" else f"{min(day + 3, 31)} décembre"),
        colleague=other, newcomer=f"{r.choice(FIRST)} {r.choice(LAST)}")
    fl = r.randrange(5)
    q.ctx.update(floor=FR["floors"][fl], floor_en=EN["floors"][fl])
    t = TOPICS[q.topic]
    q.subject = r.choice(t["S"] if q.lang == "en" else t["s"]).format(**q.ctx)
    q.msgid = msgid(r, q.client, seed, i, dom)
    q.day, q.minute, q.sec = day, r.randint(8 * 60 + 10, 18 * 60), r.randrange(60)
    q.tidx = b"\x01" + r.randbytes(21)
    q.disclaimer = not uni and r.random() < 0.4 or uni and r.random() < 0.15
    return q


# ---------------------------------------------------------------- pasted logs and lists
LOGSRC = [("print", "Microsoft-Windows-PrintService", 372, "Échec du rendu du document {n} sur l'imprimante {printer}."),
          ("print", "Microsoft-Windows-PrintService", 808, "Le spouleur n'a pas pu charger un module de plug-in."),
          ("auth", "Microsoft-Windows-Security-Auditing", 4740, "Un compte d'utilisateur a été verrouillé : {login}."),
          ("auth", "Microsoft-Windows-Security-Auditing", 4625, "Échec d'ouverture de session pour {login} (0xC000006A)."),
          ("smb", "Microsoft-Windows-GroupPolicy", 1129, "Le traitement de la stratégie de groupe a échoué : pas de connectivité réseau."),
          ("sys", "Microsoft-Windows-Kernel-Power", 41, "Le système a redémarré sans s'arrêter correctement au préalable."),
          ("sys", "Disk", 153, "L'opération d'E/S à l'adresse logique {n:x} pour le disque 0 a été retentée."),
          ("smb", "Microsoft-Windows-SMBClient", 30803, "Échec de l'établissement d'une connexion réseau vers \\\\fs02."),
          ("print", "Service Control Manager", 7031, "Le service Spouleur d'impression s'est arrêté de façon inattendue.")]
SYSMSG = ["openfortivpn: ERROR:  SSL_connect: tlsv1 alert unknown ca", "wpa_supplicant: wlan0: CTRL-EVENT-EAP-FAILURE EAP authentication failed",
          "NetworkManager: <warn> device (wlan0): Activation: failed for connection 'eduroam'", "radiusd: Login incorrect (mschap: MS-CHAP2-Response is incorrect): [{login}@{dom}]",
          "openfortivpn: INFO:   Tunnel is up and running.", "openfortivpn: ERROR:  read: Connection reset by peer",
          "dhclient: DHCPREQUEST for 10.{a}.{b}.{c} on wlan0 to 10.{a}.0.1 port 67", "kernel: wlan0: deauthenticating from {mac} by local choice (Reason: 3)"]
JAVA = ["Impossible de valider la demande {n} : agent introuvable", "Transaction rolled back because it has been marked as rollback-only",
        "Connection is not available, request timed out after 30000ms.", "Session expirée pour l'utilisateur {login}"]
FRAMES = ["fr.collectivite.rh.conges.ValidationService.valider(ValidationService.java:214)",
          "fr.collectivite.rh.conges.web.DemandeController.valider(DemandeController.java:88)",
          "org.springframework.transaction.interceptor.TransactionInterceptor.invoke(TransactionInterceptor.java:119)",
          "org.apache.catalina.core.StandardWrapperValve.invoke(StandardWrapperValve.java:197)",
          "com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)", "java.base/java.lang.Thread.run(Thread.java:840)"]
STATES = bank("OK|en panne|à réinstaller|hors garantie|à remplacer|en prêt|OK|OK")


def log_line(r, q, g):
    c, d = q.ctx, r.randint(max(1, q.day - 6), q.day)
    h, m, s, n = r.randint(7, 18), r.randrange(60), r.randrange(60), r.randrange(1, 99999)
    if g[:5] == "event":
        src, eid, msg = r.choice([x[1:] for x in LOGSRC if x[0] == g[6:]])
        lvl = r.choice(("Erreur", "Avertissement", "Information"))
        return f"{d:02d}/12/2026 {h:02d}:{m:02d}:{s:02d}\t{lvl}\t{src}\t{eid}\t" + msg.format(n=n, **c)
    if g == "syslog":
        msg = r.choice(SYSMSG).format(login=c["login"], dom=q.dom, a=r.randrange(256), b=r.randrange(256),
                                      c=r.randrange(256), mac=":".join(f"{r.randrange(256):02x}" for _ in range(6)))
        return f"Dec {d:2d} {h:02d}:{m:02d}:{s:02d} {c['pc'].lower()} {msg.replace(': ', f'[{n % 30000}]: ', 1)}"
    if g == "java":
        line = (f"2026-12-{d:02d} {h:02d}:{m:02d}:{s:02d},{n % 1000:03d} {r.choice(('ERROR', 'WARN', 'INFO'))} "
                f"[http-nio-8443-exec-{n % 40}] fr.collectivite.rh.conges.ValidationService - "
                + r.choice(JAVA).format(n=n, **c))
        if r.random() < 0.3:
            line += "\n" + "\n".join("\tat " + f for f in FRAMES[r.randrange(3):])
        return line
    if g == "ping":
        ip = f"10.{n % 250}.{h}.{m + 1}"
        return r.choice((f"Réponse de {ip} : octets=32 temps={s % 9 + 1} ms TTL=64", "Délai d'attente de la demande dépassé.",
                         f"Reply from {ip}: bytes=32 time={s}ms TTL=126", f"  {m % 30 + 1}    {s} ms    {s + 2} ms    {s + 1} ms  {ip}"))
    if g == "teams":
        return (f"2026-12-{d:02d}T{h:02d}:{m:02d}:{s:02d}.{n % 1000:03d}+01:00 <{n % 9000}> {r.choice(('error', 'warning', 'info'))} -- "
                + r.choice(("[DeviceManager] audio device not found: Microphone (Realtek Audio)", "calling: callFailed, reason 0xCAA70004",
                            "[AuthN] token refresh failed, retrying", "mediaStack: renderer crashed, restarting")))
    if g == "sip":
        return (f"{d:02d}/12 {h:02d}:{m:02d}:{s:02d} SIP/2.0 {r.choice(('403 Forbidden', '408 Request Timeout', '200 OK', '401 Unauthorized'))}"
                f" REGISTER sip:{c['ext'].replace(' ', '')}@voip.{q.dom} CSeq: {n % 500} From: <sip:{n % 9000}@{q.dom}>")
    if g == "msi":
        return (f"MSI (s) (A4:{n % 256:02X}) [{h:02d}:{m:02d}:{s:02d}:{n % 1000:03d}]: "
                + r.choice(("Product: {software} -- Installation failed.", "Note: 1: 1708", "Windows Installer installed the product. Error status: 1603.",
                            "Executing op: ComponentRegister(ComponentId={{{h:X}A1F}},KeyPath=C:\\Program Files\\,State=3)")).format(h=n, **c))
    if g == "folders":
        return f"{r.choice(('Boîte de réception', 'Éléments envoyés', 'Archives', 'Projets', 'Réunions', 'Factures'))}/{2019 + n % 8}-{m % 12 + 1:02d}\t{n % 3000} éléments\t{n / 97:.1f} Mo"
    if g == "badges":
        return f"{d:02d}/12/2026;{h:02d}:{m:02d}:{s:02d};{c['door']};{c['badge']};{r.choice(('Refusé', 'Autorisé', 'Refusé - hors plage'))}"
    name = f"{r.choice(LAST).upper()} {r.choice(FIRST)}"
    if g == "users":
        return f"{name};{name[0].lower()}{n};{q.svc};{d:02d}/12/2026;{r.choice(('Agent', 'Contractuel', 'Stagiaire', 'Vacataire'))}"
    code = c["pc"].split("-")[1]
    return f"{r.choice(('PC', 'PORT'))}-{code}-{n:06d}   {name:<24}{q.svc[:26]:<28}bureau {h}{m:02d}   {r.choice(STATES)}"


# ---------------------------------------------------------------- request texts
def blen(block):
    t, v = block
    if isinstance(v, str):  # as written: UTF-8, CRLF
        return len(v.encode()) + 2 * v.count("\n") + 4
    return sum(len(x.encode()) + 2 * x.count("\n") + 2 for x in v) + 2


def request_blocks(q):
    """The text of a request as blocks: ("p", paragraph), ("l", lines),
    ("sig", lines), ("disc", text), ("note", text)."""
    r, L, t = R(q.seed, q.i, "b"), (EN if q.lang == "en" else FR), TOPICS[q.topic]
    up = q.lang == "en"
    f = lambda s: s.format(**q.ctx)
    details = [f(x) for x in (t["D"] if up else t["d"])]
    r.shuffle(details)
    head = [("p", r.choice(L["greet"])),
            ("p", " ".join(x for x in (r.choice(L["intro"]), f(r.choice(t["I" if up else "i"])), details.pop()) if x))]
    mid = []
    if q.kind == "attachment":
        mid.append(("p", "Please find attached a screenshot and the document." if up else
                    r.choice(("Vous trouverez en pièce jointe une capture de l'écran.", "Je vous joins le document concerné."))))
    steps = [f(x) for x in (t["T"] if up else t["t"])]
    r.shuffle(steps)
    mid += [("p", r.choice(L["steps"])), ("l", ["- " + s for s in steps[:r.randint(2, 4)]])]
    if t["e"]:
        mid += [("p", r.choice(L["err"])), ("l", ["  " + r.choice(t["e"])])]
    mid += [("p", d) for d in details]
    tail = [("p", f(r.choice(L["urgent"]) + " " + r.choice(L["avail"]))), ("p", r.choice(L["close"]))]
    if q.client == "iphone":
        tail += [("note", q.name.split()[0]), ("note", L["iphone"])]
    elif r.random() < 0.2:
        tail.append(("note", q.name))
    else:
        sig = [q.name, q.title, q.svc, q.org, q.postal, f"Tél. : {q.tel}" if not up else f"Phone: {q.tel}"]
        if r.random() < 0.4:
            sig.append(f"Port. : {q.mobile}")
        sig.append(q.addr if r.random() < 0.5 else f"www.{q.dom}")
        tail.append(("sig", sig))
        if q.disclaimer:
            tail.append(("disc", DISCLAIMER.replace("{org}", q.org).replace("|", "\n")))
    blocks = head
    size = sum(map(blen, head + tail))
    for b in mid:
        if size >= q.n and b[0] == "p" and len(blocks) > 2:
            break
        blocks.append(b)
        size += blen(b)
    while size < q.n:  # pasted logs and lists
        g = r.choice(t["g"])
        intro = ("p", r.choice(L["fill"]))
        budget, lines, used = min(max(q.n - size - blen(intro), 1), r.randint(1500, 40000)), [], 0
        while used < budget:
            line = log_line(r, q, g)
            if used + len(line) > budget + 100:  # no stack trace past the end
                line = line.split("\n")[0]
            lines.append(line)
            used += len(line.encode()) + 2 * line.count("\n") + 2
        blocks += [intro, ("l", lines)]
        size += blen(intro) + used + 2
    return blocks + tail


def wrap(par, width=76, flowed=False):
    out = []
    for s in par.split("\n"):
        while len(s) > width:
            cut = s.rfind(" ", 0, width)
            if cut <= 0:
                break
            out.append(s[:cut] + (" " if flowed else ""))
            s = s[cut + 1:]
        out.append(s)
    return "\n".join(out)


def plain_text(blocks, client):
    flowed, out = client == "thunderbird", []
    for t, v in blocks:
        if t == "l":
            out.append("\n".join(v))
        elif t == "sig":
            out.append(("-- \n" if flowed else "") + "\n".join(v))
        else:
            out.append(v if client == "outlook" and t == "p" else wrap(v, 72 if flowed else 76, flowed))
    return "\n\n".join(out) + "\n"


def quote(text, thunderbird=False):
    return "\n".join((">" + l if thunderbird and l.startswith(">") else "> " + l) if l else ">"
                     for l in text.rstrip("\n").split("\n"))


# ---------------------------------------------------------------- HTML
ESC = html.escape
FONTS = (("Cambria Math", "2 4 5 3 5 4 6 3 2 4"), ("Calibri", "2 15 5 2 2 2 4 3 2 4"), ("Aptos", "2 11 0 4 2 2 2 2 2 4"),
         ("Segoe UI", "2 11 5 2 4 2 4 2 2 3"), ("Consolas", "2 11 6 9 2 2 4 3 2 4"), ("Tahoma", "2 11 6 4 3 5 4 4 2 4"))
CSS = """p.MsoNormal, li.MsoNormal, div.MsoNormal{margin:0cm;font-size:11.0pt;font-family:"Calibri",sans-serif;mso-fareast-language:EN-US}
a:link, span.MsoHyperlink{mso-style-priority:99;color:#0563C1;text-decoration:underline}
p.MsoListParagraph, li.MsoListParagraph, div.MsoListParagraph{mso-style-priority:34;margin-top:0cm;margin-right:0cm;margin-bottom:0cm;margin-left:36.0pt;font-size:11.0pt;font-family:"Calibri",sans-serif}
p.MsoPlainText, li.MsoPlainText, div.MsoPlainText{mso-style-priority:99;mso-style-link:"Texte brut Car";margin:0cm;font-size:10.5pt;font-family:Consolas}
span.EmailStyle17{mso-style-type:personal-compose;font-family:"Calibri",sans-serif;color:windowtext}
.MsoChpDefault{mso-style-type:export-only;font-size:10.0pt;mso-ligatures:none}
@page WordSection1{size:612.0pt 792.0pt;margin:70.85pt 70.85pt 70.85pt 70.85pt}
div.WordSection1{page:WordSection1}"""
CSS_END = """ol{margin-bottom:0cm}
ul{margin-bottom:0cm}"""


def css(rules):
    """Outlook's layout of style rules: selector, then one property a line."""
    return "".join(s + "\n\t{" + p.replace(";", ";\n\t") + ";}\n" for s, p in (x[:-1].split("{") for x in rules.split("\n")))

STYLE, STYLE_END = css(CSS), css(CSS_END)
O_HEAD = """<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:w="urn:schemas-microsoft-com:office:word" xmlns:m="http://schemas.microsoft.com/office/2004/12/omml" xmlns="http://www.w3.org/TR/REC-html40">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<meta name="Generator" content="Microsoft Word 15 (filtered medium)">
<!--[if !mso]><style>v\\:* {behavior:url(#default#VML);}
o\\:* {behavior:url(#default#VML);}
w\\:* {behavior:url(#default#VML);}
.shape {behavior:url(#default#VML);}
</style><![endif]--><style><!--
/* Font Definitions */
%s
/* Style Definitions */
%s/* List Definitions */
%s
%s--></style><!--[if gte mso 9]><xml>
<o:OfficeDocumentSettings>
<o:AllowPNG/>
<o:PixelsPerInch>96</o:PixelsPerInch>
</o:OfficeDocumentSettings>
</xml><![endif]--><!--[if gte mso 9]><xml>
<o:shapedefaults v:ext="edit" spidmax="1026" />
</xml><![endif]--><!--[if gte mso 9]><xml>
<o:shapelayout v:ext="edit">
<o:idmap v:ext="edit" data="1" />
</o:shapelayout></xml><![endif]-->
</head>
<body lang="%s" link="#0563C1" vlink="#954F72" style="word-wrap:break-word">
<div class="WordSection1">
"""
LEVEL = ("@list l%d:level%d\n\t{mso-level-number-format:%s;\n\tmso-level-text:%s;\n\tmso-level-tab-stop:%s;\n\t"
         "mso-level-number-position:left;\n\tmargin-left:%.1fpt;\n\ttext-indent:-18.0pt;%s}")
BULLETS = (("\\F0B7", "\n\tfont-family:Symbol;"), ("o", '\n\tfont-family:"Courier New";\n\tmso-bidi-font-family:"Times New Roman";'),
           ("\\F0A7", "\n\tfont-family:Wingdings;"))


def outlook_lists(r, budget):
    """List definitions, as Outlook keeps accumulating them, up to budget bytes."""
    out, n = [], 0
    while True:
        head = (f"@list l{n}\n\t{{mso-list-id:{r.randrange(10**8, 2 * 10**9)};\n\tmso-list-type:hybrid;\n\t"
                f"mso-list-template-ids:{' '.join(str(r.randrange(-2**31, 2**31)) for _ in range(9))};}}")
        if len(head) + 8 > budget:
            return "\n".join(out)
        out.append(head)
        budget -= len(head) + 8
        for k in range(1, 10):
            text, font = BULLETS[(k - 1) % 3]
            if n % 2 and k > 1:
                text, font = '"%%%d\\."' % k, ""
            lvl = LEVEL % (n, k, "bullet" if font else "lower-roman", text, "none" if k == 1 else f"{36 * k}.0pt", 36.0 * k, font)
            if len(lvl) + lvl.count("\n") + 2 > budget:
                return "\n".join(out)
            out.append(lvl)
            budget -= len(lvl) + lvl.count("\n") + 2
        n += 1


def outlook_html(blocks, q, r, target=0):
    st = r.choice(("font-size:11.0pt;font-family:&quot;Calibri&quot;,sans-serif;mso-fareast-language:FR",
                   "font-size:10.0pt;font-family:&quot;Arial&quot;,sans-serif;color:#1F3864;mso-fareast-language:FR",
                   "font-family:&quot;Aptos&quot;,sans-serif;mso-ligatures:standardcontextual;mso-fareast-language:FR"))
    empty = f'<p class="MsoNormal"><span style="{st}"><o:p>&nbsp;</o:p></span></p>'
    cid = f"01DB{r.getrandbits(16):04X}.{r.getrandbits(32):08X}"
    out, lang = [], "EN-US" if q.lang == "en" else "FR"
    for t, v in blocks:
        if t in ("p", "note"):
            for line in v.split("\n"):
                out.append(f'<p class="MsoNormal"><span style="{st}">{ESC(line, False)}<o:p></o:p></span></p>' if line else empty)
            out.append(empty)
        elif t == "l":
            if v[0].startswith("- "):
                out += ['<p class="MsoListParagraph" style="text-indent:-18.0pt;mso-list:l0 level1 lfo1"><![if !supportLists]>'
                        '<span style="font-family:Symbol"><span style="mso-list:Ignore">·<span style="font:7.0pt &quot;Times New Roman&quot;">'
                        f'&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;&nbsp; </span></span></span><![endif]><span style="{st}">{ESC(x[2:], False)}<o:p></o:p></span></p>'
                        for x in v]
            else:  # pasted text: one paragraph, broken lines
                out.append('<p class="MsoPlainText">' + "<br>\n".join(ESC(x, False) for x in "\n".join(v).split("\n")) + "<o:p></o:p></p>")
            out.append(empty)
        elif t == "sig":
            c = r.choice(("#1F4E79", "#C00000", "#2E74B5", "#385723"))
            td = "padding:0cm 5.4pt 0cm 5.4pt"
            cell = lambda s, b=False: (f'<p class="MsoNormal">{"<b>" if b else ""}<span style="font-size:{9.0 + b}pt;font-family:&quot;Arial&quot;,sans-serif;'
                                       f'color:{c if b else "#404040"};mso-fareast-language:FR">{ESC(s, False)}</span>{"</b>" if b else ""}<o:p></o:p></p>')
            out.append('<table class="MsoNormalTable" border="0" cellspacing="0" cellpadding="0" style="border-collapse:collapse"><tr>'
                       f'<td width="120" valign="top" style="width:90.0pt;{td}"><p class="MsoNormal"><span style="mso-fareast-language:FR">'
                       f'<img width="110" height="62" style="width:1.1458in;height:.6458in" id="Image_x0020_1" src="cid:image001.png@{cid}" alt="Logo {ESC(q.org)}">'
                       f'</span><o:p></o:p></p></td><td valign="top" style="border:none;border-left:solid {c} 1.5pt;{td}">'
                       + cell(v[0], True) + "".join(cell(s) for s in v[1:]) + "<p class=\"MsoNormal\">"
                       + "".join(f'<a href="https://www.{q.dom}/{n}"><span style="color:{c};text-decoration:none"><img border="0" width="24" height="24" '
                                 f'style="width:.25in;height:.25in" id="Image_x0020_{k}" src="cid:image00{k}.png@{cid}" alt="{n}"></span></a>&nbsp;'
                                 for k, n in ((2, "facebook"), (3, "linkedin"), (4, "instagram")))
                       + "<o:p></o:p></p></td></tr></table>")
            out.append(empty)
        elif t == "qh":  # the header of the quoted mail
            out.append('<div><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">' + "".join(
                '<p class="MsoNormal"><b><span lang="%s">%s%s:</span></b><span lang="%s"> %s<o:p></o:p></span></p>'
                % (lang, ESC(k.strip()), "&nbsp;" * (lang == "FR"), lang, ESC(x.strip())) for k, x in (y.split(":", 1) for y in v))
                + "</div></div>\n" + empty)
        elif t == "disc":
            for line in v.split("\n"):
                out.append(f'<p class="MsoNormal"><i><span style="font-size:7.5pt;font-family:&quot;Arial&quot;,sans-serif;color:gray;mso-fareast-language:FR">{ESC(line, False)}</span></i><o:p></o:p></p>')
    body = "\n".join(out) + "\n</div>\n</body>\n</html>\n"
    fonts = "\n".join(f'@font-face\n\t{{font-family:"{n}";\n\tpanose-1:{p};}}' for n, p in FONTS)
    head = O_HEAD % (fonts, STYLE, "", STYLE_END, "EN-US")
    base = len((head + body).encode()) + head.count("\n") + body.count("\n")
    lists = outlook_lists(r, max(target - base, 1200))
    return O_HEAD % (fonts, STYLE, lists, STYLE_END, lang) + body


def gmail_html(blocks, q, r):
    d = ('<div class="gmail_default" style="font-family:arial,helvetica,sans-serif;font-size:small;color:#222222">%s</div>'
         if r.random() < 0.7 else "<div>%s</div>")
    out = ['<div dir="ltr">']
    for t, v in blocks:
        if t in ("p", "note", "disc"):
            out += [d % (ESC(line, False) or "<br>") for line in v.split("\n")]
        elif t == "l":
            out += ['<div><font face="monospace">%s</font></div>' % ESC(line, False) for line in "\n".join(v).split("\n")]
        elif t == "sig":
            img = base64.urlsafe_b64encode(r.randbytes(150)).decode()
            out.append('<span class="gmail_signature_prefix">-- </span><br><div dir="ltr" class="gmail_signature" data-smartmail="gmail_signature">'
                       '<div dir="ltr"><table style="color:rgb(34,34,34);font-family:Arial,Helvetica,sans-serif" cellspacing="0" cellpadding="0"><tbody><tr>'
                       f'<td style="padding-right:12px;border-right:2px solid rgb(0,84,159)"><img src="https://ci3.googleusercontent.com/mail-sig/{img}" width="96" height="60"></td>'
                       '<td style="padding-left:12px">' + "".join(
                           f'<div><span style="font-size:{"13px;font-weight:bold;color:rgb(0,84,159)" if k == 0 else "12px;color:rgb(85,85,85)"}">{ESC(s, False)}</span></div>'
                           for k, s in enumerate(v)) + "</td></tr></tbody></table></div></div>")
        out.append(d % "<br>")
    return "\n".join(out) + "</div>\n"


def request_html(blocks, q, r, target):
    if q.client == "gmail":
        h = gmail_html(blocks, q, r)
        if 10_000 <= len(h.encode()) + h.count("\n") <= 60_000:
            return h
    return outlook_html(blocks, q, r, target)


# ---------------------------------------------------------------- MIME
def qp(text):
    return binascii.b2a_qp(text.replace("\n", CRLF).encode(), istext=True)


def b64(data):
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def entity(ctype, cte, body, extra=()):
    h = [f"Content-Type: {ctype}", *extra] + ([f"Content-Transfer-Encoding: {cte}"] if cte else [])
    return (CRLF.join(h) + CRLF + CRLF).encode() + body


def multipart(sub, bnd, parts, params=""):
    b = b"--" + bnd.encode()
    body = b"".join(b + b"\r\n" + p + (b"" if p.endswith(b"\r\n") else b"\r\n") for p in parts) + b + b"--\r\n"
    return entity(f'multipart/{sub};{params}\r\n\tboundary="{bnd}"', None, body)


def boundary(r, client):
    if client == "outlook":
        return f"_00{r.randrange(5)}_PR3P192MB{r.getrandbits(64):016X}EURP_"
    if client == "gmail":
        return f"000000000000{r.getrandbits(48):012x}"
    if client == "iphone":
        return f"Apple-Mail-{r.getrandbits(64):016X}-{r.getrandbits(32):08X}"
    return "------------" + base64.b64encode(r.randbytes(18)).decode().replace("+", "x").replace("/", "y")


def text_part(text, client, sub="plain"):
    cs = {"outlook": '"utf-8"', "gmail": '"UTF-8"', "thunderbird": "UTF-8"}.get(client, "utf-8")
    if client == "gmail" and sub == "html":
        return entity(f'text/html; charset={cs}', "base64", b64(text.replace("\n", CRLF).encode()))
    if client == "thunderbird" and sub == "plain":
        return entity("text/plain; charset=UTF-8; format=flowed", "8bit", text.replace("\n", CRLF).encode())
    return entity(f"text/{sub}; charset={cs}", "quoted-printable", qp(text))


def hdr(name, value):
    if value.isascii():
        return f"{name}: {value}"
    return f"{name}: " + Header(value, "utf-8", header_name=name).encode(linesep=CRLF)


WD_EN, WD_FR = "Mon Tue Wed Thu Fri Sat Sun".split(), "lun. mar. mer. jeu. ven. sam. dim.".split()
WDL_EN, WDL_FR = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split(), "lundi mardi mercredi jeudi vendredi samedi dimanche".split()


def later(day, minute, delta):
    """A time delta working minutes after day, minute (8:00-18:30, working days)."""
    k, m = DAYS.index(day), minute + delta
    while m > 18 * 60 + 30:
        m, k = m - 10 * 60 - 30, k + 1
    return (DAYS[k], m) if k < len(DAYS) else (DAYS[-1], 18 * 60 + 30)


def rfcdate(day, minute, sec):
    return f"{WD_EN[day % 7]}, {day} Dec 2026 {minute // 60:02d}:{minute % 60:02d}:{sec:02d} +0100"


def headers(client, frm, subject, mid, date, lang, extra=(), tidx=None, attach=False):
    """The header block of one mail, in the order and style of its client."""
    f, s = hdr("From", frm), hdr("Subject", subject)
    ext = [hdr(n, v) for n, v in extra]
    to, d, m = f"To: {DESK}", f"Date: {date}", f"Message-ID: {mid}"
    if client == "outlook":
        h = [f, to, s, hdr("Thread-Topic", subject.split(": ", 1)[-1]), "Thread-Index: " + base64.b64encode(tidx).decode(), d, m, *ext,
             "Accept-Language: fr-FR, en-US", f"Content-Language: {'en-US' if lang == 'en' else 'fr-FR'}",
             "X-MS-Has-Attach: " + ("yes" if attach else ""), "X-MS-TNEF-Correlator: ", "X-Mailer: Microsoft Outlook 16.0", "MIME-Version: 1.0"]
    elif client == "gmail":
        h = ["MIME-Version: 1.0", *ext, f, d, m, s, to]
    elif client == "iphone":
        h = [f, "Mime-Version: 1.0 (1.0)", d, s, m.replace("ID", "Id"), *ext, to, "X-Mailer: iPhone Mail (21F90)"]
    else:
        h = [m, d, "MIME-Version: 1.0", "User-Agent: Mozilla Thunderbird", f"Content-Language: {'en-US' if lang == 'en' else 'fr'}", to, *ext, f, s]
    return h


def finish(r, frm_addr, day, minute, sec, h, body):
    host = frm_addr.split("@")[1]
    if host == "mx.example.test":  # made here
        return (CRLF.join([f"Received: by mx.example.test (Postfix)\r\n\tid {base64.b32encode(r.randbytes(5)).decode()}; "
                           + rfcdate(day, minute, sec), *h]) + CRLF).encode() + body
    ip = f"{r.randint(80, 213)}.{r.randrange(256)}.{r.randrange(256)}.{r.randint(1, 254)}"
    rcv = (f"Received: from mail.{host} (mail.{host} [{ip}])\r\n\tby mx.example.test (Postfix) with ESMTPS id "
           f"{base64.b32encode(r.randbytes(5)).decode()}\r\n\tfor <{DESK}>; {rfcdate(day, minute, min(sec + 3, 59))}")
    return (CRLF.join([rcv, *h]) + CRLF).encode() + body


# ---------------------------------------------------------------- attachments
POOL = []
MAGIC = {"pdf": b"%PDF-1.7\r\n%\xe2\xe3\xcf\xd3\r\n1 0 obj\r\n<</Type/Catalog/Pages 2 0 R>>\r\nendobj\r\n",
         "jpg": b"\xff\xd8\xff\xe1\x00\x16Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03",
         "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x07\x80\x00\x00\x048\x08\x06\x00\x00\x00",
         "docx": b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\x00\x00\x00\x00\x00\x00\x00\x00[Content_Types].xml",
         "xlsx": b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\x00\x00\x00\x00\x00\x00\x00\x00[Content_Types].xml"}
MIMES = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png",
         "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def attachment(r, q, n):
    if not POOL:  # one pool of random bytes, the same on every run
        POOL.append(b64(random.Random("mix-pool").randbytes(3_200_000)))
    ext = r.choices(("pdf", "jpg", "png", "docx", "xlsx"), (30, 20, 30, 10, 10) if q.client != "iphone" else (10, 80, 10, 0, 0))[0]
    stamp = f"202612{q.day:02d}_{q.minute // 60:02d}{q.minute % 60:02d}{q.sec:02d}"
    name = r.choice({"pdf": (f"Scan_{stamp}.pdf", f"Numérisation_{n}.pdf", f"Arrêté_2026-{q.i % 900 + 100}.pdf", f"doc{q.i:08d}{n}.pdf"),
                     "jpg": (f"IMG_{q.i % 9000 + 1000 + n}.jpg", f"photo_{q.ctx['printer']}.jpg", f"{stamp}.jpg"),
                     "png": ("Capture.PNG", f"Capture d'écran 2026-12-{q.day:02d} {stamp[9:]}.png", "image.png", f"erreur_{n}.png"),
                     "docx": (f"Formulaire_arrivée_{slug(q.name.split()[-1])}.docx", "Procédure VPN.docx", f"Demande d'accès {n}.docx"),
                     "xlsx": (f"Inventaire_postes_{slug(q.svc)[:12]}.xlsx", "Liste agents décembre.xlsx", f"Export_{n}.xlsx")}[ext])
    size = int(math.exp(r.uniform(math.log(50_000), math.log(3_000_000))))
    lines = (size - 57) // 57
    start = r.randrange(3_200_000 // 57 - lines)
    head = base64.b64encode((MAGIC[ext] + r.randbytes(57))[:57]) + b"\r\n"
    if name.isascii():
        p = f'name="{name}"'
    else:
        p = "name*=utf-8''" + "".join(c if c.isalnum() and c.isascii() or c in "._-" else "".join(f"%{b:02X}" for b in c.encode()) for c in name)
    return entity(f"{MIMES[ext]};\r\n\t{p}", "base64", head + POOL[0][start * 78:(start + lines) * 78],
                  [f"Content-Disposition: attachment;\r\n\tfile{p}"])


# ---------------------------------------------------------------- mails
def request_mail(q):
    r = R(q.seed, q.i, "x")
    blocks = request_blocks(q)
    body = text_part(plain_text(blocks, q.client), q.client)
    if q.html:
        hpart = text_part(request_html(blocks, q, r, int(r.uniform(10_250, 60_000))), q.client, "html")
        body = multipart("alternative", boundary(r, q.client), [body, hpart])
    if q.kind == "attachment":
        body = multipart("mixed", boundary(r, q.client), [body] + [attachment(r, q, n) for n in range(1 + (r.random() < 0.3))])
    h = headers(q.client, formataddr((q.name, q.addr), "utf-8"), q.subject, q.msgid, rfcdate(q.day, q.minute, q.sec),
                q.lang, tidx=q.tidx, attach=q.kind == "attachment")
    return finish(r, q.addr, q.day, q.minute, q.sec, h, body)


FU = dict(fr=dict(
    ok=bank("Merci, ça fonctionne de nouveau !|C'est bon pour moi, vous pouvez clôturer la demande. Merci pour votre réactivité.|"
            "Tout est rentré dans l'ordre depuis ce matin, merci."),
    ko=bank("Toujours le même problème ce matin, rien n'a changé.|Je me permets de vous relancer : le problème persiste et bloque le service.|"
            "Le problème est revenu cet après-midi après le redémarrage du poste.|Avez-vous du nouveau ? Nous avons une échéance le {date}."),
    more=bank("Je précise que cela ne concerne que mon poste {pc}, les collègues n'ont pas le souci.|"
              "Je suis disponible demain matin si un technicien peut passer au bureau {office}.|"
              "Ma collègue {colleague} a maintenant le même problème."),
    ans=bank("Le nom inscrit sous le poste est {pc}, je suis au bureau {office} ({floor}).|"
             "Oui, cela se produit aussi depuis le poste de {colleague}.|Vous pouvez me joindre au {ext}, je suis là toute la journée."),
    ask=bank("Pourriez-vous nous indiquer le nom du poste concerné et votre numéro de bureau ?|"
             "Le problème se produit-il aussi depuis un autre poste ?|À quel numéro pouvons-nous vous joindre pour une prise en main à distance ?"),
    ack="Votre demande a bien été enregistrée sous la référence {ref}. Conservez cette référence : elle permet de suivre votre demande. "
        "Pour ajouter une précision, répondez simplement à ce message.",
    wrote="Le {wd} {day} déc. 2026 à {hm}, {name} <{addr}> a écrit :", tb="Le {day:02d}/12/2026 à {hm}, {name} a écrit :",
    sep="-----Message d'origine-----|________________________________", hd=("De", "Envoyé", "À", "Objet"),
    sent="{wdl} {day} décembre 2026 {hm}"), en=dict(
    ok=bank("Thanks, it works again!|All good now, you can close the ticket. Thanks a lot."),
    ko=bank("Still the same problem this morning.|Any news? The problem is still there and I cannot work properly.|"
            "It happened again after a restart."),
    more=bank("It only affects my computer {pc}.|I am available tomorrow morning in office {office}."),
    ans=bank("The computer name is {pc}, I am in office {office}.|Yes, it also happens on {colleague}'s computer.|You can call me on {ext}."),
    ask=bank("Could you tell us the name of the computer and your office number?|Does it also happen on another computer?"),
    ack="Your request has been registered under the reference {ref}. Please keep this reference to follow your request. "
        "To add details, simply reply to this message.",
    wrote="On {wd}, Dec {day}, 2026 at {hm12} {name} <{addr}> wrote:", tb="On 12/{day}/2026 {hm12}, {name} wrote:",
    sep="-----Original Message-----|________________________________", hd=("From", "Sent", "To", "Subject"),
    sent="{wdl}, December {day}, 2026 {hm12}"))


def stamp(F, key, day, minute, name="", addr=""):
    h, m = divmod(minute, 60)
    return F[key].format(wd=(WD_FR if "déc" in F["wrote"] else WD_EN)[day % 7], wdl=(WDL_FR if "déc" in F["wrote"] else WDL_EN)[day % 7],
                         day=day, hm=f"{h:02d}:{m:02d}", hm12=f"{(h - 1) % 12 + 1}:{m:02d} {'AM' if h < 12 else 'PM'}", name=name, addr=addr)


def followup_mail(seed, i, j):
    p, r = request(seed, j), R(seed, i, "m")
    F, L = FU[p.lang], (EN if p.lang == "en" else FR)
    f = lambda s: s.format(**p.ctx)
    two = r.random() < 0.4
    ask = two and r.random() < 0.5
    orig = plain_text(request_blocks(p), p.client)
    day, minute = p.day, p.minute
    hist_from, hist_to, hist_subj, hist = (p.name, p.addr), ("", DESK), p.subject, orig
    if two:  # the desk's answer, quoting the request, is quoted in turn
        day, minute = later(day, minute, r.randint(2, 600) if ask else r.randint(1, 3))
        msg = f(r.choice(F["ask"])) if ask else F["ack"].format(ref=f"[SUPPORT #{j + 1:06d}]")
        hist = (f"Bonjour,\n\n{wrap(msg)}\n\n" if p.lang == "fr" else f"Hello,\n\n{wrap(msg)}\n\n") + \
            stamp(F, "wrote", p.day, p.minute, p.name, p.addr) + "\n" + quote(orig) + f"\n\n-- \n{DESK_NAME}\n"
        hist_from, hist_to, hist_subj = (DESK_NAME, DESK), (p.name, p.addr), f"[SUPPORT #{j + 1:06d}] {p.subject}"
    hday, hmin = day, minute
    day, minute = later(day, minute, r.randint(5, 2500))
    sec = r.randrange(60)
    said = f(r.choice(F["ans"])) if ask else f(r.choice(F["ok"] if r.random() < 0.35 else F["ko"]))
    if not ask and r.random() < 0.4:
        said += " " + f(r.choice(F["more"]))
    new = [("p", r.choice(L["greet"])), ("p", said), ("p", r.choice(L["close"]))]
    new.append(("note", L["iphone"]) if p.client == "iphone" else ("note", p.name))
    top = plain_text(new, p.client)
    if p.client == "outlook":
        n, a = hist_to
        head = [r.choice(F["sep"].split("|")), f"{F['hd'][0]} : {hist_from[0]} <{hist_from[1]}>",
                f"{F['hd'][1]} : " + stamp(F, "sent", hday, hmin), f"{F['hd'][2]} : " + (f"{n} <{a}>" if n else a),
                f"{F['hd'][3]} : {hist_subj}"]
        if p.lang == "en":
            head = [x.replace(" : ", ": ") for x in head]
        attr, text = "\n".join(head), top + "\n" + "\n".join(head) + "\n\n" + hist
    else:
        attr = stamp(F, "tb" if p.client == "thunderbird" else "wrote", hday, hmin, *hist_from)
        text = top + "\n" + attr + "\n" + quote(hist, p.client == "thunderbird") + "\n"
    body = text_part(text, p.client)
    if r.random() < 1 / 3:
        if p.client == "outlook":
            h = outlook_html(new + [("qh", head[1:]), ("l", hist.rstrip("\n").split("\n"))], p, r)
        elif p.client == "gmail":
            h = (gmail_html(new, p, r) + '<br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">' + ESC(attr) +
                 '<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">'
                 + "<br>\n".join(ESC(l, False) for l in hist.split("\n")) + "</blockquote></div>\n")
        else:
            h = ('<html><head><meta http-equiv="content-type" content="text/html; charset=UTF-8"></head><body dir="auto">'
                 + "".join(f"<div>{ESC(l, False) or '<br>'}</div>\n" for l in top.split("\n")) + f'<blockquote type="cite">{ESC(attr, False)}<br>\n'
                 + '<pre class="moz-quote-pre" wrap="">' + ESC(hist, False) + "</pre></blockquote></body></html>\n")
        body = multipart("alternative", boundary(r, p.client), [body, text_part(h, p.client, "html")])
    mid = msgid(r, p.client, seed, i, p.dom)
    subj = ("RE: " if p.client == "outlook" else "Re: ") + p.subject
    h = headers(p.client, formataddr((p.name, p.addr), "utf-8"), subj, mid, rfcdate(day, minute, sec), p.lang,
                [("In-Reply-To", p.msgid), ("References", p.msgid)], tidx=p.tidx + r.randbytes(5))
    return finish(r, p.addr, day, minute, sec, h, body)


NEWS = [("Lettre d'information de la DSI", "noreply@dsi.{dom}", "La lettre de la DSI n° {n} - décembre 2026"),
        ("Plateforme des marchés publics", "ne-pas-repondre@marches.{dom}", "Nouvelle consultation publiée : réf. 2026-{n}"),
        ("Sauvegardes", "noreply@backup.{dom}", "[Sauvegarde] Rapport quotidien : {k} tâche(s) en échec"),
        ("Supervision", "noreply@supervision.{dom}", "** PROBLEM Service Alert: srv-fic{k}/Disk is CRITICAL **")]


def automatic_mail(seed, i):
    r = R(seed, i, "m")
    j = earlier_request(seed, i, "a")
    q = request(seed, j) if j is not None else request(seed, i, True)
    day, minute = later(q.day, q.minute, r.randint(3, 900))
    sec, ref = r.randrange(60), f"[SUPPORT #{q.i + 1:06d}]"
    x, date = r.random(), rfcdate(day, minute, sec)
    if x < 0.45:  # out of office
        en = q.lang == "en" or r.random() < 0.2
        back = min(day + r.randint(7, 20), 31)
        text = (f"Hello,\n\nI am out of the office until December {back} with no access to my email. "
                f"For urgent matters, please contact {q.ctx['colleague']} ({q.ctx['ext']}).\n\nBest regards,\n{q.name}\n"
                if en else f"Bonjour,\n\nJe suis absent(e) jusqu'au {back} décembre inclus, sans accès à ma messagerie. "
                f"Pour toute urgence, merci de contacter {q.ctx['colleague']} au {q.ctx['ext']}.\n\nCordialement,\n{q.name}\n")
        subj = ("Automatic reply: " if en else "Réponse automatique : ") + f"{ref} {q.subject}"
        h = headers("outlook", formataddr((q.name, q.addr), "utf-8"), subj, msgid(r, "outlook", seed, i, q.dom), date, q.lang,
                    [("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")], tidx=q.tidx + r.randbytes(5))
        body = text_part(wrap(text), "outlook")
        if r.random() < 0.5:
            body = multipart("alternative", boundary(r, "outlook"), [body, text_part(outlook_html([("p", text)], q, r), "outlook", "html")])
        return finish(r, q.addr, day, minute, sec, h, body)
    if x < 0.8:  # newsletters and notifications
        k = r.randrange(len(NEWS))
        name, addr, subj = NEWS[k]
        addr, subj = addr.format(dom=q.dom), subj.format(n=r.randint(10, 400), k=r.randint(1, 9))
        items = [f"{r.choice(('Maintenance', 'Nouveauté', 'Rappel', 'Alerte'))} : {s}" for s in
                 r.sample(["coupure de la messagerie le samedi matin", "migration des lecteurs réseau", "nouvelle procédure de demande de badge",
                           "campagne de renouvellement des postes", "mise à jour du VPN", "fin du support de Windows 10",
                           "formation Teams ouverte aux agents", "fermeture du service entre Noël et le jour de l'an"], 4)]
        text = subj + "\n\n" + "\n\n".join(items) + f"\n\nSe désabonner : https://lists.{q.dom}/unsubscribe\n"
        rows = "".join(f'<tr><td style="padding:16px 24px;border-bottom:1px solid #e5e5e5;font-family:Arial,sans-serif;font-size:14px;'
                       f'line-height:20px;color:#333333"><h2 style="margin:0 0 8px 0;font-size:18px;color:#00549f">{ESC(s)}</h2>'
                       f'<p style="margin:0">Retrouvez le détail sur l\'intranet.</p></td></tr>\n' for s in items)
        h_ = (f'<!DOCTYPE html><html><body style="margin:0;padding:0;background:#f4f4f4"><table role="presentation" width="100%" cellpadding="0" '
              f'cellspacing="0" border="0"><tr><td align="center"><table width="600" style="background:#ffffff">\n{rows}</table></td></tr></table></body></html>\n')
        body = multipart("alternative", boundary(r, "gmail"), [text_part(text, "outlook"), text_part(h_, "outlook", "html")])
        if k >= 2:  # a notification from a server: plain text
            text = subj + "\n\n" + "\n".join(f"{h:02d}:{m:02d}  srv-{x}{r.randint(1, 9)}  {r.choice(('OK', 'WARNING', 'CRITICAL'))}  "
                                               f"{r.choice(('Disk /data 91% used', 'Job Sauvegarde-quotidienne: 0 error', 'Ping RTA 1.2 ms', 'Load 12.3'))}"
                                               for h, m, x in ((r.randint(0, 23), r.randrange(60), r.choice(('fic', 'ad', 'web', 'sql'))) for _ in range(r.randint(5, 60))))
            body = text_part(text + "\n", "outlook")
        extra = [("Precedence", "bulk"), ("List-Unsubscribe", f"<mailto:unsubscribe@lists.{q.dom}>, <https://lists.{q.dom}/u/{r.getrandbits(64):x}>"),
                 ("List-Id", f"<infos.lists.{q.dom}>"), ("Auto-Submitted", "auto-generated")]
        h = ["MIME-Version: 1.0", hdr("From", formataddr((name, addr), "utf-8")), f"Date: {date}",
             f"Message-ID: <{r.getrandbits(64):x}.g{seed}n{i}@lists.{q.dom}>", hdr("Subject", subj), f"To: {DESK}"] + [hdr(n, v) for n, v in extra]
        return finish(r, addr, day, minute, sec, h, body)
    # delivery status notification for a mail of the desk to the requester
    qid = base64.b32encode(r.randbytes(6)).decode()[:10]
    text = ("This is the mail system at host mx.example.test.\n\nI'm sorry to have to inform you that your message could not\n"
            "be delivered to one or more recipients. It's attached below.\n\n"
            f"<{q.addr}>: host mail.{q.dom} said: 550 5.1.1 <{q.addr}>:\n    Recipient address rejected: User unknown (in reply to RCPT TO command)\n")
    status = (f"Reporting-MTA: dns; mx.example.test\r\nX-Postfix-Queue-ID: {qid}\r\nX-Postfix-Sender: rfc822; {DESK}\r\n"
              f"Arrival-Date: {date}\r\n\r\nFinal-Recipient: rfc822; {q.addr}\r\nOriginal-Recipient: rfc822;{q.addr}\r\nAction: failed\r\n"
              f"Status: 5.1.1\r\nRemote-MTA: dns; mail.{q.dom}\r\nDiagnostic-Code: smtp; 550 5.1.1 <{q.addr}>: Recipient address rejected: User unknown\r\n")
    orig = (CRLF.join([f"From: {DESK_NAME} <{DESK}>", f"To: {q.addr}", hdr("Subject", f"{ref} {q.subject}"), f"Date: {date}",
                       f"Message-ID: <ticket{q.i + 1}.{r.getrandbits(32):x}@example.test>", "Auto-Submitted: auto-replied",
                       "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]) + CRLF).encode()
    body = multipart("report", boundary(r, "thunderbird"), [entity("text/plain; charset=us-ascii", "7bit", text.replace("\n", CRLF).encode()),
                                                             entity("message/delivery-status", None, status.encode()),
                                                             entity("text/rfc822-headers", None, orig)], " report-type=delivery-status;")
    h = [f"Return-Path: <>", "From: Mail Delivery System <MAILER-DAEMON@mx.example.test>", f"To: {DESK}", "Subject: Undelivered Mail Returned to Sender",
         f"Date: {date}", f"Message-ID: <{qid}.g{seed}n{i}@mx.example.test>", "Auto-Submitted: auto-replied", "MIME-Version: 1.0"]
    return finish(r, "x@mx.example.test", day, minute, sec, h, body)


def plain_mail(seed, i):
    """A plain request of PLAIN_SIZE bytes, give or take a line."""
    q, best = request(seed, i, True), None
    q.n = PLAIN_SIZE - 900
    for _ in range(6):
        data = request_mail(q)
        if best is None or abs(len(data) - PLAIN_SIZE) < abs(len(best) - PLAIN_SIZE):
            best = data
        if abs(len(data) - PLAIN_SIZE) < 60:
            break
        q.n += PLAIN_SIZE - len(data)
    return best


def make(seed, i):
    kind = kind_of(seed, i)
    if kind == "followup":
        return kind, followup_mail(seed, i, earlier_request(seed, i, "p"))
    if kind == "automatic":
        return kind, automatic_mail(seed, i)
    return kind, request_mail(request(seed, i))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("n", type=int)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--plain", action="store_true", help="only plain requests of 3.6 KB")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    counts, sizes = dict.fromkeys(KINDS, 0), []
    for i in range(a.start, a.start + a.n):
        kind, data = ("plain", plain_mail(a.seed, i)) if a.plain else make(a.seed, i)
        with open(os.path.join(a.outdir, f"{i:08d}-{kind}.eml"), "wb") as f:
            f.write(data)
        counts[kind] += 1
        sizes.append(len(data))
    sizes = sorted(sizes) or [0]
    print(" ".join(f"{k} {v}" for k, v in counts.items()) + f"; {sum(sizes) / 2**20:.1f} MiB; "
          f"median {sizes[len(sizes) // 2]} B; p90 {sizes[len(sizes) * 9 // 10]} B")


if __name__ == "__main__":
    main()
