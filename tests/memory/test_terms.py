"""What a text is made of for the team's memory: one pure function, every script alike."""

from nephthys.memory import terms
from nephthys.memory.similar import MIN_SCORE, first_line, similarity


def test_words_are_case_folded_cut_to_their_stem_and_stopwords_dropped():
    assert terms.terms("Is the deadline EXTENDED?") == ["deadl", "exten"]
    assert terms.terms("the deadlines were extensions") == ["deadl", "exten"]


def test_code_and_error_strings_keep_their_identifiers_and_numbers():
    assert terms.terms('It says {"error": "invalid_token"}') == [
        "says",
        "error",
        "invalid_token",
        "inval",
        "token",
    ]
    assert terms.terms("Output:\tstatus=failed\tcode=137") == ["outpu", "statu", "faile", "code", "137"]


def test_scripts_without_spaces_give_character_pairs_without_particles():
    assert terms.terms("提交后项目消失了") == ["提交", "交后", "后项", "项目", "目消", "消失", "失了"]
    japanese = terms.terms("プロジェクトの審査状況を教えてください")
    assert "審査" in japanese and "ください" not in japanese and "くだ" not in japanese


def test_cyrillic_arabic_and_devanagari_words_stay_whole():
    assert terms.terms("Здравствуйте! Мой заказ всё ещё не отправлен.") == ["заказ", "отпра"]
    # The article and the varying letters (hamza, ta marbuta) are unified.
    assert terms.terms("لم أتلقَّ المنحة بعد") == ["اتلق", "منحه"]
    # Devanagari's vowel signs are part of their word.
    assert terms.terms("मेरे घंटे डैशबोर्ड पर नहीं दिख रहे हैं") == ["घंटे", "डैशबो", "दिख"]


def test_emoji_and_greetings_alone_give_nothing():
    assert terms.terms("help 🙏😭 hi!!") == []


def test_texts_and_terms_are_bounded():
    many = " ".join(f"word{n}x" for n in range(1000))
    assert len(terms.terms(many)) == terms.TERM_LIMIT
    assert terms.terms("a " * terms.TEXT_LIMIT + "deadline") == []


def test_a_typo_shares_a_variant_with_the_word():
    assert set(terms.variants("dedli")) & set(terms.variants("deadl"))
    assert (
        similarity(terms.terms("is the dedline extnded"), terms.terms("Is the deadline extended?"))
        >= MIN_SCORE
    )
    assert similarity(terms.terms("where is the venue"), terms.terms("Is the deadline extended?")) == 0


def test_the_tsvector_and_tsquery_literals_quote_what_they_carry():
    literal = terms.tsvector_literal(["it's"], ["back\\slash"])
    assert "'it''s':1A" in literal and "'back\\\\slash'" in literal
    assert terms.tsquery_literal([]) is None
    assert terms.tsquery_literal(["deadl"]).startswith("( 'deadl':A | '~")


def test_a_longer_question_matches_two_of_its_first_terms():
    assert terms.tsquery_two_of(["deadl", "exten"]) == terms.tsquery_literal(["deadl", "exten"])
    three = terms.tsquery_two_of(["deadl", "exten", "summe"])
    assert three.count(" & ") == 3  # (a & b) | (a & c) | (b & c)
    many = terms.tsquery_two_of([f"w{n}xyz" for n in range(30)])
    assert many.count(" & ") == terms.PAIR_TERMS * (terms.PAIR_TERMS - 1) // 2


def test_only_the_first_terms_carry_typo_variants():
    many = [f"w{n:02}xy" for n in range(40)]
    literal = terms.tsvector_literal(many)
    assert "'~w00x'" in literal and "'~w39x'" not in literal and "'w39xy'" in literal


def test_the_first_line_of_an_answer_is_bounded():
    assert first_line("\n  Yes, moved.\nMore") == "Yes, moved."
    assert first_line(None) is None
    assert len(first_line("x" * 500)) == 200
