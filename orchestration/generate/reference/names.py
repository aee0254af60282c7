"""Person names: Faker's fr_FR first and last names, compound first names, nicknames and the
other ways a first name gets typed (``Noise.first_name``)."""

from __future__ import annotations

from faker.providers.person.fr_FR import Provider as FrenchNames

FIRST_NAMES_MALE: list[str] = list(FrenchNames.first_names_male)
FIRST_NAMES_FEMALE: list[str] = list(FrenchNames.first_names_female)
LAST_NAMES: list[str] = list(
    FrenchNames.last_names.keys() if isinstance(FrenchNames.last_names, dict) else FrenchNames.last_names
)

COMPOUND_MALE = [
    "Jean-Pierre",
    "Jean-Paul",
    "Jean-Marc",
    "Jean-Luc",
    "Jean-Claude",
    "Jean-François",
    "Jean-Michel",
    "Jean-Philippe",
    "Jean-Christophe",
    "Pierre-Louis",
    "Paul-Henri",
    "Louis-Marie",
]
COMPOUND_FEMALE = [
    "Marie-Claire",
    "Marie-Christine",
    "Marie-Hélène",
    "Anne-Sophie",
    "Anne-Laure",
    "Marie-Laure",
    "Marie-Pierre",
    "Anne-Marie",
    "Marie-France",
    "Marie-Thérèse",
    "Anne-Claire",
    "Marie-Noëlle",
]

NICKNAMES = {
    "Catherine": "Cathy",
    "Christophe": "Chris",
    "Nicolas": "Nico",
    "Alexandre": "Alex",
    "Frédéric": "Fred",
    "Stéphanie": "Steph",
    "Isabelle": "Isa",
    "Dominique": "Dom",
    "Valérie": "Val",
    "Benjamin": "Ben",
    "Maxime": "Max",
    "Thomas": "Tom",
    "Véronique": "Véro",
    "Élisabeth": "Babeth",
    "Sébastien": "Seb",
    "Raphaël": "Raph",
    "Mathieu": "Matt",
    "Caroline": "Caro",
    "Charlotte": "Charlie",
    "Emmanuel": "Manu",
    "Emmanuelle": "Manue",
    "Jacqueline": "Jackie",
    "Patricia": "Patty",
    "Christine": "Titine",
    "Guillaume": "Guigui",
    "Alexandra": "Alex",
    "Philippe": "Phil",
    "Bernard": "Nanard",
    "Daniel": "Dany",
}

# More first-name variants, typed instead of the first name (``--realism``, ``Noise.first_name``):
# French nicknames and spellings of names the population draws (Faker's fr_FR lists and the
# compound names above). ``NICKNAMES`` is left as it was so that ``--realism 0`` reproduces the
# generator before this table; a name in both gets its new variants here.
FIRST_NAME_VARIANTS: dict[str, tuple[str, ...]] = {
    # spellings: the same first name written another way
    "Margaux": ("Margot", "Margaud"),
    "Margot": ("Margaux",),
    "Margaud": ("Margaux", "Margot"),
    "Thibault": ("Thibaut",),
    "Thibaut": ("Thibault",),
    "Matthieu": ("Mathieu", "Matt"),
    "Michèle": ("Michelle",),
    "Michelle": ("Michèle",),
    "Noémi": ("Noémie",),
    "Zoé": ("Zoë",),
    "Rémy": ("Rémi",),
    "Henri": ("Henry",),
    "Corinne": ("Corine",),
    "Christelle": ("Christèle",),
    "Suzanne": ("Susanne", "Suzon"),
    "Laetitia": ("Lætitia", "Létitia"),
    "Élisabeth": ("Elizabeth", "Élisa"),
    "Anne": ("Anna", "Annie"),
    "Timothée": ("Timothé", "Tim"),
    # nicknames
    "Thomas": ("Tommy",),
    "Richard": ("Rich",),
    "Mathilde": ("Mathou",),
    "Joséphine": ("Jo", "Fifine"),
    "Joseph": ("Jo", "Jojo"),
    "Benoît": ("Ben",),
    "Stéphane": ("Steph",),
    "Jérôme": ("Jéjé",),
    "Julien": ("Juju",),
    "Juliette": ("Juju",),
    "Patrick": ("Pat",),
    "Patricia": ("Pat",),
    "Gérard": ("Gégé",),
    "Thierry": ("Titi",),
    "Michel": ("Michou",),
    "Xavier": ("Xav",),
    "Gabriel": ("Gaby",),
    "Gabrielle": ("Gaby",),
    "Maurice": ("Momo",),
    "Robert": ("Bob",),
    "Vincent": ("Vince",),
    "François": ("Fanfan",),
    "Françoise": ("Fanfan",),
    "Victor": ("Vic",),
    "Louis": ("Loulou",),
    "William": ("Willy",),
    "Grégoire": ("Greg",),
    "Laurent": ("Lolo",),
    "Frédéric": ("Fredo",),
    "Frédérique": ("Fred",),
    "Catherine": ("Cathie", "Catou"),
    "Christine": ("Cricri",),
    "Dominique": ("Domi",),
    "Camille": ("Cam",),
    "Nathalie": ("Nath",),
    "Madeleine": ("Mado",),
    "Marguerite": ("Maguy",),
    "Antoinette": ("Toinette",),
    "Danielle": ("Dany",),
    "Jacqueline": ("Jacky",),
    "Marie-Thérèse": ("Maïté",),
    "Anne-Sophie": ("Anne-So",),
    "Jean-Michel": ("Jean-Mi",),
    "Jean-Pierre": ("JP",),
}
