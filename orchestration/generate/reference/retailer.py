"""The retailer's own vocabulary: its e-mail domain, the product catalogue and brand names, and
what customers write to it (survey verbatims, service ticket subjects)."""

from __future__ import annotations

RETAILER_DOMAIN = "batterie-et-co.fr"

# Universe -> categories: (category, nouns, qualifiers, variants, min price, max price)
UNIVERSES: dict[str, list[tuple[str, list[str], list[str], list[str], float, float]]] = {
    "ustensiles": [
        (
            "couteaux",
            ["Couteau d'office", "Couteau de chef", "Couteau à pain", "Couteau santoku"],
            ["inox", "damassé", "forgé", "céramique"],
            ["9 cm", "15 cm", "20 cm", "23 cm"],
            12,
            180,
        ),
        (
            "poêles et casseroles",
            ["Poêle", "Sauteuse", "Casserole", "Wok", "Faitout"],
            ["inox", "fonte", "cuivre", "anti-adhésive", "tôle d'acier"],
            ["20 cm", "24 cm", "28 cm", "32 cm"],
            19,
            240,
        ),
        (
            "petits ustensiles",
            ["Spatule", "Fouet", "Louche", "Écumoire", "Pince", "Zesteur"],
            ["silicone", "inox", "bois d'olivier", "hêtre"],
            ["", "pro", "XL"],
            4,
            35,
        ),
        (
            "découpe",
            ["Planche à découper", "Mandoline", "Hachoir", "Ciseaux de cuisine"],
            ["bambou", "hêtre", "inox", "polyéthylène"],
            ["", "grand modèle", "compact"],
            9,
            90,
        ),
    ],
    "cuisine pratique": [
        (
            "conservation",
            ["Boîte de conservation", "Bocal", "Pot hermétique", "Sac congélation"],
            ["verre", "inox", "plastique recyclé"],
            ["0,5 L", "1 L", "1,5 L", "lot de 3"],
            5,
            45,
        ),
        (
            "pâtisserie",
            [
                "Moule à manqué",
                "Moule à cake",
                "Moule à tarte",
                "Cercle à pâtisserie",
                "Poche à douille",
                "Rouleau à pâtisserie",
            ],
            ["silicone", "acier", "porcelaine"],
            ["18 cm", "24 cm", "28 cm", ""],
            6,
            60,
        ),
        (
            "petit électroménager",
            [
                "Balance de cuisine",
                "Mixeur plongeant",
                "Batteur",
                "Robot pâtissier",
                "Bouilloire",
                "Cafetière",
            ],
            ["électronique", "inox", "compact"],
            ["", "1000 W", "édition limitée"],
            19,
            650,
        ),
        (
            "linge",
            ["Tablier", "Torchon", "Gant de cuisine", "Manique"],
            ["lin", "coton bio", "lavé"],
            ["rayé", "uni", "à carreaux"],
            6,
            40,
        ),
    ],
    "épicerie fine": [
        (
            "huiles et vinaigres",
            ["Huile d'olive", "Vinaigre balsamique", "Huile de noix", "Vinaigre de cidre"],
            ["vierge extra", "AOP", "bio"],
            ["25 cl", "50 cl", "75 cl"],
            5,
            38,
        ),
        (
            "épices",
            ["Piment d'Espelette", "Poivre de Kampot", "Fleur de sel", "Safran", "Curry de Madras"],
            ["bio", "AOP", "moulu", "en grains"],
            ["40 g", "100 g"],
            3,
            30,
        ),
        (
            "sucré",
            ["Confiture", "Pâte à tartiner", "Caramel au beurre salé", "Miel", "Chocolat noir"],
            ["artisanal", "bio", "70 %"],
            ["250 g", "370 g"],
            4,
            18,
        ),
        (
            "thés et cafés",
            ["Thé vert", "Thé noir", "Café en grains", "Infusion"],
            ["bio", "pure origine", "parfumé"],
            ["100 g", "250 g", "1 kg"],
            6,
            42,
        ),
    ],
    "enfants": [
        (
            "pâtisserie enfants",
            ["Kit pâtisserie enfant", "Moule ludique", "Emporte-pièces"],
            ["animaux", "licorne", "dinosaures"],
            ["", "lot de 6"],
            7,
            35,
        ),
        (
            "ustensiles enfants",
            ["Couteau enfant", "Tablier enfant", "Toque", "Set de cuisine enfant"],
            ["coloré", "bois", "silicone"],
            ["3-6 ans", "6-12 ans"],
            6,
            40,
        ),
    ],
    "livres de cuisine": [
        (
            "livres",
            [
                "Le grand livre de la pâtisserie",
                "Cuisine du monde",
                "Cuisine végétarienne",
                "Recettes express",
                "Les bases de la cuisine",
                "Cuisine de saison",
            ],
            ["", "édition illustrée", "poche"],
            ["", "tome 2"],
            9,
            49,
        ),
    ],
}

