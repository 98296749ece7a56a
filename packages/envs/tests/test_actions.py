"""Action matching: case, spacing, underscores and aliases map to names; nothing else does."""

from __future__ import annotations

from automem_envs import ActionVocabulary, normalize_action
from hypothesis import given
from hypothesis import strategies as st

NAMES = ["noop", "move west", "place table", "make wood pickaxe", "far north", "0", "esc"]
VOCAB = ActionVocabulary(NAMES, {"left": "move west", "craft table": "place table", "x": "nope"})


def _spell(name: str, data: st.DataObject) -> str:
    out = []
    for ch in name:
        if ch == " ":
            out.append(data.draw(st.sampled_from([" ", "_", "-", "  ", " _ "])))
        else:
            out.append(ch.upper() if data.draw(st.booleans()) else ch)
    pad = data.draw(st.sampled_from(["", " ", "\t", "\n"]))
    return pad + "".join(out) + pad


@given(st.sampled_from([n for n in NAMES if len(n) > 1]), st.data())
def test_any_spelling_of_a_name_matches_it(name, data):
    assert VOCAB.match(_spell(name, data)) == name


@given(st.text(max_size=30))
def test_matches_are_always_vocabulary_names(text):
    found = VOCAB.match(text)
    assert found is None or found in NAMES


def test_aliases_and_misses():
    assert VOCAB.match("LEFT") == "move west"
    assert VOCAB.match("Craft_Table.") == "place table"
    assert VOCAB.match('"noop"') == "noop"
    assert VOCAB.match("x") is None  # an alias to an unknown action is dropped
    assert VOCAB.match("move westward") is None
    assert VOCAB.match("") is None
    assert normalize_action(" F ") == "F"  # single keys keep their case
    assert "esc" in VOCAB and len(VOCAB) == len(NAMES)
