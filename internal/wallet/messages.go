package wallet

import "socle/internal/web"

// messages are the wallet's words.
var messages = web.Catalog{
	"fr": {
		"index.title": "Mes documents", "index.lead": "Les documents que les sources authentiques de l'État tiennent pour vous, lus à l'instant. Ajoutez-les à l'application de portefeuille de votre téléphone.",
		"index.none": "Aucune source ne tient de document pour vous.", "index.caption": "Documents disponibles",
		"doc.pid": "Identité (données d'identification de la personne)", "doc.birth": "Acte de naissance", "doc.marriage": "Acte de mariage",
		"fact.name": "Nom", "fact.birth": "Naissance", "fact.address": "Adresse", "fact.marriage": "Mariage",
		"fact.nrn":      "Numéro de registre national",
		"error":         "Documents indisponibles",
		"err.nocitizen": "Votre compte n'est lié à aucun numéro de registre national : vos documents ne peuvent pas être cherchés.",
		"err.sources":   "Les sources authentiques ne répondent pas pour le moment. Réessayez dans un instant.",
	},
	"en": {
		"index.title": "My documents", "index.lead": "The documents the State's authentic sources hold for you, read just now. Add them to the wallet app of your phone.",
		"index.none": "No source holds a document for you.", "index.caption": "Documents available",
		"doc.pid": "Identity (person identification data)", "doc.birth": "Birth certificate", "doc.marriage": "Marriage certificate",
		"fact.name": "Name", "fact.birth": "Birth", "fact.address": "Address", "fact.marriage": "Marriage",
		"fact.nrn":      "National register number",
		"error":         "Documents unavailable",
		"err.nocitizen": "Your account is linked to no national register number: your documents cannot be looked up.",
		"err.sources":   "The authentic sources do not answer at the moment. Try again in a moment.",
	},
}
