"""Small general-English word lists used by the false-hit guard.

They encode *kinds* of meaning change that embeddings are blind to (polarity, opposites,
quantity, time, scope, question type), not the contents of any evaluation file. Every list is
general vocabulary; extend them for a domain rather than tuning them to a test set.
"""

from __future__ import annotations

__all__ = [
    "ANTONYM_GROUPS",
    "DATE_WORDS",
    "FILLER_WORDS",
    "FUNCTION_WORDS",
    "NEGATION_PREFIXES",
    "NEGATIVE_PREDICATES",
    "NEGATORS",
    "NUMBER_WORDS",
    "PERSON_WORDS",
    "RELATION_WORDS",
    "SCOPE_GROUPS",
    "SYNONYM_GROUPS",
    "WH_CLASSES",
]


def _split(text: str) -> list[str]:
    return text.split()


def _w(text: str) -> frozenset[str]:
    return frozenset(_split(text))


# Words that flip the polarity of what follows.
NEGATORS: frozenset[str] = _w(
    """not no never none nobody nothing nowhere neither nor without cannot cant dont doesnt didnt
    wont isnt arent wasnt werent shouldnt wouldnt couldnt havent hasnt hadnt mustnt neednt aint
    n't"""
)

# Predicates whose meaning is "the negative of" a neutral verb/adjective (stems after light
# normalisation). A polarity-count mismatch between two texts is a meaning change.
NEGATIVE_PREDICATES: frozenset[str] = _w(
    """avoid stop quit cease ban banned bar barred prohibit prohibited forbid forbidden forbade
    prevent refuse refused deny denied reject rejected exclude excluded lack fail failed unable
    illegal unlawful unsafe invalid disallow disallowed inadequate ineligible impossible
    unavailable unpaid absence absent missing lacking deprecated obsolete discontinued"""
)

# Prefixes that negate a word: "subscribe"/"unsubscribe", "member"/"non-member".
NEGATION_PREFIXES: tuple[str, ...] = ("un", "non-", "non", "in", "im", "il", "ir", "dis", "anti", "mis", "de")

# Pairs (or small families) of opposites. A word of one side only in one text and a word of
# the other side only in the other text means the question changed.
ANTONYM_GROUPS: tuple[tuple[frozenset[str], frozenset[str]], ...] = tuple(
    (_w(a), _w(b))
    for a, b in (
        ("open opening opened", "close closed closing shut"),
        ("on", "off"),
        ("in", "out"),
        ("login log-in signin sign-in", "logout log-out signout sign-out"),
        ("increase raise raising increasing higher grow", "decrease reduce lower lowering decreasing cut shrink"),
        ("more", "less fewer"),
        ("high", "low"),
        ("max maximum", "min minimum"),
        ("most", "least"),
        ("before prior", "after"),
        ("above over exceed exceeding", "below under"),
        ("early earlier earliest", "late later latest"),
        ("first", "last final"),
        ("start begin beginning starting", "end ending finish"),
        ("arrive arrival arriving", "depart departure leave leaving"),
        ("buy buying purchase", "sell selling sale"),
        ("import", "export"),
        ("upload", "download"),
        ("send sending sent", "receive receiving received"),
        ("add adding", "remove removing delete deleting"),
        ("enable enabling activate", "disable disabling deactivate"),
        ("include including inclusive", "exclude excluding exclusive"),
        ("allow allowed permit permitted", "ban banned forbid forbidden prohibit prohibited"),
        ("accept accepted", "reject rejected decline declined"),
        ("pass", "fail"),
        ("win won", "lose lost"),
        ("benefit benefits advantage advantages pro pros upside", "drawback disadvantage con cons downside risk"),
        ("improve boost", "damage worsen harm hurt"),
        ("good", "bad"),
        ("best", "worst"),
        ("better", "worse"),
        ("safe", "dangerous unsafe"),
        ("legal lawful lawfully legally", "illegal unlawful unlawfully illegally"),
        ("cheap cheaper cheapest", "expensive dearer"),
        ("fast faster fastest quick", "slow slower slowest"),
        ("hot warm", "cold cool"),
        ("full-time fulltime", "part-time parttime"),
        ("inside internal indoor", "outside external outdoor"),
        ("lend lending", "borrow borrowing"),
        ("deposit", "withdraw withdrawal"),
        ("debit", "credit"),
        ("income", "expense expenses"),
        ("positive", "negative"),
        ("true", "false"),
        ("yes", "no"),
        ("right", "wrong left"),
        ("north northern", "south southern"),
        ("east eastern", "west western"),
        ("day daytime", "night nighttime"),
        ("morning", "evening afternoon night"),
        ("weekday weekdays", "weekend weekends"),
        ("public", "private"),
        ("new", "old used"),
        ("young", "old elderly"),
        ("big large", "small little"),
        ("long", "short"),
        ("easy", "hard difficult"),
        ("married", "single unmarried divorced"),
        ("employed", "unemployed self-employed"),
        ("permanent", "temporary"),
        ("domestic", "international abroad"),
        ("online", "offline in-store"),
        ("adult adults", "child children kid kids minor minors teenager"),
        ("man men male", "woman women female"),
        ("husband", "wife"),
        ("parent parents", "child children"),
        ("landlord", "tenant renter"),
        ("employer", "employee"),
        ("buyer", "seller"),
        ("borrower", "lender"),
        ("sender", "recipient"),
        ("lock", "unlock"),
        ("encrypt", "decrypt"),
        ("connect", "disconnect"),
        ("join", "leave"),
        ("hire", "fire"),
        ("up", "down"),
        ("upstairs", "downstairs"),
        ("with", "without"),
        ("member members", "non-member non-members nonmember"),
    )
)

