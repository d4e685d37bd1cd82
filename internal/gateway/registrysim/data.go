package registrysim

// municipality is a real Belgian municipality: its name in the language of its people, the
// postal code of its main locality, its NIS (Statbel) code, and the language of the civil
// registry ("bxl" for Brussels, French or Dutch by household).
type municipality struct {
	name, postalCode, nisCode, lang string
	weight                          int // relative size, for drawing addresses
}

var municipalities = []municipality{
	{"Bruxelles", "1000", "21004", "bxl", 8},
	{"Anderlecht", "1070", "21001", "bxl", 5},
	{"Ixelles", "1050", "21009", "bxl", 4},
	{"Schaerbeek", "1030", "21015", "bxl", 5},
	{"Uccle", "1180", "21016", "bxl", 4},
	{"Etterbeek", "1040", "21005", "bxl", 2},
	{"Molenbeek-Saint-Jean", "1080", "21012", "bxl", 4},
	{"Woluwe-Saint-Lambert", "1200", "21018", "bxl", 2},
	{"Saint-Gilles", "1060", "21013", "bxl", 2},
	{"Forest", "1190", "21007", "bxl", 2},
	{"Namur", "5000", "92094", "fr", 5},
	{"Liège", "4000", "62063", "fr", 7},
	{"Charleroi", "6000", "52011", "fr", 8},
	{"Mons", "7000", "53053", "fr", 4},
	{"Tournai", "7500", "57081", "fr", 3},
	{"Verviers", "4800", "63079", "fr", 2},
	{"Seraing", "4100", "62096", "fr", 3},
	{"Mouscron", "7700", "54007", "fr", 2},
	{"Arlon", "6700", "81001", "fr", 1},
	{"Wavre", "1300", "25112", "fr", 1},
	{"Ottignies-Louvain-la-Neuve", "1340", "25121", "fr", 1},
	{"Nivelles", "1400", "25072", "fr", 1},
	{"Waterloo", "1410", "25110", "fr", 1},
	{"Dinant", "5500", "91034", "fr", 1},
	{"Huy", "4500", "61031", "fr", 1},
	{"Bastogne", "6600", "82003", "fr", 1},
	{"Antwerpen", "2000", "11002", "nl", 12},
	{"Gent", "9000", "44021", "nl", 8},
	{"Leuven", "3000", "24062", "nl", 4},
	{"Brugge", "8000", "31005", "nl", 4},
	{"Mechelen", "2800", "12025", "nl", 3},
	{"Kortrijk", "8500", "34022", "nl", 3},
	{"Oostende", "8400", "35013", "nl", 2},
	{"Aalst", "9300", "41002", "nl", 3},
	{"Genk", "3600", "71016", "nl", 3},
	{"Sint-Niklaas", "9100", "46021", "nl", 3},
	{"Roeselare", "8800", "36015", "nl", 2},
	{"Turnhout", "2300", "13040", "nl", 2},
	{"Halle", "1500", "23027", "nl", 2},
	{"Vilvoorde", "1800", "23088", "nl", 2},
	{"Ieper", "8900", "33011", "nl", 1},
	{"Lier", "2500", "12021", "nl", 2},
	{"Dendermonde", "9200", "42006", "nl", 2},
	{"Eupen", "4700", "63023", "de", 2},
	{"Sankt Vith", "4780", "63067", "de", 1},
	{"Kelmis", "4720", "63040", "de", 1},
}

// foreignPlaces are birth places abroad, for the few people born outside Belgium.
var foreignPlaces = []Place{
	{Municipality: "Lille", Country: "FR"},
	{Municipality: "Paris", Country: "FR"},
	{Municipality: "Maastricht", Country: "NL"},
	{Municipality: "Aachen", Country: "DE"},
	{Municipality: "Luxembourg", Country: "LU"},
	{Municipality: "Kinshasa", Country: "CD"},
}

// names of one language community.
type names struct {
	men, women, surnames, streets []string
}

