//! How requesters answer a proposed solution, as they really write it:
//! a table of replies in French and English, as Outlook (desktop, web,
//! Android), Gmail, Apple Mail, iPhone, Samsung and Thunderbird produce
//! them, top-posted and bottom-posted, with greetings, signatures and the
//! quoted solution mail below or above, some of them HTML-only. Each text
//! goes through the same functions as in service: HTML to text for an
//! HTML-only mail, quote and signature stripping, then the reading of the
//! answer. When in doubt the expected outcome is Undecided: a wrong
//! validation closes a ticket that is not fixed, the worst error.

use guichet::inbound::{self, quote};
use guichet::ticket::machine::{decision_in, Decided};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Validate,
    /// With a piece of the explanation that must be kept.
    Refuse(&'static str),
    Undecided,
}

struct Case {
    /// Client and language, e.g. "Outlook desktop, fr, top-posted".
    what: &'static str,
    /// True when `text` is the HTML body of an HTML-only mail.
    html: bool,
    text: &'static str,
    expect: Expect,
}

use Expect::*;

const CASES: &[Case] = &[
    // ------------------------------------------------------------------
    // French, validations.
    // ------------------------------------------------------------------
    Case {
        what: "Thunderbird, fr, top-posted, bare keyword",
        html: false,
        text: "VALIDER\n\nLe 30/11/2026 à 10:12, Support informatique a écrit :\n> Bonjour,\n>\n> Nous avons réinstallé le pilote de l'imprimante du bureau 12.\n>\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n>\n> Support informatique\n",
        expect: Validate,
    },
    Case {
        what: "Thunderbird, fr, lower case keyword and -- signature",
        html: false,
        text: "valider\n\n-- \nJeanne Martin\nService état civil\nMairie d'Exemple\n\nLe 30/11/2026 à 10:12, Support informatique a écrit :\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Validate,
    },
    Case {
        what: "iPhone, fr, Validé",
        html: false,
        text: "Validé\n\nEnvoyé de mon iPhone\n\n> Le 30 nov. 2026 à 10:12, Support informatique <support@mairie-exemple.fr> a écrit :\n>\n> Bonjour,\n>\n> Le badge de Mme Petit a été réactivé.\n>\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Validate,
    },
    Case {
        what: "Outlook desktop, fr, VALIDÉ ! above the header block",
        html: false,
        text: "VALIDÉ !\n\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Martin Jeanne <jeanne.martin@mairie-exemple.fr>\nObjet : [#1042] Imprimante bureau 12\n\nBonjour,\n\nNous avons réinstallé le pilote de l'imprimante du bureau 12.\n\nRépondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n\nSupport informatique\n",
        expect: Validate,
    },
    Case {
        what: "Outlook for Android, fr, ok",
        html: false,
        text: "ok\n\nObtenir Outlook pour Android\n________________________________\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12:45\nÀ : Durand Paul <paul.durand@mairie-exemple.fr>\nObjet : [#1043] Messagerie sur le téléphone\n\nBonjour,\n\nLe compte a été reconfiguré sur votre téléphone.\n\nRépondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Validate,
    },
    Case {
        what: "Samsung mail, fr, OK merci",
        html: false,
        text: "OK merci\n\n\n\nEnvoyé depuis mon appareil Galaxy\n\n\n-------- Message d'origine --------\nDe : Support informatique <support@mairie-exemple.fr>\nDate : 30/11/2026 10:12 (GMT+01:00)\nÀ : Paul Durand <paul.durand@mairie-exemple.fr>\nObjet : [#1043] Messagerie sur le téléphone\n\nBonjour,\n\nRépondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Validate,
    },
    Case {
        what: "Gmail, fr, Ok, merci beaucoup !",
        html: false,
        text: "Ok, merci beaucoup !\n\nLe lun. 30 nov. 2026 à 10:12, Support informatique <support@example.test> a écrit :\n\n> Bonjour,\n>\n> Votre mot de passe a été réinitialisé, vous pouvez vous reconnecter.\n>\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n>\n",
        expect: Validate,
    },
    Case {
        what: "Outlook desktop, fr, greeting then Je valide, merci",
        html: false,
        text: "Bonjour,\n\nJe valide, merci.\n\nCordialement,\nPaul Lefèvre\nServices techniques\nMairie d'Exemple\n\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Lefèvre Paul <paul.lefevre@mairie-exemple.fr>\nObjet : [#1050] Accès au logiciel de voirie\n\nBonjour,\n\nVos droits ont été ajoutés.\n\nRépondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Validate,
    },
    Case {
        what: "Outlook desktop, fr, Bonjour Marc then C'est bon pour moi",
        html: false,
        text: "Bonjour Marc,\n\nC'est bon pour moi.\n\nBonne journée,\nSophie\n\nDe : Marc Dubois (Support) <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Sophie Blanc <sophie.blanc@mairie-exemple.fr>\nObjet : RE: [#1051] Double écran\n\nBonjour Sophie,\n\nLe second écran est branché et configuré.\n\nRépondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n\nMarc\n",
        expect: Validate,
    },
    Case {
        what: "Thunderbird, fr, Ça marche, merci !",
        html: false,
        text: "Ça marche, merci !\n\nLe 30/11/2026 à 10:12, Support a écrit :\n> Bonjour,\n>\n> Le partage Commun est de nouveau monté sur votre poste.\n>\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Validate,
    },
    Case {
        what: "Gmail, fr, Re-bonjour then Tout fonctionne",
        html: false,
        text: "Re-bonjour,\n\nTout fonctionne, merci pour votre aide.\n\nNadia\n\nLe lun. 30 nov. 2026 à 10:12, Support informatique <support@univ-exemple.fr> a écrit :\n\n> Bonjour,\n>\n> La salle B12 a de nouveau accès au vidéoprojecteur.\n>\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Validate,
    },
    Case {
        what: "Thunderbird, fr, C'est réglé with a long signature",
        html: false,
        text: "C'est réglé, merci.\n\n-- \nThomas Girard\nDirection des finances\nUniversité d'Exemple\n03 00 00 00 00\nhttps://www.univ-exemple.fr\n",
        expect: Validate,
    },
    Case {
        what: "Outlook desktop, fr, Madame, Monsieur then Problème résolu",
        html: false,
        text: "Madame, Monsieur,\n\nProblème résolu, vous pouvez clôturer la demande.\n\nVeuillez agréer mes salutations distinguées.\nM. Roche\n\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Roche Michel <michel.roche@mairie-exemple.fr>\nObjet : [#1052] Téléphone du standard\n\nRépondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Validate,
    },
    Case {
        what: "Outlook desktop, fr, keyword alone after the greeting line",
        html: false,
        text: "Bonjour,\n\nVALIDER\n\nMerci\nCorinne\n\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Corinne Fabre <corinne.fabre@mairie-exemple.fr>\nObjet : [#1053] Scanner de l'accueil\n\nRépondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Validate,
    },
    Case {
        what: "iPhone, fr, Oui c'est bon, merci beaucoup",
        html: false,
        text: "Oui c'est bon, merci beaucoup\n\nEnvoyé de mon iPhone\n\n> Le 30 nov. 2026 à 10:12, Support informatique <support@mairie-exemple.fr> a écrit :\n>\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Validate,
    },
    Case {
        what: "Thunderbird, fr, bottom-posted C'est bon",
        html: false,
        text: "Le 30/11/2026 à 10:12, Support informatique a écrit :\n> Bonjour,\n>\n> Le partage réseau S: est de nouveau accessible.\n>\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n\nC'est bon, merci !\n\n-- \nLuc Bernard\n",
        expect: Validate,
    },
    Case {
        what: "Thunderbird, fr, bottom-posted Je valide under a trimmed quote",
        html: false,
        text: "Le 30/11/2026 à 10:12, Support a écrit :\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n\nJe valide.\n\nAlice\n",
        expect: Validate,
    },
    Case {
        what: "Apple Mail, fr, accepter in lower case",
        html: false,
        text: "accepter\n\nBien à vous,\nGérard\n\n> Le 30 nov. 2026 à 10:12, Support informatique <support@univ-exemple.fr> a écrit :\n>\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Validate,
    },
    Case {
        what: "Gmail, fr, Merci, c'est réglé",
        html: false,
        text: "Bonjour,\nMerci, c'est réglé.\nBonne soirée\n\nLe lun. 30 nov. 2026 à 10:12, Support informatique <support@example.test> a écrit :\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Validate,
    },
    // ------------------------------------------------------------------
    // French, contradicted, deferred, courtesy only: undecided.
    // ------------------------------------------------------------------
    Case {
        what: "Gmail, fr, not tested yet (toujours pas, of the tester, not of the fix)",
        html: false,
        text: "Bonjour,\n\nJe n'ai toujours pas eu le temps de tester, je vous dis ça demain.\n\nCordialement,\nNadia\n\nLe lun. 30 nov. 2026 à 10:12, Support informatique <support@example.test> a écrit :\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Undecided,
    },
    Case {
        what: "Outlook web, fr, pas encore pu essayer",
        html: false,
        text: "Je n'ai pas encore pu essayer, je suis en congé jusqu'à lundi.\n\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Roux Léa <lea.roux@mairie-exemple.fr>\nObjet : [#1090] Accès au logiciel de paie\n",
        expect: Undecided,
    },
    Case {
        what: "Gmail, en, still haven't had a chance to try",
        html: false,
        text: "Hi, I still haven't had a chance to try it, will let you know.\n\nOn Mon, Nov 30, 2026 at 10:12 AM IT Support <support@example.test> wrote:\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Undecided,
    },
    Case {
        what: "Thunderbird, fr, REFUSER : je n'ai toujours pas accès",
        html: false,
        text: "REFUSER : je n'ai toujours pas accès au dossier partagé.\n\nLe 30/11/2026 à 10:12, Support informatique a écrit :\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Refuse("dossier partagé"),
    },
    Case {
        what: "Outlook desktop, fr, je n'ai toujours pas accès (no keyword)",
        html: false,
        text: "Bonjour,\n\nJe n'ai toujours pas accès au logiciel de paie.\n\nCordialement\n\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Roux Léa <lea.roux@mairie-exemple.fr>\nObjet : [#1090] Accès au logiciel de paie\n",
        expect: Refuse("logiciel de paie"),
    },
    Case {
        what: "iPhone, en, have not tested it yet",
        html: false,
        text: "Have not tested it yet, sorry. Tomorrow.\n\nSent from my iPhone\n\n> On 30 Nov 2026, at 10:12, IT Support <support@example.test> wrote:\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Undecided,
    },
    Case {
        what: "iPhone, fr, OK mais l'écran clignote encore",
        html: false,
        text: "OK mais l'écran clignote encore\n\nEnvoyé de mon iPhone\n\n> Le 30 nov. 2026 à 10:12, Support informatique <support@mairie-exemple.fr> a écrit :\n>\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Undecided,
    },
    Case {
        what: "Gmail, fr, Ok je regarde demain",
        html: false,
        text: "Ok je regarde demain\n\nLe lun. 30 nov. 2026 à 10:12, Support informatique <support@example.test> a écrit :\n\n> Bonjour,\n>\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Undecided,
    },
    Case {
        what: "Thunderbird, fr, OK je teste et je vous dis",
        html: false,
        text: "OK je teste et je vous dis\n\n-- \nAnne Leroy\nRessources humaines\n",
        expect: Undecided,
    },
    Case {
        what: "Outlook desktop, fr, Validé ? with a doubt",
        html: false,
        text: "Validé ? Je ne suis pas sûre d'avoir compris ce que je dois faire.\n\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Claire Moreau <claire.moreau@mairie-exemple.fr>\nObjet : [#1060] Agenda partagé\n\nRépondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Undecided,
    },
    Case {
        what: "Gmail, fr, Ça marche mieux mais pas complètement",
        html: false,
        text: "Ça marche mieux mais pas complètement, le son coupe encore pendant les visios.\n\nLe lun. 30 nov. 2026 à 10:12, Support informatique <support@univ-exemple.fr> a écrit :\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Undecided,
    },
    Case {
        what: "Outlook desktop, fr, OK then a contradiction on the next line",
        html: false,
        text: "OK.\n\nMais le scanner ne marche toujours pas.\n\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Accueil <accueil@mairie-exemple.fr>\nObjet : [#1061] Imprimante et scanner de l'accueil\n\nRépondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Undecided,
    },
    Case {
        what: "iPhone, fr, bare Merci",
        html: false,
        text: "Merci\n\nEnvoyé de mon iPhone\n\n> Le 30 nov. 2026 à 10:12, Support informatique <support@mairie-exemple.fr> a écrit :\n>\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Undecided,
    },
    Case {
        what: "Outlook desktop, fr, Merci beaucoup, bonne journée",
        html: false,
        text: "Merci beaucoup, bonne journée\n\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Lucie Garnier <lucie.garnier@mairie-exemple.fr>\nObjet : [#1062] Clé USB non reconnue\n\nRépondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Undecided,
    },
    Case {
        what: "Outlook desktop, fr, absent today, will look on Monday",
        html: false,
        text: "Bonjour,\n\nJe suis absente aujourd'hui, je regarde lundi.\n\nCordialement,\nÉlodie Chevalier\n",
        expect: Undecided,
    },
    Case {
        what: "Thunderbird, fr, empty answer, only a signature above the quote",
        html: false,
        text: "\n\n-- \nJeanne Martin\nMairie d'Exemple\n\nLe 30/11/2026 à 10:12, Support a écrit :\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Undecided,
    },
    Case {
        what: "Gmail, fr, a question",
        html: false,
        text: "Bonjour,\n\nFaut-il redémarrer le poste ?\n\nMerci\nKarim\n\nLe lun. 30 nov. 2026 à 10:12, Support informatique <support@univ-exemple.fr> a écrit :\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Undecided,
    },
    Case {
        what: "Outlook desktop, fr, only the quoted history says VALIDER",
        html: false,
        text: "Bonjour,\n\nJe transmets à ma collègue qui utilise ce poste le matin.\n\nBien cordialement,\nBruno\n\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Bruno Perrin <bruno.perrin@mairie-exemple.fr>\nObjet : [#1063] Poste de l'accueil lent\n\nBonjour,\n\nNous avons remplacé le disque du poste.\n\nRépondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Undecided,
    },
    Case {
        what: "hostile, fr, keyword only inside a quoted line",
        html: false,
        text: "> VALIDER\n\n-- \nPaul\n",
        expect: Undecided,
    },
    Case {
        what: "Thunderbird, fr, inline quote of the instruction then a question",
        html: false,
        text: "Le 30/11/2026 à 10:12, Support a écrit :\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n\nJe ne comprends pas ce que je dois répondre, le logiciel s'ouvre mais très lentement.\n",
        expect: Undecided,
    },
    Case {
        what: "hostile, fr, both keywords",
        html: false,
        text: "VALIDER REFUSER\n",
        expect: Undecided,
    },
    Case {
        what: "Outlook desktop, fr, very long first line starting with OK and a complaint",
        html: false,
        text: "OK pour le pilote, l'imprimante est bien réapparue dans la liste des périphériques et la page de test sort correctement, mais dès que j'imprime un document Word de plus de deux pages le bac 2 se bloque et il faut éteindre et rallumer la machine à chaque fois\n\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Secrétariat <secretariat@mairie-exemple.fr>\nObjet : [#1064] Imprimante du secrétariat\n\nRépondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Undecided,
    },
    Case {
        what: "iPhone, fr, OK ? with a question",
        html: false,
        text: "OK ? Je dois faire quoi exactement ?\n\nEnvoyé de mon iPhone\n",
        expect: Undecided,
    },
    Case {
        what: "Gmail, fr, Ok pour moi mais pas encore testé",
        html: false,
        text: "Ok pour moi, mais je n'ai pas encore pu tester l'impression couleur.\n\nLe lun. 30 nov. 2026 à 10:12, Support informatique <support@example.test> a écrit :\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Undecided,
    },
    Case {
        what: "Thunderbird, fr, C'est bon je crois, answer tomorrow",
        html: false,
        text: "C'est bon je crois, je vous redis demain.\n\nLe 30/11/2026 à 10:12, Support a écrit :\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Undecided,
    },
    Case {
        what: "Android Outlook, fr, pas encore testé",
        html: false,
        text: "Pas encore testé, je vous tiens au courant.\n\nObtenir Outlook pour Android\n",
        expect: Undecided,
    },
    Case {
        what: "Outlook desktop, fr, je regarde cet après-midi",
        html: false,
        text: "Bonjour,\n\nJe regarde ça cet après-midi et je reviens vers vous.\n\nCordialement,\nMarie-Laure\n",
        expect: Undecided,
    },
    Case {
        what: "Gmail, fr, Validé, mais something remains",
        html: false,
        text: "Validé, mais il reste le raccourci sur le bureau qui ne s'ouvre pas.\n\nLe lun. 30 nov. 2026 à 10:12, Support informatique <support@example.test> a écrit :\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Undecided,
    },
    Case {
        what: "Outlook desktop, fr, OK toujours pareil",
        html: false,
        text: "Ok c'est toujours pareil chez moi\n\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Urbanisme <urbanisme@mairie-exemple.fr>\nObjet : [#1065] Plans cadastraux\n",
        expect: Undecided,
    },
    // ------------------------------------------------------------------
    // French, refusals.
    // ------------------------------------------------------------------
    Case {
        what: "iPhone, fr, REFUSER : toujours hors ligne",
        html: false,
        text: "REFUSER : toujours hors ligne\n\nEnvoyé de mon iPhone\n\n> Le 30 nov. 2026 à 10:12, Support informatique <support@mairie-exemple.fr> a écrit :\n>\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Refuse("toujours hors ligne"),
    },
    Case {
        what: "Outlook desktop, fr, Non, REFUSER : explanation",
        html: false,
        text: "Non, REFUSER : l'imprimante n'imprime rien\n\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Cantine <cantine@mairie-exemple.fr>\nObjet : [#1070] Imprimante cantine\n\nRépondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Refuse("n'imprime rien"),
    },
    Case {
        what: "Thunderbird, fr, Refusé, ça ne marche pas",
        html: false,
        text: "Refusé, ça ne marche pas\n\n-- \nGilles Fontaine\nPolice municipale\n",
        expect: Refuse(""),
    },
    Case {
        what: "Gmail, fr, Je refuse, le problème persiste",
        html: false,
        text: "Je refuse, le problème persiste\n\nLe lun. 30 nov. 2026 à 10:12, Support informatique <support@univ-exemple.fr> a écrit :\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Refuse("le problème persiste"),
    },
    Case {
        what: "Samsung mail, fr, Ça ne marche toujours pas",
        html: false,
        text: "Ça ne marche toujours pas\n\n\n\nEnvoyé depuis mon appareil Galaxy\n\n\n-------- Message d'origine --------\nDe : Support informatique <support@mairie-exemple.fr>\nDate : 30/11/2026 10:12 (GMT+01:00)\nÀ : Atelier <atelier@mairie-exemple.fr>\nObjet : [#1071] Tablette de l'atelier\n\nRépondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Refuse(""),
    },
    Case {
        what: "Outlook desktop, fr, Non ça ne fonctionne pas with detail",
        html: false,
        text: "Non ça ne fonctionne pas, Outlook demande toujours le mot de passe.\n\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Julien Roux <julien.roux@mairie-exemple.fr>\nObjet : [#1072] Mot de passe messagerie\n\nRépondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Refuse("mot de passe"),
    },
    Case {
        what: "Thunderbird, fr, Pas OK then the reason below",
        html: false,
        text: "Pas OK\n\nL'écran reste noir au démarrage.\n\nLe 30/11/2026 à 10:12, Support a écrit :\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Refuse("reste noir"),
    },
    Case {
        what: "Outlook desktop, fr, Je ne valide pas",
        html: false,
        text: "Bonjour,\n\nJe ne valide pas, le poste redémarre toujours tout seul vers 11 h.\n\nCordialement,\nFrançoise\n\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Françoise Lambert <francoise.lambert@mairie-exemple.fr>\nObjet : [#1073] Redémarrages intempestifs\n",
        expect: Refuse("redémarre toujours"),
    },
    Case {
        what: "Gmail, fr, Ce n'est pas bon",
        html: false,
        text: "Bonjour,\n\nCe n'est pas bon, la session se ferme au bout de cinq minutes.\n\nCordialement\n\nLe lun. 30 nov. 2026 à 10:12, Support informatique <support@univ-exemple.fr> a écrit :\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Refuse("cinq minutes"),
    },
    Case {
        what: "Apple Mail, fr, refuser with the reason on the next line",
        html: false,
        text: "refuser\nle lecteur réseau n'apparaît toujours pas\n\n> Le 30 nov. 2026 à 10:12, Support informatique <support@univ-exemple.fr> a écrit :\n>\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Refuse("lecteur réseau"),
    },
    Case {
        what: "Outlook desktop, fr, REFUSER and a paragraph with an error code",
        html: false,
        text: "REFUSER\n\nLe logiciel de paie affiche toujours l'erreur 0x80070005 au lancement.\n\nMerci de repasser dans la journée.\n\n-- \nIsabelle Henry\nService du personnel\n\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Isabelle Henry <isabelle.henry@mairie-exemple.fr>\nObjet : [#1074] Logiciel de paie\n",
        expect: Refuse("0x80070005"),
    },
    Case {
        what: "Thunderbird, fr, Non as first word then the reason",
        html: false,
        text: "Non, toujours la même erreur au démarrage.\n\nLe 30/11/2026 à 10:12, Support a écrit :\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Refuse("même erreur"),
    },
    Case {
        what: "Thunderbird, fr, bottom-posted REFUSER",
        html: false,
        text: "Le 30/11/2026 à 10:12, Support informatique a écrit :\n> Bonjour,\n>\n> La borne wifi de la salle du conseil a été remplacée.\n>\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n\nREFUSER : le wifi décroche toujours en salle du conseil.\n\n-- \nServices généraux\n",
        expect: Refuse("décroche"),
    },
    Case {
        what: "Outlook desktop, fr, Bonjour Marc then Non, ça ne marche pas",
        html: false,
        text: "Bonjour Marc,\n\nNon, ça ne marche pas : le scanner envoie toujours les fichiers vers l'ancienne adresse.\n\nMerci,\nHélène\n\nDe : Marc Dubois (Support) <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Hélène Caron <helene.caron@mairie-exemple.fr>\nObjet : RE: [#1075] Numérisation vers messagerie\n",
        expect: Refuse("ancienne adresse"),
    },
    Case {
        what: "Gmail, fr, Refuser - explanation",
        html: false,
        text: "Refuser - le VPN coupe au bout de 10 minutes\n\nLe lun. 30 nov. 2026 à 10:12, Support informatique <support@univ-exemple.fr> a écrit :\n> Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.\n",
        expect: Refuse("10 minutes"),
    },
    Case {
        what: "iPhone, fr, Non alone then the reason below",
        html: false,
        text: "Non\n\nRien n'a changé, Teams plante toujours au partage d'écran.\n\nEnvoyé de mon iPhone\n",
        expect: Refuse("Teams plante"),
    },
    Case {
        what: "Android Outlook, fr, Ça ne fonctionne toujours pas.",
        html: false,
        text: "Ça ne fonctionne toujours pas.\n\nObtenir Outlook pour Android\n________________________________\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12:45\nÀ : Voirie <voirie@mairie-exemple.fr>\nObjet : [#1076] Tablette terrain\n",
        expect: Refuse(""),
    },
    Case {
        what: "Outlook desktop, fr, REFUSÉ in capitals with accent",
        html: false,
        text: "REFUSÉ : la signature ne s'affiche pas dans les nouveaux messages\n\nDe : Support informatique <support@mairie-exemple.fr>\nEnvoyé : lundi 30 novembre 2026 10:12\nÀ : Communication <communication@mairie-exemple.fr>\nObjet : [#1077] Signature de messagerie\n",
        expect: Refuse("signature"),
    },
    // ------------------------------------------------------------------
    // English, validations.
    // ------------------------------------------------------------------
    Case {
        what: "Gmail, en, top-posted ACCEPT",
        html: false,
        text: "ACCEPT\n\nOn Mon, Nov 30, 2026 at 10:12 AM IT Support <support@example.test> wrote:\n\n> Hello,\n>\n> We have reset your VPN profile.\n>\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n>\n> IT Support\n",
        expect: Validate,
    },
    Case {
        what: "iPhone, en, accept in lower case",
        html: false,
        text: "accept\n\nSent from my iPhone\n\n> On Nov 30, 2026, at 10:12 AM, IT Support <support@example.test> wrote:\n>\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Validate,
    },
    Case {
        what: "Outlook desktop, en, OK above the header block",
        html: false,
        text: "OK\n\nFrom: IT Support <support@example.test>\nSent: Monday, November 30, 2026 10:12 AM\nTo: Smith, John <john.smith@example.test>\nSubject: RE: [#2210] VPN disconnects\n\nHello,\n\nWe have reset your VPN profile.\n\nReply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Validate,
    },
    Case {
        what: "Outlook for Android, en, OK thanks",
        html: false,
        text: "OK thanks\n\nGet Outlook for Android\n________________________________\nFrom: IT Support <support@example.test>\nSent: Monday, November 30, 2026 10:12:45 AM\nTo: Emily Clark <emily.clark@example.test>\nSubject: [#2211] Phone mail setup\n\nReply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Validate,
    },
    Case {
        what: "Thunderbird, en, It works now, thanks with signature",
        html: false,
        text: "It works now, thanks\n\n-- \nJohn Smith\nFacilities\nexample.test\n",
        expect: Validate,
    },
    Case {
        what: "Gmail, en, Fixed, thank you.",
        html: false,
        text: "Fixed, thank you.\n\nOn Mon, Nov 30, 2026 at 10:12 AM IT Support <support@example.test> wrote:\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Validate,
    },
    Case {
        what: "iPhone, en, All good",
        html: false,
        text: "All good\n\nSent from my iPhone\n",
        expect: Validate,
    },
    Case {
        what: "Gmail, en, Yes, that fixed it",
        html: false,
        text: "Yes, that fixed it. Thanks a lot!\n\nOn Mon, Nov 30, 2026 at 10:12 AM IT Support <support@example.test> wrote:\n\n> Hi Laura,\n>\n> The second monitor driver has been updated.\n>\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Validate,
    },
    Case {
        what: "Outlook desktop, en, Hi Marc then All good",
        html: false,
        text: "Hi Marc,\n\nAll good on my side, the shared drive is back.\n\nCheers,\nEmily\n\nFrom: Marc Dubois (IT Support) <support@example.test>\nSent: Monday, November 30, 2026 10:12 AM\nTo: Emily Clark <emily.clark@example.test>\nSubject: RE: [#2212] Shared drive missing\n",
        expect: Validate,
    },
    Case {
        what: "Outlook desktop, en, Hello then ACCEPT",
        html: false,
        text: "Hello,\n\nACCEPT\n\nBest regards,\nDavid Chen\n\nFrom: IT Support <support@example.test>\nSent: Monday, November 30, 2026 10:12 AM\nTo: David Chen <david.chen@example.test>\nSubject: [#2213] Badge reader\n\nReply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Validate,
    },
    Case {
        what: "odd, en, OKAY in capitals",
        html: false,
        text: "OKAY\n\nSent from my iPhone\n",
        expect: Validate,
    },
    Case {
        what: "Gmail, en, Thanks, it's working now",
        html: false,
        text: "Thanks, it's working now.\n\nOn Mon, Nov 30, 2026 at 10:12 AM IT Support <support@example.test> wrote:\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Validate,
    },
    Case {
        what: "Thunderbird, en, bottom-posted It works",
        html: false,
        text: "On 30/11/2026 10:12, IT Support wrote:\n> Hello,\n>\n> Your mailbox quota has been raised.\n>\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n\nIt works, thanks.\n\nJohn\n",
        expect: Validate,
    },
    Case {
        what: "Outlook web, en, Problem solved",
        html: false,
        text: "Problem solved, you can close the ticket.\n\nKind regards,\nPriya\n\n________________________________\nFrom: IT Support <support@example.test>\nSent: 30 November 2026 10:12\nTo: Priya Patel <priya.patel@example.test>\nSubject: [#2214] Calendar sync\n",
        expect: Validate,
    },
    Case {
        what: "Apple Mail, en, Dear team then accepted",
        html: false,
        text: "Dear IT team,\n\nAccept, thank you for the quick fix.\n\nRegards,\nRobert\n\n> On 30 Nov 2026, at 10:12, IT Support <support@example.test> wrote:\n>\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Validate,
    },
    // ------------------------------------------------------------------
    // English, contradicted, deferred, courtesy only: undecided.
    // ------------------------------------------------------------------
    Case {
        what: "iPhone, en, ok but the printer is still offline",
        html: false,
        text: "ok but the printer is still offline\n\nSent from my iPhone\n\n> On Nov 30, 2026, at 10:12 AM, IT Support <support@example.test> wrote:\n>\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Undecided,
    },
    Case {
        what: "odd, en, ok?",
        html: false,
        text: "ok?\n\nOn Mon, Nov 30, 2026 at 10:12 AM IT Support <support@example.test> wrote:\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Undecided,
    },
    Case {
        what: "Gmail, en, Thanks!",
        html: false,
        text: "Thanks!\n\nOn Mon, Nov 30, 2026 at 10:12 AM IT Support <support@example.test> wrote:\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Undecided,
    },
    Case {
        what: "Outlook desktop, en, OK, will test tomorrow",
        html: false,
        text: "OK, I'll test it tomorrow morning and let you know.\n\nFrom: IT Support <support@example.test>\nSent: Monday, November 30, 2026 10:12 AM\nTo: Mark Evans <mark.evans@example.test>\nSubject: [#2220] Scanner driver\n",
        expect: Undecided,
    },
    Case {
        what: "Gmail, en, Accept? with a doubt",
        html: false,
        text: "Accept? Not sure what you mean, I still see the error.\n\nOn Mon, Nov 30, 2026 at 10:12 AM IT Support <support@example.test> wrote:\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Undecided,
    },
    Case {
        what: "Outlook for Android, en, not yet",
        html: false,
        text: "Not yet, I'm out of the office until Thursday.\n\nGet Outlook for Android\n",
        expect: Undecided,
    },
    Case {
        what: "Outlook desktop, en, a question",
        html: false,
        text: "Hi,\n\nShould I restart the laptop first?\n\nThanks,\nLaura\n\nFrom: IT Support <support@example.test>\nSent: Monday, November 30, 2026 10:12 AM\nTo: Laura Bennett <laura.bennett@example.test>\nSubject: [#2221] Laptop docking station\n",
        expect: Undecided,
    },
    Case {
        what: "Gmail, en, thank you, have a nice day",
        html: false,
        text: "Thank you very much, have a nice day.\n\nOn Mon, Nov 30, 2026 at 10:12 AM IT Support <support@example.test> wrote:\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Undecided,
    },
    Case {
        what: "Outlook desktop, en, only the quoted history says ACCEPT",
        html: false,
        text: "Hi,\n\nAdding my colleague Sarah in copy, she uses this PC in the afternoon.\n\nBest,\nTom\n\nFrom: IT Support <support@example.test>\nSent: Monday, November 30, 2026 10:12 AM\nTo: Tom Walker <tom.walker@example.test>\nSubject: [#2222] Slow PC at reception\n\nHello,\n\nWe replaced the hard drive.\n\nReply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Undecided,
    },
    Case {
        what: "Gmail, en, empty answer, only a signature",
        html: false,
        text: "\n-- \nJohn Smith\nFinance department\nexample.test\n\nOn Mon, Nov 30, 2026 at 10:12 AM IT Support <support@example.test> wrote:\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Undecided,
    },
    Case {
        what: "iPhone, en, OK will check later",
        html: false,
        text: "OK will check later\n\nSent from my iPhone\n",
        expect: Undecided,
    },
    Case {
        what: "Gmail, en, works better but",
        html: false,
        text: "It works better, but the sound still cuts out during calls.\n\nOn Mon, Nov 30, 2026 at 10:12 AM IT Support <support@example.test> wrote:\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Undecided,
    },
    Case {
        what: "Outlook desktop, en, OK then a contradiction on the next line",
        html: false,
        text: "OK.\n\nBut the scanner still doesn't send to my mailbox.\n\nFrom: IT Support <support@example.test>\nSent: Monday, November 30, 2026 10:12 AM\nTo: Reception <reception@example.test>\nSubject: [#2223] Scan to mail\n",
        expect: Undecided,
    },
    Case {
        what: "hostile, en, both keywords",
        html: false,
        text: "ACCEPT REFUSE\n",
        expect: Undecided,
    },
    Case {
        what: "hostile, en, keyword only inside a quoted line",
        html: false,
        text: "> ACCEPT\n\nSent from my iPhone\n",
        expect: Undecided,
    },
    Case {
        what: "Outlook desktop, en, very long first line starting with OK and a complaint",
        html: false,
        text: "OK so the VPN connects now and I can see the shared drives, but as soon as I open the accounting software it freezes and I have to kill it from the task manager every single time, which is worse than before\n\nFrom: IT Support <support@example.test>\nSent: Monday, November 30, 2026 10:12 AM\nTo: Accounts <accounts@example.test>\nSubject: [#2224] VPN and accounting software\n",
        expect: Undecided,
    },
    Case {
        what: "Thunderbird, en, looking at it now",
        html: false,
        text: "I'm looking at it now, will get back to you.\n\n-- \nOliver Hughes\n",
        expect: Undecided,
    },
    Case {
        what: "Gmail, en, Hi then thanks for looking into it",
        html: false,
        text: "Hi Marc,\n\nThanks for looking into it, I'll be back at my desk on Wednesday.\n\nBest,\nHannah\n\nOn Mon, Nov 30, 2026 at 10:12 AM Marc Dubois <support@example.test> wrote:\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Undecided,
    },
    // ------------------------------------------------------------------
    // English, refusals.
    // ------------------------------------------------------------------
    Case {
        what: "Outlook desktop, en, Still not working",
        html: false,
        text: "Still not working\n\nFrom: IT Support <support@example.test>\nSent: Monday, November 30, 2026 10:12 AM\nTo: Smith, John <john.smith@example.test>\nSubject: RE: [#2210] VPN disconnects\n\nReply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Refuse(""),
    },
    Case {
        what: "iPhone, en, It doesn't work",
        html: false,
        text: "It doesn't work\n\nSent from my iPhone\n\n> On Nov 30, 2026, at 10:12 AM, IT Support <support@example.test> wrote:\n>\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Refuse(""),
    },
    Case {
        what: "Gmail, en, No, the issue is still there",
        html: false,
        text: "No, the issue is still there\n\nOn Mon, Nov 30, 2026 at 10:12 AM IT Support <support@example.test> wrote:\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Refuse("still there"),
    },
    Case {
        what: "Thunderbird, en, REFUSE: still offline",
        html: false,
        text: "REFUSE: still offline\n\nOn 30/11/2026 10:12, IT Support wrote:\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Refuse("still offline"),
    },
    Case {
        what: "Outlook for Android, en, Refuse - explanation",
        html: false,
        text: "Refuse - Outlook keeps asking for my password.\n\nGet Outlook for Android\n",
        expect: Refuse("password"),
    },
    Case {
        what: "Outlook desktop, en, not fixed",
        html: false,
        text: "Not fixed, the laptop still won't connect to the Wi-Fi in room B204.\n\nFrom: IT Support <support@example.test>\nSent: Monday, November 30, 2026 10:12 AM\nTo: Room B204 <b204@example.test>\nSubject: [#2230] Wi-Fi in B204\n",
        expect: Refuse("B204"),
    },
    Case {
        what: "Outlook desktop, en, Hello then No, it still crashes",
        html: false,
        text: "Hello,\n\nNo, it still crashes when I open the payroll file.\n\nRegards,\nMaria\n\nFrom: IT Support <support@example.test>\nSent: Monday, November 30, 2026 10:12 AM\nTo: Maria Lopez <maria.lopez@example.test>\nSubject: [#2231] Excel crashes\n",
        expect: Refuse("payroll"),
    },
    Case {
        what: "Apple Mail, en, refuse with the reason on the next paragraph",
        html: false,
        text: "refuse\n\nThe second screen is still not detected after a reboot.\n\n> On 30 Nov 2026, at 10:12, IT Support <support@example.test> wrote:\n>\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Refuse("second screen"),
    },
    Case {
        what: "Gmail, en, Doesn't work, same error",
        html: false,
        text: "Doesn't work, same error as before: 0x800CCC0E.\n\nOn Mon, Nov 30, 2026 at 10:12 AM IT Support <support@example.test> wrote:\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Refuse("0x800CCC0E"),
    },
    Case {
        what: "Thunderbird, en, bottom-posted REFUSE",
        html: false,
        text: "On 30/11/2026 10:12, IT Support wrote:\n> Hello,\n>\n> Your badge has been re-enrolled.\n>\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n\nREFUSE: the badge reader still rejects my card at the main entrance.\n\n-- \nKevin\n",
        expect: Refuse("badge reader"),
    },
    Case {
        what: "iPhone, en, No, still the same error",
        html: false,
        text: "No, still the same error when I log in.\n\nSent from my iPhone\n",
        expect: Refuse("same error"),
    },
    Case {
        what: "Outlook web, en, Hi then Still not working with details",
        html: false,
        text: "Hi,\n\nStill not working, the meeting room screen stays on the blue logo.\n\nThanks,\nGrace\n\n________________________________\nFrom: IT Support <support@example.test>\nSent: 30 November 2026 10:12\nTo: Grace Kim <grace.kim@example.test>\nSubject: [#2232] Meeting room screen\n",
        expect: Refuse("blue logo"),
    },
    // ------------------------------------------------------------------
    // English, more of each.
    // ------------------------------------------------------------------
    Case {
        what: "Outlook web, en, Hi Marc then Accept, thanks",
        html: false,
        text: "Hi Marc,\n\nAccept, thanks.\n\nBest regards,\nNoah\n\n________________________________\nFrom: Marc Dubois (IT Support) <support@example.test>\nSent: 30 November 2026 10:12\nTo: Noah Green <noah.green@example.test>\nSubject: [#2250] Outlook calendar permissions\n\nReply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Validate,
    },
    Case {
        what: "Gmail, en, ok, thank you so much!",
        html: false,
        text: "ok, thank you so much!\n\nOn Mon, Nov 30, 2026 at 10:12 AM IT Support <support@example.test> wrote:\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Validate,
    },
    Case {
        what: "Thunderbird, en, Works fine now",
        html: false,
        text: "Hello,\n\nIt works fine now, many thanks.\n\n-- \nSophie Turner\nLibrary\n",
        expect: Validate,
    },
    Case {
        what: "iPhone, en, OK but check again tomorrow",
        html: false,
        text: "OK but only after a restart, let me check again tomorrow\n\nSent from my iPhone\n",
        expect: Undecided,
    },
    Case {
        what: "Outlook desktop, en, thanks, will check on Monday",
        html: false,
        text: "Thanks, I'll check on Monday when I'm back.\n\nFrom: IT Support <support@example.test>\nSent: Monday, November 30, 2026 10:12 AM\nTo: Ruth Adams <ruth.adams@example.test>\nSubject: [#2251] Remote desktop\n",
        expect: Undecided,
    },
    Case {
        what: "Samsung mail, en, REFUSE without punctuation",
        html: false,
        text: "REFUSE the app still crashes on start\n\n\n\nSent from my Galaxy\n\n\n-------- Original message --------\nFrom: IT Support <support@example.test>\nDate: 11/30/26 10:12 AM (GMT+00:00)\nTo: Field team <field@example.test>\nSubject: [#2252] Tablet app\n",
        expect: Refuse("crashes on start"),
    },
    Case {
        what: "Thunderbird, en, It still doesn't work",
        html: false,
        text: "It still doesn't work after the update.\n\nOn 30/11/2026 10:12, IT Support wrote:\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Refuse(""),
    },
    Case {
        what: "Gmail, en, Not working with a reason",
        html: false,
        text: "Not working, the link gives a 404 error.\n\nOn Mon, Nov 30, 2026 at 10:12 AM IT Support <support@example.test> wrote:\n> Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.\n",
        expect: Refuse("404"),
    },
    // ------------------------------------------------------------------
    // HTML-only mails.
    // ------------------------------------------------------------------
    Case {
        what: "Gmail HTML, fr, C'est bon, merci !",
        html: true,
        text: r##"<div dir="ltr">C'est bon, merci !<br></div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">Le lun. 30 nov. 2026 à 10:12, Support informatique &lt;<a href="mailto:support@mairie-exemple.fr">support@mairie-exemple.fr</a>&gt; a écrit&nbsp;:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">Bonjour,<br><br>Nous avons réinstallé le pilote de l'imprimante du bureau 12.<br><br>Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.<br><br>Support informatique<br></blockquote></div>
"##,
        expect: Validate,
    },
    Case {
        what: "Outlook desktop HTML, fr, Bonjour then Je valide, border-top separator",
        html: true,
        text: r##"<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:w="urn:schemas-microsoft-com:office:word"><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><meta name="Generator" content="Microsoft Word 15 (filtered medium)"><style><!--
p.MsoNormal, li.MsoNormal, div.MsoNormal {margin:0cm; font-size:11.0pt; font-family:"Calibri",sans-serif;}
span.EmailStyle17 {mso-style-type:personal-compose;}
@page WordSection1 {size:612.0pt 792.0pt; margin:70.85pt 70.85pt 70.85pt 70.85pt;}
div.WordSection1 {page:WordSection1;}
--></style></head><body lang=FR link="#0563C1" vlink="#954F72" style="word-wrap:break-word"><div class=WordSection1><p class=MsoNormal>Bonjour,<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Je valide, merci pour la rapidité.<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Cordialement,<o:p></o:p></p><p class=MsoNormal>Nathalie Robin<o:p></o:p></p><p class=MsoNormal>Médiathèque municipale<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><div><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class=MsoNormal><b>De&nbsp;:</b> Support informatique &lt;support@mairie-exemple.fr&gt; <br><b>Envoyé&nbsp;:</b> lundi 30 novembre 2026 10:12<br><b>À&nbsp;:</b> Robin Nathalie &lt;nathalie.robin@mairie-exemple.fr&gt;<br><b>Objet&nbsp;:</b> [#1080] Lecteur de codes-barres<o:p></o:p></p></div></div><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Bonjour,<o:p></o:p></p><p class=MsoNormal>Le lecteur de codes-barres a été reconfiguré.<o:p></o:p></p><p class=MsoNormal>Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.<o:p></o:p></p></div></body></html>
"##,
        expect: Validate,
    },
    Case {
        what: "Outlook web HTML, fr, REFUSER with divRplyFwdMsg",
        html: true,
        text: r##"<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><style type="text/css" style="display:none;"> P {margin-top:0;margin-bottom:0;} </style></head><body dir="ltr"><div style="font-family: Calibri, Arial, Helvetica, sans-serif; font-size: 12pt; color: rgb(0, 0, 0);">REFUSER : le poste ne voit toujours pas l&#39;imprimante du 2e étage</div><div style="font-family: Calibri, Arial, Helvetica, sans-serif; font-size: 12pt; color: rgb(0, 0, 0);"><br></div><div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" color="#000000"><b>De :</b> Support informatique &lt;support@mairie-exemple.fr&gt;<br><b>Envoyé :</b> lundi 30 novembre 2026 10:12<br><b>À :</b> Archives &lt;archives@mairie-exemple.fr&gt;<br><b>Objet :</b> [#1081] Imprimante du 2e étage</font><div>&nbsp;</div></div><div><div>Bonjour,<br><br>L&#39;imprimante a été ajoutée à votre poste.<br><br>Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.</div></div></body></html>
"##,
        expect: Refuse("2e étage"),
    },
    Case {
        what: "Outlook desktop HTML, fr, OK mais ... ne marche toujours pas: a refusal, whatever its first word",
        html: true,
        text: r##"<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body lang=FR link="#0563C1" vlink="#954F72"><div class=WordSection1><p class=MsoNormal>OK mais le micro ne marche toujours pas en visio.<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Benoît<o:p></o:p></p><div id="divRplyFwdMsg" dir="ltr"><hr style="display:inline-block;width:98%" tabindex="-1"><font face="Calibri, sans-serif" color="#000000" style="font-size:11pt"><b>De :</b> Support informatique &lt;support@univ-exemple.fr&gt;<br><b>Envoyé :</b> lundi 30 novembre 2026 10:12<br><b>À :</b> Benoît Marchand &lt;benoit.marchand@univ-exemple.fr&gt;<br><b>Objet :</b> [#1082] Casque en visio</font><div>&nbsp;</div></div><p class=MsoNormal>Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.<o:p></o:p></p></div></body></html>
"##,
        expect: Refuse("micro"),
    },
    Case {
        what: "Gmail HTML, fr, Merci ! only",
        html: true,
        text: r##"<div dir="ltr">Merci !</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">Le lun. 30 nov. 2026 à 10:12, Support informatique &lt;<a href="mailto:support@example.test">support@example.test</a>&gt; a écrit&nbsp;:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.</blockquote></div>
"##,
        expect: Undecided,
    },
    Case {
        what: "Gmail HTML, fr, greeting then Ça ne marche toujours pas",
        html: true,
        text: r##"<div dir="ltr"><div>Bonjour,</div><div><br></div><div>Ça ne marche toujours pas, l&#39;écran reste noir après la mise en veille.</div><div><br></div><div>Cordialement,</div><div>Romain</div></div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">Le lun. 30 nov. 2026 à 10:12, Support informatique &lt;<a href="mailto:support@univ-exemple.fr">support@univ-exemple.fr</a>&gt; a écrit&nbsp;:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">Bonjour,<br><br>La carte graphique a été mise à jour.<br><br>Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.</blockquote></div>
"##,
        expect: Refuse("reste noir"),
    },
    Case {
        what: "Gmail HTML, fr, Validé with gmail_signature",
        html: true,
        text: r##"<div dir="ltr">Validé<br clear="all"><div><br></div><span class="gmail_signature_prefix">-- </span><br><div dir="ltr" class="gmail_signature" data-smartmail="gmail_signature"><div dir="ltr">Jeanne Martin<br>Service état civil<br>Mairie d&#39;Exemple</div></div></div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">Le lun. 30 nov. 2026 à 10:12, Support informatique &lt;<a href="mailto:support@mairie-exemple.fr">support@mairie-exemple.fr</a>&gt; a écrit&nbsp;:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.</blockquote></div>
"##,
        expect: Validate,
    },
    Case {
        what: "Gmail HTML, en, It works now, thanks!",
        html: true,
        text: r##"<div dir="ltr"><div>Hi,</div><div><br></div><div>It works now, thanks!</div><div><br></div><div>Sam</div></div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Nov 30, 2026 at 10:12 AM IT Support &lt;<a href="mailto:support@example.test">support@example.test</a>&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">Hello,<br><br>We have renewed the certificate on your laptop.<br><br>Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.</blockquote></div>
"##,
        expect: Validate,
    },
    Case {
        what: "Outlook desktop HTML, en, Still not working, border-top separator",
        html: true,
        text: r##"<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body lang=EN-US link="#0563C1" vlink="#954F72"><div class=WordSection1><p class=MsoNormal>Still not working &#8211; the printer shows offline on my laptop.<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Regards,<o:p></o:p></p><p class=MsoNormal>Peter<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><div><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in"><p class=MsoNormal><b>From:</b> IT Support &lt;support@example.test&gt; <br><b>Sent:</b> Monday, November 30, 2026 10:12 AM<br><b>To:</b> Peter Hall &lt;peter.hall@example.test&gt;<br><b>Subject:</b> [#2240] Printer offline<o:p></o:p></p></div></div><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.<o:p></o:p></p></div></body></html>
"##,
        expect: Refuse("offline"),
    },
    Case {
        what: "Outlook web HTML, en, OK, but I still can't print",
        html: true,
        text: r##"<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body dir="ltr"><div class="elementToProof" style="font-family: Aptos, Aptos_EmbeddedFont, Aptos_MSFontService, Calibri, Helvetica, sans-serif; font-size: 12pt; color: rgb(0, 0, 0);">OK, but I still can&#39;t print from Excel.</div><div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" color="#000000"><b>From:</b> IT Support &lt;support@example.test&gt;<br><b>Sent:</b> Monday, November 30, 2026 10:12<br><b>To:</b> Olivia Brown &lt;olivia.brown@example.test&gt;<br><b>Subject:</b> [#2241] Printing from Office</font><div>&nbsp;</div></div><div>Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.</div></body></html>
"##,
        expect: Undecided,
    },
    Case {
        what: "Outlook desktop HTML, en, only the quoted history says ACCEPT",
        html: true,
        text: r##"<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body lang=EN-GB link="#0563C1" vlink="#954F72"><div class=WordSection1><p class=MsoNormal>Hi,<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>I&#8217;m forwarding this to my manager, she will confirm.<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>James<o:p></o:p></p><div><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class=MsoNormal><b>From:</b> IT Support &lt;support@example.test&gt; <br><b>Sent:</b> 30 November 2026 10:12<br><b>To:</b> James Wright &lt;james.wright@example.test&gt;<br><b>Subject:</b> [#2242] Access to the HR folder<o:p></o:p></p></div></div><p class=MsoNormal>Hello,<o:p></o:p></p><p class=MsoNormal>Access has been granted.<o:p></o:p></p><p class=MsoNormal>Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.<o:p></o:p></p></div></body></html>
"##,
        expect: Undecided,
    },
    Case {
        what: "Apple Mail HTML, en, Fixed, thank you!",
        html: true,
        text: r##"<html aria-label="message body"><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head><body style="overflow-wrap: break-word; -webkit-nbsp-mode: space; line-break: after-white-space;">Fixed, thank you!<div><br></div><div>Anna<br id="lineBreakAtBeginningOfMessage"><div><br><blockquote type="cite"><div>On 30 Nov 2026, at 10:12, IT Support &lt;support@example.test&gt; wrote:</div><br class="Apple-interchange-newline"><div><div>Hello,<br><br>Your mailbox rules have been restored.<br><br>Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.<br></div></div></blockquote></div><br></div></body></html>
"##,
        expect: Validate,
    },
    Case {
        what: "Gmail HTML, en, bottom-posted REFUSE under the gmail_quote",
        html: true,
        text: r##"<div dir="ltr"><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Nov 30, 2026 at 10:12 AM IT Support &lt;<a href="mailto:support@example.test">support@example.test</a>&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">Reply ACCEPT if the problem is solved, or REFUSE followed by what is wrong.</blockquote></div><div><br></div><div>REFUSE: the headset is still not detected by Teams.</div><div><br></div><div>Leo</div></div>
"##,
        expect: Refuse("headset"),
    },
    Case {
        what: "Outlook desktop HTML, fr, Problème résolu with signature table",
        html: true,
        text: r##"<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body lang=FR link="#0563C1" vlink="#954F72"><div class=WordSection1><p class=MsoNormal>Bonjour,<o:p></o:p></p><p class=MsoNormal>Problème résolu, merci à vous.<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><table class=MsoNormalTable border=0 cellspacing=0 cellpadding=0><tr><td><p class=MsoNormal><b>Étienne Faure</b><br>Direction des systèmes d&#8217;information<br>Université d&#8217;Exemple<o:p></o:p></p></td></tr></table><div><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class=MsoNormal><b>De&nbsp;:</b> Support informatique &lt;support@univ-exemple.fr&gt; <br><b>Envoyé&nbsp;:</b> lundi 30 novembre 2026 10:12<br><b>À&nbsp;:</b> Faure Étienne &lt;etienne.faure@univ-exemple.fr&gt;<br><b>Objet&nbsp;:</b> [#1083] Certificat du serveur web<o:p></o:p></p></div></div><p class=MsoNormal>Répondez VALIDER si le problème est résolu, ou REFUSER suivi de ce qui ne va pas.<o:p></o:p></p></div></body></html>
"##,
        expect: Validate,
    },
];

fn policy() -> guichet::ticket::policy::Policy {
    let config = r#"
[database]
url = "sqlite:///tmp/unused.db"
[imap]
host = "127.0.0.1"
tls = "none"
username = "support@example.test"
password = "x"
[smtp]
host = "127.0.0.1"
tls = "none"
from = "support@example.test"
[tickets]
agent_notify = ["sau@example.test"]
"#;
    guichet::config::Settings::parse(config)
        .expect("valid settings")
        .policy()
}

#[test]
fn every_answer_reads_as_a_person_would() {
    assert!(CASES.len() >= 80);
    let policy = policy();
    let mut wrong = Vec::new();
    for case in CASES {
        let text = if case.html {
            inbound::html_to_text(case.text)
        } else {
            case.text.to_string()
        };
        let body = quote::strip(&text);
        let got = decision_in(&body, &policy);
        let ok = match (case.expect, &got) {
            (Validate, Some(Decided::Validate)) => true,
            (Refuse(part), Some(Decided::Refuse(why))) => why.contains(part),
            (Undecided, None) => true,
            _ => false,
        };
        if !ok {
            wrong.push(format!(
                "{}: expected {:?}, got {:?}\n  body read: {:?}",
                case.what, case.expect, got, body
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} answers misread:\n{}",
        wrong.len(),
        CASES.len(),
        wrong.join("\n")
    );
}

#[test]
fn html_with_nothing_above_its_quote_keeps_its_whole_text() {
    // A forward with nothing written: the quote is all there is.
    let html = r#"<div class="gmail_quote"><div class="gmail_attr">---------- Forwarded message ---------</div><div>The printer on floor 2 is offline.</div></div>"#;
    assert!(inbound::html_to_new_text(html).contains("printer on floor 2"));
    // Bold headers as html2text writes them start the history.
    let text = inbound::html_to_text("<p>Merci</p><p><b>De :</b> Support<br><b>Envoyé :</b> lundi<br><b>À :</b> Léa<br><b>Objet :</b> [#12] Paie</p><p>note interne</p>");
    assert_eq!(quote::strip(&text).trim(), "Merci");
}

/// Replies after closure, as the text reaches the rules (quotes and
/// signature stripped): courtesy (recorded on the closed ticket, nothing
/// more) or not (a new ticket, or the ticket reopened).
const AFTER_CLOSURE: &[(&str, &str, bool)] = &[
    ("Thunderbird, fr", "Merci", true),
    ("iPhone, fr", "Merci beaucoup !", true),
    (
        "Outlook, fr, with a name",
        "Merci Marc, bonne journée",
        true,
    ),
    (
        "Outlook, fr, greeting and sign-off",
        "Bonjour,\n\nMerci pour votre aide.\n\nJeanne",
        true,
    ),
    ("Gmail, fr", "Super, merci pour la rapidité !", true),
    ("Android, fr", "Ok merci", true),
    ("Outlook web, fr", "C'est noté, merci.", true),
    (
        "Apple Mail, fr",
        "Parfait, encore merci et bonne fin de journée.",
        true,
    ),
    ("Gmail, fr, ça marche", "Ça marche, merci !", true),
    (
        "Outlook, fr, pas de souci",
        "Pas de souci, merci à vous.",
        true,
    ),
    ("Thunderbird, fr, the keyword again", "VALIDER", true),
    (
        "iPhone, fr, the keyword again with thanks",
        "Validé ok merci",
        true,
    ),
    ("Outlook, fr, formal", "Bien reçu, cordialement.", true),
    ("Gmail, fr, weekend", "Merci et bon week-end !", true),
    ("Gmail, en", "Thanks!", true),
    ("Outlook, en", "Thank you so much, have a nice day.", true),
    ("iPhone, en", "Great, thanks John", true),
    ("Gmail, en, no worries", "No worries, cheers", true),
    (
        "Outlook, en, got it",
        "Got it, thanks again.\n\nPeter",
        true,
    ),
    (
        "Apple Mail, en",
        "Perfect, many thanks for the quick fix!",
        true,
    ),
    ("Thunderbird, en, ACCEPT again", "ACCEPT", true),
    ("Outlook, en, noted", "Noted, kind regards", true),
    // Not courtesy: something happens again, or something new.
    (
        "Gmail, fr, but",
        "Merci, mais l'imprimante est de nouveau hors ligne.",
        false,
    ),
    (
        "Outlook, fr, new request",
        "Merci ! Au fait, pouvez-vous aussi installer Teams ?",
        false,
    ),
    ("iPhone, fr, it broke again", "Ça ne marche plus", false),
    ("Android, fr, refusal keyword", "REFUSER", false),
    (
        "Outlook, fr, problem back",
        "Bonjour, le problème est revenu ce matin.",
        false,
    ),
    (
        "Gmail, fr, name then a problem",
        "Merci Marc. Imprimante HS",
        false,
    ),
    (
        "Gmail, en, but",
        "Thanks, but it stopped working again this morning",
        false,
    ),
    (
        "Outlook, en, new question",
        "Thanks! Could you also reset my VPN password?",
        false,
    ),
    ("iPhone, en, not working", "Not working", false),
    (
        "Outlook, en, long thanks with a request",
        "Thank you for your help.\nAlso, my colleague cannot log in.",
        false,
    ),
    (
        "Outlook, fr, many lines",
        "Merci\nMerci\nMerci\nMerci\nMerci",
        false,
    ),
    (
        "Gmail, fr, a word hidden among thanks",
        "merci merci merci panne merci",
        false,
    ),
    ("empty", "", false),
    ("only a name", "Jeanne", false),
];

#[test]
fn courtesy_after_closure_is_told_apart_from_a_new_problem() {
    assert!(AFTER_CLOSURE.len() >= 30);
    let policy = policy();
    let wrong: Vec<String> = AFTER_CLOSURE
        .iter()
        .filter(|(_, text, courtesy)| {
            guichet::ticket::answer::is_courtesy(text, &policy.validate_keywords) != *courtesy
        })
        .map(|(what, text, courtesy)| format!("{what}: {text:?} expected courtesy={courtesy}"))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} misread:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// The examples the README gives, read as it says.
#[test]
fn the_readme_examples_read_as_the_readme_says() {
    let policy = policy();
    let validate = [
        "VALIDER",
        "Validé !",
        "Je valide, merci",
        "C'est bon",
        "Ça marche",
        "Problème résolu",
        "OK merci",
        "It works now, thanks!",
        "Fixed",
        "Bonjour Marc,\n\nC'est bon",
    ];
    let refuse = [
        "REFUSER : toujours hors ligne",
        "Je refuse",
        "Je ne valide pas",
        "Ça ne marche toujours pas",
        "Non, l'écran reste noir",
        "Still not working",
        "OK mais le micro ne marche toujours pas",
    ];
    let undecided = [
        "OK mais l'écran clignote encore",
        "OK je regarde demain",
        "Je n'ai pas encore pu tester",
        "VALIDER REFUSER",
        "Merci !",
        "C'est bon pour vous si je teste lundi ?",
    ];
    for text in validate {
        assert_eq!(
            decision_in(text, &policy),
            Some(Decided::Validate),
            "{text}"
        );
    }
    for text in refuse {
        assert!(
            matches!(decision_in(text, &policy), Some(Decided::Refuse(_))),
            "{text}"
        );
    }
    for text in undecided {
        assert_eq!(decision_in(text, &policy), None, "{text}");
    }
}