# Groups of near-synonyms in everyday questions. Words of one group explain each other.
SYNONYM_GROUPS: tuple[frozenset[str], ...] = tuple(
    _w(g)
    for g in (
        "start begin commence",
        "change update modify edit amend alter",
        "make submit file lodge",
        "get obtain receive",
        "buy purchase",
        "need require must necessary",
        "help assist support",
        "fix repair mend",
        "find locate",
        "show display",
        "use utilise utilize employ",
        "give provide offer supply furnish",
        "cancel terminate end",
        "delete remove erase",
        "cost price fee charge",
        "shipping delivery postage",
        "parcel package",
        "ask request",
        "phone call ring telephone",
        "contact reach",
        "create set-up setup",
        "allowed permitted",
        "big large",
        "quick fast rapid",
        "author wrote writer written",
        "hours time",
        "reset recover",
    )
)

NUMBER_WORDS: dict[str, str] = {
    w: str(i)
    for i, w in enumerate(
        _split(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
            "sixteen seventeen eighteen nineteen twenty"
        )
    )
} | {
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "sixty": "60",
    "seventy": "70",
    "eighty": "80",
    "ninety": "90",
    "hundred": "100",
    "thousand": "1000",
    "million": "1000000",
    "billion": "1000000000",
    "dozen": "12",
    "half": "0.5",
    "quarter": "0.25",
    "twice": "2",
    "third": "3rd",
    "fourth": "4th",
    "fifth": "5th",
    "single": "1",
}

# Calendar and time words: a different set means a different date or time.
DATE_WORDS: frozenset[str] = _w(
    """monday tuesday wednesday thursday friday saturday sunday weekend weekday
    january february march april june july august september october november december
    today tomorrow yesterday tonight morning afternoon evening night midnight noon midday
    spring summer autumn winter christmas easter
    daily weekly fortnightly monthly quarterly yearly annually annual hourly
    am pm this next last previous current upcoming past"""
)

# Scope words: each group is one kind of restriction.
SCOPE_GROUPS: dict[str, frozenset[str]] = {
    "all": _w("all every each entire whole everyone everything everybody"),
    "only": _w("only solely exclusively alone"),
    "except": _w("except excluding besides apart"),
    "some": _w("partial partly"),
    "other": _w("else someone somebody"),
    "both": _w("both"),
}

# Third-person references (whose question is it?). "it"/"they" are left out: too generic.
PERSON_WORDS: frozenset[str] = _w("he she him his her hers himself herself")

# Words whose following noun has a role (direction, comparison).
RELATION_WORDS: frozenset[str] = _w("from to into than versus vs between onto toward towards")

# Question-type classes. "what"/"which" are generic and compatible with every class.
WH_CLASSES: dict[str, str] = {
    "who": "person",
    "whom": "person",
    "whose": "person",
    "where": "place",
    "when": "time",
    "why": "reason",
    "how many": "quantity",
    "how much": "quantity",
    "how long": "duration",
    "how often": "frequency",
    "how old": "age",
    "how far": "distance",
    "what time": "time",
    "what date": "time",
    "what day": "time",
    "which day": "time",
}

# Function words: never "content" (their change alone does not change the answer).
FUNCTION_WORDS: frozenset[str] = _w(
    """a an the and or but if then so as at by for of to in on with about into onto over under from up
    down out off i me my mine we us our ours you your yours it its they them their theirs this that these
    those there here is am are was were be been being do does did doing done have has had having can
    could should would will shall may might must what which who whom whose when where why how
    please thanks thank hi hello hey just also too very really quite any some such own
    i'd i'm i've i'll you're you've we're we've it's that's what's where's who's how's there's
    want like would'd way able tell know let lets let's much many kind sort sorts thing things
    get got go going come coming need needs possible anything something okay ok s
    um uh er erm hmm yeah yes so well oh available usually normally typically generally actually
    basically exactly currently still stay"""
)

# Greetings, fillers and sign-offs around a question ("Hi team,", "Quick question,", "Cheers").
FILLER_WORDS: frozenset[str] = _w(
    """hi hiya hey hello morning afternoon evening dear team sorry bother quick question silly
    just wondering wonder thanks thank cheers advance many much please one all everyone folks
    you to but in so um uh er erm yeah ok okay"""
)
