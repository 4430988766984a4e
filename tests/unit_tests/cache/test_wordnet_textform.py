"""WordNet synonyms, spelling correction and unshouting, alone and through the cache."""

from __future__ import annotations

import json

import pytest

from langchain_costrouter.core.cache import CacheScope, ResponseCache, WordLlamaEmbedder
from langchain_costrouter.core.cache.guard import GuardPolicy, synonyms_of, synonyms_with
from langchain_costrouter.core.cache.textform import correct_word, semantic_form, unshout
from langchain_costrouter.core.cache.wordnet import LEXICON_NAME, WordNetLexicon, wordnet
from langchain_costrouter.core.errors import DataError
from langchain_costrouter.core.types import ChatRequest
from langchain_costrouter.core.usage import Usage
from langchain_costrouter.offline.cache_calibration import LabelledPair, calibrate, score_pairs


def test_wordnet_first_senses_only() -> None:
    wn = wordnet()
    assert {"use", "hire"} <= wn.synonyms("employ")
    assert "use" in wn.synonyms("employed")  # through the inflection
    assert {"shop", "store"} <= wn.synonyms("shops") | {"shops"} | wn.synonyms("store")
    assert "challenge" in wn.synonyms("dispute")
    # later senses are left out: "card" is not a "poster", "track" not "cross", "run" not "operate"
    assert "poster" not in wn.synonyms("card")
    assert "cross" not in wn.synonyms("track")
    assert "operate" not in wn.synonyms("run")
    assert "employ" not in wn.synonyms("employ")


def test_wordnet_vocabulary_and_inflections() -> None:
    wn = wordnet()
    assert wn.is_word("evenings") and wn.is_word("Mondays") and not wn.is_word("chnage")
    assert wn.inflected_commonness("owed") > 0 and wn.inflected_commonness("evenings") > 0
    for junk in ("oweed", "optimizees", "makeing"):
        assert wn.inflected_commonness(junk) == 0, junk


def test_wordnet_malformed_data() -> None:
    with pytest.raises(DataError, match="malformed"):
        WordNetLexicon({"synsets": []})


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("How do I chnage the email adress on my acount?", "How do I change the email address on my account?"),
        ("Is there step-free acess at the staion?", "Is there step-free access at the station?"),
        ("whats the baggage allowence", "what's the baggage allowance"),
        ("Recieve the pakage. Wich one?", "Receive the package. Which one?"),
    ],
)
def test_typos_corrected(embedder: WordLlamaEmbedder, typed: str, meant: str) -> None:
    assert semantic_form(typed, embedder.known_word) == meant


@pytest.mark.parametrize(
    "text",
    [
        "Does Revolut support Apple Pay?",  # a name inside a sentence
        "How do I reset my Gmail password? I use HubSpot and ASOS.",
        "Load it with pyarrow or `pyarow` and datasets.Metric",  # jargon, code, identifiers
        "Track order 48213 for SKU-99a",
        "I cant log in and my wifi is down",  # known words are never corrected
        "Hiya, how do I apply?",  # four letters: only swaps and dropped letters
        "¿Cómo cancelo mi suscripción?",  # another language: "cancelo" is not a typo of "cancel"
        "Wie kann ich mein Abonnement kündigen?",
        "Quiero cancelar pedido numero doce",  # ASCII, but mostly not English words
    ],
)
def test_names_jargon_and_known_words_kept(embedder: WordLlamaEmbedder, text: str) -> None:
    assert semantic_form(text, embedder.known_word) == text


def test_unshout() -> None:
    assert unshout("WHAT ARE YOUR DELIVERY OPTIONS TO NORTHERN IRELAND?") == (
        "What are your delivery options to northern ireland?"
    )
    assert unshout("Is the NHS flu jab FREE?") == "Is the NHS flu jab FREE?"
    assert unshout("OK THEN") == "OK THEN"  # too short to be sure
    assert correct_word("pyarrow") is None  # never a different first letter ("yarrow")


def test_policy_lexicon_roundtrip_and_validation() -> None:
    pol = GuardPolicy(lexicon=LEXICON_NAME)
    assert GuardPolicy.from_dict(json.loads(json.dumps(pol.to_dict()))).lexicon == LEXICON_NAME
    assert GuardPolicy.from_dict({"similarity_threshold": 0.7}).lexicon == ""  # older policy files
    with pytest.raises(DataError, match="lexicon"):
        GuardPolicy(lexicon="thesaurus")
    assert "challenge" not in synonyms_with("")("dispute") and synonyms_with("") is synonyms_of
    assert "challenge" in synonyms_with(LEXICON_NAME)("dispute")
    assert synonyms_of("fix") <= synonyms_with(LEXICON_NAME)("fix") | {"fix"}


