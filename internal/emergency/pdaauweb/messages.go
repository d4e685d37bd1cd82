package pdaauweb

// t returns the message key in lang, French when lang has none, "" for "".
func t(lang, key string) string {
	if key == "" {
		return ""
	}
	if m, ok := messages[lang][key]; ok {
		return m
	}
	if m, ok := messages["fr"][key]; ok {
		return m
	}
	return ""
}

var messages = map[string]map[string]string{
	"fr": {
		"skip": "Aller au contenu", "nav": "Navigation", "account": "Compte", "logout": "Se déconnecter", "switch": "English",
		"list.title": "Tables de routage (PDAAU)", "list.lead": "Les départements dont vous pouvez modifier ou approuver le plan départemental d'acheminement des appels d'urgence.",
		"list.caption": "Départements", "list.none": "Aucun département ne vous est attribué. Demandez un rôle à un administrateur.",
		"col.dep": "Département", "col.communes": "Communes", "col.current": "Version en vigueur", "col.since": "En vigueur depuis",
		"col.pending": "Brouillons en attente", "col.scheduled": "Publications programmées", "col.rights": "Vos droits",
		"version": "version", "role.editor": "rédaction", "role.approver": "approbation",
		"dep.title": "Département", "dep.current": "Version en vigueur", "dep.effective": "en vigueur depuis le", "rows": "lignes",
		"dep.nocurrent": "Aucune version n'est en vigueur pour ce département.",
		"dep.upload":    "Déposer une nouvelle version", "dep.upload.help": "Le fichier doit contenir la table complète du département : une ligne par commune et par numéro court. Si une seule ligne est fausse, rien n'est enregistré et toutes les erreurs sont listées.",
		"dep.file": "Fichier CSV du PDAAU", "dep.file.help": "En-tête : insee,number,routing_number (séparateur virgule ou point-virgule).",
		"dep.send": "Déposer et vérifier", "dep.fromcurrent": "Créer un brouillon à partir de la version en vigueur",
		"dep.history": "Historique des versions", "dep.history.caption": "Toutes les versions, la plus récente en premier", "dep.nohistory": "Aucune version.",
		"col.state": "État", "col.source": "Origine", "col.created": "Créée par", "col.approved": "Approuvée par", "col.effective": "Date d'effet",
		"col.editors": "Rédacteurs", "col.published": "Publiée par", "col.restores": "Rétablit",
		"state.draft": "brouillon", "state.approved": "approuvée", "state.published": "publiée", "state.discarded": "abandonnée", "state.current": "en vigueur",
		"problems.count": "erreurs.", "problems.nothing": "Rien n'a été enregistré : corrigez le fichier et déposez-le de nouveau.",
		"problems.caption": "Erreurs, avec leur ligne dans le fichier", "col.line": "Ligne", "col.field": "Colonne", "col.problem": "Erreur",
		"error": "Action impossible", "back": "Retour aux tables de routage",
		"err.internal": "Une erreur interne s'est produite ; elle a été journalisée. Réessayez dans un instant.",
		"err.notfound": "Cette page n'existe pas.", "err.forbidden": "Vos rôles ne vous permettent pas cette action sur ce département.",
		"err.nofile": "Choisissez un fichier CSV à déposer.", "err.noactive": "Aucune version n'est en vigueur : déposez d'abord une table complète.",
		"err.form": "Le formulaire envoyé est illisible ou trop gros.", "err.state": "Cette version n'est plus dans un état qui permet cette action (quelqu'un l'a peut-être déjà traitée).",
		"err.foureyes": "Vous avez rédigé ou modifié cette version : une autre personne doit l'approuver.",
		"err.past":     "La date d'effet est passée : choisissez maintenant ou une date à venir.", "err.date": "La date d'effet est mal formée.",
		"done.uploaded": "Le fichier est valide : il est enregistré comme brouillon. Vérifiez les changements ci-dessous puis faites-le approuver.",
		"done.drafted":  "Brouillon créé à partir de la version en vigueur.", "done.saved": "Brouillon enregistré.",
		"done.approved": "Version approuvée : elle peut être publiée.", "done.published": "Version publiée : les opérateurs concernés sont prévenus.",
		"done.restored": "La version antérieure est publiée de nouveau.", "done.discarded": "Version abandonnée.",
		"version.title": "Version", "version.csv": "télécharger en CSV", "version.actions": "Actions",
		"action.approve": "Approuver", "action.publish": "Publier", "action.restore": "Publier de nouveau (retour à cette version)", "action.discard": "Abandonner",
		"version.foureyes":  "Vous avez rédigé ou modifié ce brouillon : une autre personne ayant le rôle d'approbation doit l'approuver.",
		"version.effective": "Date et heure d'effet (heure de Paris)", "version.effective.help": "Laissez la valeur proposée pour une entrée en vigueur immédiate.",
		"version.noaction": "Aucune action ne vous est ouverte sur cette version.",
		"diff.title":       "Changements par rapport à la version en vigueur", "diff.count": "changements : communes dont le centre change pour un numéro.",
		"diff.caption": "Communes et numéros dont le centre change", "diff.old": "Centre actuel", "diff.new": "Nouveau centre", "diff.none": "Aucun changement par rapport à la version en vigueur.",
		"col.commune": "Commune", "col.number": "Numéro", "col.routing": "Numéro d'acheminement", "col.psap": "Centre",
		"rows.title": "Lignes de la table", "rows.caption": "Une ligne par commune et par numéro court",
		"rows.edit.help": "Modifiez les numéros d'acheminement puis enregistrez : la table entière est vérifiée.", "rows.save": "Enregistrer le brouillon",
	},
	"en": {
		"skip": "Skip to content", "nav": "Navigation", "account": "Account", "logout": "Sign out", "switch": "Français",
		"list.title": "Routing tables (PDAAU)", "list.lead": "The départements whose emergency call routing plan you may edit or approve.",
		"list.caption": "Départements", "list.none": "No département is assigned to you. Ask an administrator for a role.",
		"col.dep": "Département", "col.communes": "Communes", "col.current": "Version in effect", "col.since": "In effect since",
		"col.pending": "Pending drafts", "col.scheduled": "Scheduled publications", "col.rights": "Your rights",
		"version": "version", "role.editor": "editing", "role.approver": "approval",
		"dep.title": "Département", "dep.current": "Version in effect", "dep.effective": "in effect since", "rows": "rows",
		"dep.nocurrent": "No version is in effect for this département.",
		"dep.upload":    "Upload a new version", "dep.upload.help": "The file must hold the département's whole table: one row per commune and short number. If a single row is wrong, nothing is saved and every error is listed.",
		"dep.file": "PDAAU CSV file", "dep.file.help": "Header: insee,number,routing_number (comma or semicolon separated).",
		"dep.send": "Upload and check", "dep.fromcurrent": "Start a draft from the version in effect",
		"dep.history": "Version history", "dep.history.caption": "Every version, newest first", "dep.nohistory": "No version.",
		"col.state": "State", "col.source": "Source", "col.created": "Created by", "col.approved": "Approved by", "col.effective": "Effective",
		"col.editors": "Editors", "col.published": "Published by", "col.restores": "Restores",
		"state.draft": "draft", "state.approved": "approved", "state.published": "published", "state.discarded": "discarded", "state.current": "in effect",
		"problems.count": "errors.", "problems.nothing": "Nothing was saved: correct the file and upload it again.",
		"problems.caption": "Errors, with their line in the file", "col.line": "Line", "col.field": "Column", "col.problem": "Error",
		"error": "Cannot do this", "back": "Back to the routing tables",
		"err.internal": "An internal error occurred; it was logged. Try again in a moment.",
		"err.notfound": "This page does not exist.", "err.forbidden": "Your roles do not allow this on this département.",
		"err.nofile": "Choose a CSV file to upload.", "err.noactive": "No version is in effect: upload a complete table first.",
		"err.form": "The form sent is unreadable or too large.", "err.state": "This version is no longer in a state that allows this (someone may have handled it already).",
		"err.foureyes": "You wrote or edited this version: another person must approve it.",
		"err.past":     "The effective date is in the past: choose now or a date to come.", "err.date": "The effective date is malformed.",
		"done.uploaded": "The file is valid: it is saved as a draft. Check the changes below, then have it approved.",
		"done.drafted":  "Draft started from the version in effect.", "done.saved": "Draft saved.",
		"done.approved": "Version approved: it can be published.", "done.published": "Version published: the operators concerned are notified.",
		"done.restored": "The earlier version is published again.", "done.discarded": "Version discarded.",
		"version.title": "Version", "version.csv": "download as CSV", "version.actions": "Actions",
		"action.approve": "Approve", "action.publish": "Publish", "action.restore": "Publish again (roll back to this version)", "action.discard": "Discard",
		"version.foureyes":  "You wrote or edited this draft: another person with the approval role must approve it.",
		"version.effective": "Effective date and time (Paris time)", "version.effective.help": "Keep the proposed value for immediate effect.",
		"version.noaction": "No action is open to you on this version.",
		"diff.title":       "Changes against the version in effect", "diff.count": "changes: communes whose centre changes for a number.",
		"diff.caption": "Communes and numbers whose centre changes", "diff.old": "Current centre", "diff.new": "New centre", "diff.none": "No change against the version in effect.",
		"col.commune": "Commune", "col.number": "Number", "col.routing": "Routing number", "col.psap": "Centre",
		"rows.title": "Table rows", "rows.caption": "One row per commune and short number",
		"rows.edit.help": "Change routing numbers, then save: the whole table is checked.", "rows.save": "Save the draft",
	},
}