BRAND_SYLLABLES_A = [
    "Vau",
    "Sar",
    "Mer",
    "Bel",
    "Cour",
    "Lan",
    "Rou",
    "Fon",
    "Mont",
    "Val",
    "Char",
    "Bou",
    "Lou",
    "Gra",
    "Pey",
    "Ros",
    "Del",
    "Mau",
    "Ber",
    "Cha",
]
BRAND_SYLLABLES_B = [
    "bel",
    "rade",
    "tin",
    "vière",
    "nac",
    "gès",
    "lard",
    "ville",
    "mont",
    "lier",
    "ot",
    "aud",
    "iac",
    "elle",
    "ain",
    "oux",
    "ard",
    "enne",
    "in",
    "eau",
]

# Survey verbatim vocabulary per theme: (positive phrases, negative phrases).
# The KPI marts' theme dictionary (a later dbt seed) must recognise these words without being
# keyed to them: every phrase uses everyday vocabulary for its theme.
VERBATIM_THEMES: dict[str, tuple[list[str], list[str]]] = {
    "attente": (
        ["Pas d'attente en caisse, c'était rapide.", "Passage en caisse très rapide."],
        [
            "Trop d'attente en caisse, 20 minutes !",
            "File d'attente interminable, une seule caisse ouverte.",
            "Temps d'attente beaucoup trop long au téléphone.",
        ],
    ),
    "livraison": (
        ["Livraison rapide, colis bien emballé.", "Reçu en 48h, parfait."],
        [
            "Livraison en retard de 5 jours.",
            "Colis arrivé abîmé, livreur pas aimable.",
            "Toujours pas livré ; aucune nouvelle du transporteur.",
        ],
    ),
    "retrait": (
        ["Retrait en magasin simple et rapide.", "Commande prête à l'heure ; retrait en 2 minutes."],
        [
            "Commande pas prête au retrait alors que j'avais reçu le SMS.",
            "Retrait en magasin compliqué, personne ne trouvait ma commande.",
        ],
    ),
    "prix": (
        ["Bons prix, promotions intéressantes.", "Rapport qualité/prix excellent."],
        ["Prix trop élevés ; la concurrence est moins chère.", "Trop cher pour ce que c'est."],
    ),
    "accueil": (
        [
            "Vendeuse très accueillante et de bon conseil.",
            "Personnel souriant, accueil chaleureux.",
        ],
        ["Accueil froid ; vendeur pas aimable.", "Personne pour nous conseiller en rayon."],
    ),
    "qualité produit": (
        [
            "Produit de très bonne qualité, je recommande.",
            "Ma poêle est parfaite, qualité au rendez-vous.",
        ],
        [
            "Produit de mauvaise qualité, cassé au bout d'une semaine.",
            "Revêtement qui s'abîme vite, déçue.",
        ],
    ),
    "site web": (
        ["Site internet clair et facile.", "Commande sur le site très simple."],
        [
            "Site web lent, paiement refusé deux fois.",
            "Impossible de me connecter à mon compte sur le site.",
        ],
    ),
    "service client": (
        [
            "Service client efficace, problème réglé au premier appel.",
            "Conseillère au chat très réactive.",
        ],
        [
            "Service client injoignable ; j'ai dû rappeler trois fois.",
            "Toujours pas remboursé, personne ne répond.",
        ],
    ),
}
EMOJIS_POSITIVE = ["😊", "👍", "❤️", "🙂", "👌"]
EMOJIS_NEGATIVE = ["😡", "🙄", "👎", "😤", "😞"]

SERVICE_CATEGORIES: list[tuple[str, str, int]] = [
    ("delivery", "Où en est ma livraison ?", 25),
    ("pickup", "Retrait de ma commande en magasin", 15),
    ("refund", "Demande de remboursement", 15),
    ("product", "Produit défectueux", 20),
    ("loyalty", "Points de fidélité non crédités", 10),
    ("account", "Problème de connexion au compte", 8),
    ("other", "Question sur un produit", 7),
]