def test_calibration_records_lexicon(embedder: WordLlamaEmbedder) -> None:
    pairs = [LabelledPair("How do I employ it?", "How do I use it?", True)] * 3
    pairs += [LabelledPair("How do I add money?", "How do I take money out?", False)] * 3
    for lexicon in ("", LEXICON_NAME):
        scored = score_pairs(pairs, embedder, lexicon=lexicon)
        assert {s.lexicon for s in scored} == {lexicon}
        assert calibrate(scored, max_false_hit_rate=0.5, folds=2).policy.lexicon == lexicon


def _scope() -> CacheScope:
    req = ChatRequest(messages=({"role": "user", "content": "x"},), tenant="t")
    return CacheScope.from_request(req, model="m", params={})


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("How do I change the email address on my account?", "How do I chnage the email adress on my acount?"),
        ("What are your delivery options to Northern Ireland?", "WHAT ARE YOUR DELIVERY OPTIONS TO NORTHERN IRELAND?"),
    ],
)
def test_cache_serves_typos_and_shouting(cache: ResponseCache, stored: str, asked: str) -> None:
    """With the shipped policy, a misspelled or shouted repeat is a semantic hit."""
    assert cache.policy.lexicon == LEXICON_NAME
    out = cache.store(_scope(), stored, "the answer", model="m", usage=Usage(1, 1), gate_passed=True)
    assert out.stored
    hit = cache.lookup(_scope(), asked)
    assert hit is not None and hit.kind == "semantic" and hit.cached_query == stored


def test_cache_still_refuses_traps_in_capitals(cache: ResponseCache) -> None:
    cache.store(_scope(), "Can I cancel within the cooling-off period?", "yes", model="m", gate_passed=True)
    assert cache.lookup(_scope(), "CAN I CANCEL AFTER THE COOLING-OFF PERIOD?") is None
    cache.store(_scope(), "How do I upgrade my plan?", "like this", model="m", gate_passed=True)
    assert cache.lookup(_scope(), "How do I downgrade my plan?") is None


def test_cli_defaults_match_core() -> None:
    from langchain_costrouter.cli import cache_cmds
    from langchain_costrouter.offline import cache_calibration as calibration

    assert cache_cmds.DEFAULT_MIN_SIMILARITY == calibration.DEFAULT_MIN_SIMILARITY
    assert cache_cmds.DEFAULT_REPEATS == calibration.DEFAULT_REPEATS


def test_repeats_validated(embedder: WordLlamaEmbedder) -> None:
    pairs = [LabelledPair("How do I employ it?", "How do I use it?", True)] * 3
    pairs += [LabelledPair("How do I add money?", "How do I take money out?", False)] * 3
    with pytest.raises(DataError, match="repeats"):
        calibrate(score_pairs(pairs, embedder), max_false_hit_rate=0.5, repeats=0)


def test_bench_cache_uses_the_encoders_policy() -> None:
    from langchain_costrouter.cli.cache_cmds import _policy
    from langchain_costrouter.core.cache import default_policy

    mini = _policy(None, "minilm-l6-v2-384")
    assert mini == default_policy("minilm-l6-v2-384") and mini != default_policy()
    assert mini.lexicon == LEXICON_NAME  # refitted with this version's features


def test_config_cache_policy_file(tmp_path, embedder: WordLlamaEmbedder) -> None:
    from langchain_costrouter.core.config import CostRouterConfig
    from langchain_costrouter.core.errors import ConfigError

    pairs = [LabelledPair("How do I employ it?", "How do I use it?", True)] * 3
    pairs += [LabelledPair("How do I add money?", "How do I take money out?", False)] * 3
    fitted = calibrate(score_pairs(pairs, embedder), max_false_hit_rate=0.5, folds=2).policy
    (tmp_path / "guard.json").write_text(json.dumps({"policy": fitted.to_dict()}), encoding="utf-8")
    (tmp_path / "costrouter.yaml").write_text(
        "tiers: [{name: t, model: gpt-4o-mini}]\ncache: {enabled: true, dir: c, policy: guard.json}\n", encoding="utf-8"
    )
    cfg = CostRouterConfig.from_yaml(tmp_path / "costrouter.yaml")
    assert cfg.cache.policy == str(tmp_path / "guard.json")  # relative to the config file
    with ResponseCache.from_config(cfg.cache, embedder=embedder) as cache:
        assert cache.policy.verifier == fitted.verifier
    (tmp_path / "guard.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"cache\.policy.*cannot read"):
        ResponseCache.from_config(cfg.cache, embedder=embedder)


def test_reopened_cache_compares_semantic_forms(embedder: WordLlamaEmbedder, tmp_path) -> None:
    """Entries loaded from disk get their semantic form on first use, like stored ones."""
    stored = "How do I change the email address on my account?"
    with ResponseCache(embedder, directory=tmp_path) as cache:
        assert cache.store(_scope(), stored, "answer", model="m", gate_passed=True).stored
    with ResponseCache(embedder, directory=tmp_path) as again:
        hit = again.lookup(_scope(), "How do I chnage the email adress on my acount?")
        assert hit is not None and hit.kind == "semantic" and hit.cached_query == stored
        assert again.lookup(_scope(), "How do I change the phone number on my account?") is None
