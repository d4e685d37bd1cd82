package visio

// t returns the message key in lang, French otherwise.
func t(lang, key string) string {
	if m, ok := messages[lang][key]; ok {
		return m
	}
	return messages["fr"][key]
}

// messages are the pages' words; the room page's script gets its language's set.
var messages = map[string]map[string]string{
	"fr": {
		"title": "Webconférence de l'État", "skip": "Aller au contenu", "switch": "English",
		"home.lead": "Tapez le nom d'une salle, ou prenez le nom proposé, difficile à deviner.",
		"home.room": "Nom de la salle", "home.help": "Lettres minuscules, chiffres, tirets (64 au plus).",
		"home.go": "Rejoindre", "home.agent": "Connecté : vous ouvrez la salle en y entrant.",
		"home.guest":  "Les salles sont ouvertes par des agents connectés (ou munis d'un jeton) ; les invités entrent avec le lien d'invitation qu'un agent leur transmet.",
		"home.signin": "Se connecter",
		"room.name":   "Votre nom", "room.password": "Mot de passe de la salle (si elle est verrouillée)",
		"room.enter": "Entrer dans la salle", "room.participants": "Participants", "room.chat": "Discussion",
		"room.to": "Destinataire", "room.everyone": "Tout le monde", "room.message": "Message", "room.send": "Envoyer",
		"room.invite": "Copier le lien d'invitation", "room.invite.label": "Lien d'invitation (valable 24 h)",
		"room.hand": "Lever la main", "room.hand.down": "Baisser la main", "room.leave": "Quitter",
		"room.moderation": "Modération", "room.lock": "Verrouiller avec ce mot de passe", "room.unlock": "Déverrouiller",
		"room.lockpw": "Mot de passe", "room.lobby": "Salle d'attente pour les invités", "room.muteall": "Couper tous les micros",
		"room.end": "Terminer la réunion pour tous", "room.admit": "Admettre", "room.refuse": "Refuser",
		"room.kick": "Retirer", "room.mute": "Couper le micro", "room.grant": "Nommer modérateur",
		"room.moderator": "modérateur", "room.guest": "invité", "room.you": "vous",
		"st.connecting": "Connexion…", "st.in": "Vous êtes dans la salle.", "st.wait": "Vous êtes en salle d'attente : un modérateur va vous admettre.",
		"st.locked": "La salle est verrouillée.", "st.unlocked": "La salle n'est plus verrouillée.",
		"st.lobby.on": "Salle d'attente activée.", "st.lobby.off": "Salle d'attente désactivée.",
		"st.knock": "frappe à la porte", "st.muted": "Un modérateur vous demande de couper votre micro.",
		"st.kicked": "Un modérateur vous a retiré de la réunion.", "st.refused": "Un modérateur n'a pas admis votre entrée.",
		"st.ended": "La réunion est terminée ; la discussion a été effacée.", "st.closed": "Connexion perdue.",
		"st.copied": "Lien copié.", "st.joined": "est entré", "st.left": "est parti", "st.hand": "lève la main",
		"err.wrong-password": "Mot de passe incorrect : la salle est verrouillée.", "err.room-full": "La salle est pleine.",
		"err.ended": "La réunion est terminée.", "err.bad-name": "Indiquez votre nom (80 caractères au plus).",
		"err.room-not-found":          "Cette réunion n'a pas commencé : un agent doit d'abord ouvrir la salle.",
		"err.authentication-required": "Connectez-vous, ou utilisez le lien d'invitation qu'un agent vous a transmis.",
		"err.invitation-refused":      "Ce lien d'invitation n'est pas valable (expiré ou pour une autre salle).",
		"err.token":                   "Le jeton d'accès est refusé (expiré, ou pour une autre salle).", "err.refused": "Action refusée",
	},
	"en": {
		"title": "Web conference of the State", "skip": "Skip to content", "switch": "Français",
		"home.lead": "Type a room name, or take the proposed one, hard to guess.",
		"home.room": "Room name", "home.help": "Lower-case letters, digits, dashes (64 at most).",
		"home.go": "Join", "home.agent": "Signed in: you open the room by entering it.",
		"home.guest":  "Rooms are opened by signed-in agents (or token holders); guests enter with the invitation link an agent sends them.",
		"home.signin": "Sign in",
		"room.name":   "Your name", "room.password": "Room password (if it is locked)",
		"room.enter": "Enter the room", "room.participants": "Participants", "room.chat": "Chat",
		"room.to": "To", "room.everyone": "Everyone", "room.message": "Message", "room.send": "Send",
		"room.invite": "Copy the invitation link", "room.invite.label": "Invitation link (valid 24 h)",
		"room.hand": "Raise hand", "room.hand.down": "Lower hand", "room.leave": "Leave",
		"room.moderation": "Moderation", "room.lock": "Lock with this password", "room.unlock": "Unlock",
		"room.lockpw": "Password", "room.lobby": "Lobby for guests", "room.muteall": "Mute everyone",
		"room.end": "End the meeting for all", "room.admit": "Admit", "room.refuse": "Refuse",
		"room.kick": "Remove", "room.mute": "Mute", "room.grant": "Make moderator",
		"room.moderator": "moderator", "room.guest": "guest", "room.you": "you",
		"st.connecting": "Connecting…", "st.in": "You are in the room.", "st.wait": "You are in the lobby: a moderator will let you in.",
		"st.locked": "The room is locked.", "st.unlocked": "The room is no longer locked.",
		"st.lobby.on": "Lobby enabled.", "st.lobby.off": "Lobby disabled.",
		"st.knock": "is knocking", "st.muted": "A moderator asks you to mute your microphone.",
		"st.kicked": "A moderator removed you from the meeting.", "st.refused": "A moderator did not let you in.",
		"st.ended": "The meeting has ended; the chat was erased.", "st.closed": "Connection lost.",
		"st.copied": "Link copied.", "st.joined": "joined", "st.left": "left", "st.hand": "raises a hand",
		"err.wrong-password": "Wrong password: the room is locked.", "err.room-full": "The room is full.",
		"err.ended": "The meeting has ended.", "err.bad-name": "Give your name (80 characters at most).",
		"err.room-not-found":          "This meeting has not started: an agent must open the room first.",
		"err.authentication-required": "Sign in, or use the invitation link an agent sent you.",
		"err.invitation-refused":      "This invitation link is not valid (expired, or for another room).",
		"err.token":                   "The access token is refused (expired, or for another room).", "err.refused": "Refused",
	},
}