var byLanguage = map[string]names{
	"fr": {
		men: []string{"Jean", "Pierre", "Michel", "André", "Philippe", "Luc", "Marc", "Christian", "Alain", "Jacques",
			"Olivier", "Nicolas", "Julien", "Thomas", "Maxime", "Antoine", "Louis", "Hugo", "Arthur", "Noah",
			"Victor", "Benoît", "Quentin", "Guillaume", "Mathieu", "François", "Didier", "Raphaël"},
		women: []string{"Marie", "Anne", "Isabelle", "Nathalie", "Christine", "Catherine", "Martine", "Monique", "Sophie", "Julie",
			"Céline", "Aurélie", "Camille", "Laura", "Manon", "Emma", "Louise", "Chloé", "Léa", "Alice",
			"Élise", "Sarah", "Charlotte", "Françoise", "Véronique", "Valérie", "Juliette", "Zoé"},
		surnames: []string{"Dubois", "Lambert", "Martin", "Dupont", "Simon", "Laurent", "Leclercq", "Lejeune", "Renard", "Dumont",
			"Denis", "François", "Lemaire", "Collard", "Mathieu", "Leroy", "Gérard", "Henrard", "Piette", "Dethier",
			"Fontaine", "Noël", "Hubert", "Lecomte", "Masson", "Bodart", "Gilson", "Delvaux", "Wauters", "Bertrand"},
		streets: []string{"Rue de la Station", "Rue de l'Église", "Rue du Moulin", "Avenue des Tilleuls", "Rue Haute",
			"Rue Saint-Martin", "Chaussée de Bruxelles", "Rue des Écoles", "Avenue de la Gare", "Rue du Château",
			"Place communale", "Rue de la Fontaine", "Rue des Champs", "Boulevard de la Meuse", "Rue Neuve"},
	},
	"nl": {
		men: []string{"Jan", "Peter", "Luc", "Marc", "Dirk", "Johan", "Koen", "Tom", "Bart", "Wim",
			"Stijn", "Pieter", "Jeroen", "Wouter", "Thomas", "Lucas", "Arne", "Jonas", "Lars", "Noah",
			"Mathis", "Jef", "Frans", "Jozef", "Willem", "Ruben", "Kobe", "Senne"},
		women: []string{"Maria", "An", "Els", "Katrien", "Sofie", "Lies", "Hilde", "Inge", "Veerle", "Griet",
			"Annelies", "Elke", "Lotte", "Julie", "Marie", "Emma", "Lore", "Fien", "Nina", "Hanne",
			"Febe", "Lien", "Ann", "Greet", "Leen", "Margriet", "Ine", "Jana"},
		surnames: []string{"Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters", "De Smet",
			"Vermeulen", "Van den Broeck", "Pauwels", "Hermans", "Aerts", "De Vos", "Verstraeten", "Claeys", "Van Damme", "De Clercq",
			"Smets", "Michiels", "Stevens", "Desmet", "Van Hecke", "Lambrechts", "Declercq", "Van de Velde", "Vandenberghe", "Verhoeven"},
		streets: []string{"Stationsstraat", "Kerkstraat", "Dorpsstraat", "Molenstraat", "Schoolstraat", "Nieuwstraat",
			"Kapelstraat", "Lindelaan", "Beekstraat", "Veldstraat", "Kasteelstraat", "Bergstraat", "Markt",
			"Brugstraat", "Hoogstraat"},
	},
	"de": {
		men: []string{"Josef", "Peter", "Johann", "Hubert", "Klaus", "Michael", "Stefan", "Andreas", "Thomas", "Jürgen",
			"Lukas", "Jonas", "Leon", "Tim", "Niklas", "Paul", "Felix", "Elias", "Ben", "Matthias"},
		women: []string{"Maria", "Anna", "Elisabeth", "Gertrud", "Monika", "Sabine", "Claudia", "Andrea", "Petra", "Martina",
			"Lena", "Laura", "Lea", "Sarah", "Hannah", "Mia", "Sophie", "Julia", "Katharina", "Theresa"},
		surnames: []string{"Schmitz", "Kessler", "Heinen", "Lentz", "Mreyen", "Kirch", "Cremer", "Fickers", "Thomas", "Schröder",
			"Jousten", "Hilgers", "Zimmermann", "Klinkenberg", "Margraff", "Pankert", "Wintgens", "Hoffmann", "Meyer", "Kohnen"},
		streets: []string{"Bahnhofstraße", "Kirchstraße", "Hauptstraße", "Schulstraße", "Lindenallee", "Bergstraße",
			"Marktplatz", "Mühlenweg", "Neustraße", "Gospertstraße", "Aachener Straße", "Wiesenweg"},
	},
}
