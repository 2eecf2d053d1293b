"""Word lists for synthetic organizations: people, teams and companies."""

from __future__ import annotations

__all__ = ["COMPANIES", "FIRST_NAMES", "LAST_NAMES", "TEAM_NAMES"]

FIRST_NAMES: tuple[str, ...] = (
    "Aaliyah", "Abebe", "Ada", "Aditi", "Ahmed", "Aiko", "Alejandro", "Amara", "Ana", "Andrei",
    "Anika", "Arjun", "Astrid", "Ayesha", "Beatriz", "Benjamin", "Bilal", "Camila", "Carlos",
    "Chen", "Chioma", "Daniel", "Dmitri", "Elena", "Elif", "Emeka", "Emma", "Fatima", "Felix",
    "Freya", "Gabriel", "Grace", "Hana", "Hannah", "Hiroshi", "Ibrahim", "Ines", "Ingrid", "Isaac",
    "Ivan", "Jae", "James", "Javier", "Jia", "Jonas", "Kai", "Kavya", "Kenji", "Kwame", "Lars",
    "Layla", "Leila", "Liam", "Lucia", "Mahmoud", "Maria", "Mateo", "Maya", "Mei", "Miguel",
    "Mohammed", "Nadia", "Naomi", "Nikolai", "Noa", "Nora", "Olga", "Omar", "Oren", "Pablo",
    "Priya", "Rafael", "Ravi", "Rina", "Rohan", "Sakura", "Samuel", "Sara", "Sofia", "Tal",
    "Tariq", "Thandiwe", "Tomas", "Uma", "Valentina", "Wei", "Yael", "Yusuf", "Zainab", "Zoe",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Abadi", "Adeyemi", "Alvarez", "Andersen", "Bauer", "Ben-David", "Bianchi", "Chen", "Cohen",
    "Costa", "Dubois", "Eriksson", "Fernandes", "Fischer", "Garcia", "Goldberg", "Gupta", "Haddad",
    "Hansen", "Hernandez", "Ivanova", "Jensen", "Kapoor", "Kim", "Kowalski", "Kumar", "Levi",
    "Lindqvist", "Lopez", "Mendes", "Mizrahi", "Moreau", "Muller", "Nakamura", "Nguyen", "Novak",
    "Okafor", "Olsen", "Patel", "Peretz", "Petrov", "Rossi", "Sato", "Schmidt", "Shapiro", "Silva",
    "Singh", "Suzuki", "Tanaka", "Torres", "Van Dijk", "Wagner", "Wang", "Weiss", "Wong",
    "Yamamoto", "Yilmaz", "Zhang",
)  # fmt: skip

TEAM_NAMES: tuple[str, ...] = (
    "Platform", "Payments", "Mobile", "Web Frontend", "Backend", "Data Engineering",
    "Machine Learning",
    "Infrastructure", "Security", "QA", "Developer Experience", "Billing", "Search", "Growth",
    "Identity", "Integrations", "Observability", "Core API", "Analytics", "Design Systems",
    "Checkout", "Notifications", "Release Engineering", "Storage", "Networking", "Firmware",
    "Compliance", "Internal Tools", "Customer Success Engineering", "Localization",
)  # fmt: skip

COMPANIES: tuple[str, ...] = (
    "Northwind Labs", "Bluefin Robotics", "Cedar Analytics", "Helix Payments", "Quartz Systems",
    "Lumen Health", "Orbital Freight", "Saffron Software", "Tidewater Energy", "Vireo Games",
)  # fmt: skip
