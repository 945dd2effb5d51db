"""Search on the made-up fixture store and the query building it rests on: vocabulary phrases and words,
stop words, words mixing letters and digits, the steps of the plan, and the order of kinds of code."""

from __future__ import annotations

from datetime import date

import pytest

from hcpcs.core.errors import InvalidInputError
from hcpcs.services import search as search_module
from hcpcs.services.search import kind_class, query_plan, search, service_family, similar, term_groups
from hcpcs.store.session import Hcpcs
from tests.conftest import load_store
from tests.unit import mini_cms


@pytest.fixture(scope="module")
def hc(tmp_path_factory: pytest.TempPathFactory) -> Hcpcs:
    root = tmp_path_factory.mktemp("search")
    return Hcpcs(load_store(root / "home", mini_cms.build(root / "cms")))


def test_vocabulary_loads_with_phrases_words_and_abbreviations() -> None:
    vocab = search_module.vocabulary()
    assert "welcome to medicare" in vocab.phrases and "shot" in vocab.words and "the" in vocab.stop_words
    assert "radj" in vocab.words["radiation"] and vocab.expansions["dlvr"] == ("delivery",)
    assert all(key == key.lower() and "  " not in key for key in vocab.phrases)


def test_term_groups() -> None:
    # A vocabulary phrase is one group; a stop word is dropped; a plural finds its singular's entry.
    groups = term_groups("Welcome to Medicare visit")
    assert groups[0][0] == "welcome to medicare" and "ippe" in groups[0] and groups[1][0] == "visit"
    assert len(term_groups("the knee brace")) == 2
    assert "injection" in term_groups("allergy shots")[1]
    # Letters and digits typed together also match as the descriptors' tokens give them ("b-12": b, 12).
    assert "b 12" in term_groups("b12")[0]
    assert term_groups("the") == [["the"]]  # nothing but stop words: they are searched for


def test_query_plan_steps() -> None:
    plan = query_plan("bone density scan", frequency=lambda expression: 100 if "scan" in expression else 1)
    assert [step for step, _ in plan] == [0, 1, 2, 2]
    assert plan[0][1].startswith('("bone density"') and "*" not in plan[0][1]
    assert "scan" not in plan[2][1]  # the commonest word is the first left out
    assert [step for step, _ in query_plan("wheelchair")] == [0, 1]
    with pytest.raises(InvalidInputError):
        query_plan("¿¡")


def test_kind_classes() -> None:
    day = date(2030, 1, 1)
    assert kind_class("77387", {"in_mpfs": "1", "status": "I"}, day, set(), True) == 0
    assert kind_class("77387", {}, day, set(), True) == 1  # gone from the newest fee schedule
    assert kind_class("G6002", {"in_hcpcs": "1", "termination_date": "2025-12-31"}, day, set(), True) == 1
    assert kind_class("G8598", {"in_hcpcs": "1", "status": "M"}, day, set(), True) == 2
    assert kind_class("3210F", {"in_mpfs": "1"}, day, set(), True) == 2
    assert kind_class("D3432", {"in_hcpcs": "1"}, day, {"guidance"}, True) == 2
    assert kind_class("D3432", {"in_hcpcs": "1"}, day, {"tooth"}, True) == 0
    assert kind_class("TC", {}, day, set(), True) == 2
    assert kind_class("TC", {}, day, {"modifier"}, True) == 0


def test_service_families() -> None:
    assert service_family("99213", None) == "M" and service_family("77387", None) == "P"
    assert service_family("77014", None) == "I" and service_family("80305", None) == "T"
    assert service_family("G6002", "I4B") == "I" and service_family("D3432", None) == "dental"
    assert service_family("3210F", None) == "measurement" and service_family("26", None) == "modifier"
    assert service_family("0001A", None) == "medicine"


def test_procedures_rank_before_modifiers_on_fixtures(hc: Hcpcs) -> None:
    codes = [r["code"] for r in search("made-up", hc=hc)["results"]]
    assert {"Z9990", "Z9991", "Z9992"} <= set(codes)
    assert max(codes.index(c) for c in ("Z9990", "Z9991", "Z9992")) < min(codes.index(c) for c in ("Z1", "ZZ"))
    # Asked for, modifiers come first: every word matches only them.
    assert {r["code"] for r in search("made-up modifier", hc=hc)["results"][:2]} == {"ZZ", "Z1"}


def test_a_word_no_descriptor_uses_does_not_empty_the_answer(hc: Hcpcs) -> None:
    result = search("made-up lab zeppelin", hc=hc)
    assert result["results"] and result["results"][0]["code"] == "Z9992"
    assert search("zeppelin", hc=hc)["results"] == []


def test_similar_on_fixtures(hc: Hcpcs) -> None:
    result = similar("Z9991", hc=hc)
    assert result["code"] == "Z9991" and "family" in result
    assert all(len(s["code"]) == 5 for s in result["similar"])  # no modifiers
